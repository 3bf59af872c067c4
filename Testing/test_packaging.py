"""The Slicer packaging stays in step with the code: CMake lists every library file, the .ui names exist."""

import os
import re
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = os.path.join(ROOT, "CTOPlaque")


def test_cmake_installs_every_library_file():
    cmake = open(os.path.join(MODULE, "CMakeLists.txt")).read()
    listed = set(re.findall(r"\$\{MODULE_NAME\}Lib/(\w+\.py)", cmake))
    present = {name for name in os.listdir(os.path.join(MODULE, "CTOPlaqueLib")) if name.endswith(".py")}
    assert listed == present


def test_every_ui_name_the_widget_uses_exists_in_the_ui_file():
    source = open(os.path.join(MODULE, "CTOPlaque.py")).read()
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    tree = ElementTree.parse(os.path.join(MODULE, "Resources", "UI", "CTOPlaque.ui"))
    declared = {widget.get("name"): widget.get("class") for widget in tree.iter("widget")}
    assert used <= set(declared), used - set(declared)
    expected_classes = {"volumeSelector": "qMRMLNodeComboBox", "centerlineSelector": "qMRMLNodeComboBox",
                        "landmarksSelector": "qMRMLNodeComboBox", "resultsTableView": "qMRMLTableView",
                        "analyzeButton": "QPushButton", "exportButton": "QPushButton",
                        "outputDirectoryButton": "ctkDirectoryButton"}
    for name, class_name in expected_classes.items():
        assert declared[name] == class_name


def test_resources_named_in_cmake_exist():
    cmake = open(os.path.join(MODULE, "CMakeLists.txt")).read()
    for resource in re.findall(r"(Resources/\S+)", cmake):
        assert os.path.isfile(os.path.join(MODULE, resource.replace("${MODULE_NAME}", "CTOPlaque")))
