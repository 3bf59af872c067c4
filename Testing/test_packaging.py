"""The Slicer packaging stays in step with the code: CMake lists every library file, the .ui names exist."""

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ["CTOPlaque", "CTOPlaqueStats"]


@pytest.mark.parametrize("module", MODULES)
def test_cmake_installs_every_library_file(module):
    cmake = open(os.path.join(ROOT, module, "CMakeLists.txt"), encoding="utf-8").read()
    listed = set(re.findall(r"\$\{MODULE_NAME\}Lib/(\w+\.py)", cmake))
    present = {name for name in os.listdir(os.path.join(ROOT, module, f"{module}Lib")) if name.endswith(".py")}
    assert listed == present


@pytest.mark.parametrize("module", MODULES)
def test_every_ui_name_the_widget_uses_exists_in_the_ui_file(module):
    source = open(os.path.join(ROOT, module, f"{module}.py"), encoding="utf-8").read()
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    tree = ElementTree.parse(os.path.join(ROOT, module, "Resources", "UI", f"{module}.ui"))
    declared = {widget.get("name"): widget.get("class") for widget in tree.iter("widget")}
    assert used <= set(declared), used - set(declared)
    for name in used:
        suffix_class = {"Selector": "qMRMLNodeComboBox", "TableView": "qMRMLTableView", "Button": None,
                        "DirectoryButton": "ctkDirectoryButton", "LineEdit": None, "Edit": "QLineEdit"}
        for suffix, class_name in sorted(suffix_class.items(), key=lambda item: -len(item[0])):
            if name.endswith(suffix):
                if class_name:
                    assert declared[name] == class_name, name
                break


@pytest.mark.parametrize("module", MODULES)
def test_resources_named_in_cmake_exist(module):
    cmake = open(os.path.join(ROOT, module, "CMakeLists.txt"), encoding="utf-8").read()
    for resource in re.findall(r"(Resources/\S+)", cmake):
        assert os.path.isfile(os.path.join(ROOT, module, resource.replace("${MODULE_NAME}", module)))


def test_extension_builds_both_modules():
    cmake = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
    assert all(f"add_subdirectory({module})" in cmake for module in MODULES)


def _extension_metadata() -> dict:
    cmake = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
    return dict(re.findall(r'set\((EXTENSION_\w+) "([^"]*)"\)', cmake))


def _png_size(path: str) -> tuple:
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_extension_metadata_names_files_that_exist_and_no_made_up_repository():
    """The Extensions Index checklist as far as it can be checked here: homepage, icon (a 128 x 128 PNG) and
    screenshots (PNGs) are files of this repository (there is no public one to point to), and the description is
    one or two sentences."""
    metadata = _extension_metadata()
    assert not any("://" in value for key, value in metadata.items() if key.endswith(("URL", "URLS", "HOMEPAGE")))
    assert os.path.isfile(os.path.join(ROOT, metadata["EXTENSION_HOMEPAGE"]))
    assert _png_size(os.path.join(ROOT, metadata["EXTENSION_ICONURL"])) == (128, 128)
    screenshots = metadata["EXTENSION_SCREENSHOTURLS"].split()
    assert len(screenshots) >= 1
    for path in screenshots:
        width, height = _png_size(os.path.join(ROOT, path))
        assert width >= 400 and height >= 400, path
    assert 1 <= len(re.findall(r"\.(?:\s+[A-Z]|$)", metadata["EXTENSION_DESCRIPTION"])) <= 2


def test_licence_file_pyproject_and_readme_agree():
    licence = open(os.path.join(ROOT, "LICENSE.txt"), encoding="utf-8").read()
    assert licence.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in licence
    assert 'license = "BSD-3-Clause"' in open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    assert "[BSD-3-Clause](LICENSE.txt)" in open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def _cmake_list(module: str, variable: str) -> list:
    cmake = open(os.path.join(ROOT, module, "CMakeLists.txt"), encoding="utf-8").read()
    body = re.search(rf"set\({variable}\n(.*?)\n\s*\)", cmake, re.S).group(1)
    return [entry.replace("${MODULE_NAME}", module) for entry in body.split()]


def test_the_requirements_file_is_the_one_dependency_list_of_pyproject_and_of_the_slicer_install():
    """pyproject.toml reads its dependencies from CTOPlaqueLib/requirements.txt, the installed package's
    metadata carries exactly those lines, and CMake installs the file beside the Lib as a resource (a
    SCRIPTS entry would be installed as requirements.txt.py)."""
    import importlib.metadata
    import tomllib

    from CTOPlaqueLib.requirements import REQUIREMENTS_FILE, requirement_lines

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        pyproject = tomllib.load(handle)
    assert "dependencies" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["dependencies"]
    source = pyproject["tool"]["setuptools"]["dynamic"]["dependencies"]["file"]
    assert [os.path.realpath(os.path.join(ROOT, path)) for path in source] == [os.path.realpath(REQUIREMENTS_FILE)]
    lines = requirement_lines()
    assert len(lines) == 9 and "statsmodels>=0.14" in lines
    declared = [r for r in importlib.metadata.requires("ctoplaque") if "extra ==" not in r]
    assert sorted(r.replace(" ", "") for r in declared) == sorted(lines)
    assert "CTOPlaqueLib/requirements.txt" in _cmake_list("CTOPlaque", "MODULE_PYTHON_RESOURCES")
    assert all(entry.endswith(".py") for entry in _cmake_list("CTOPlaque", "MODULE_PYTHON_SCRIPTS"))


def test_unsatisfied_requirements_finds_absent_and_too_old_packages(tmp_path):
    from CTOPlaqueLib.requirements import requirement_lines, unsatisfied_requirements

    assert unsatisfied_requirements() == []  # this test environment has them all
    path = tmp_path / "requirements.txt"
    path.write_text("# comment\nnumpy>=1.0  # old enough\nnumpy>=999.0\nno-such-package-ctoplaque>=1.0\n\n")
    assert unsatisfied_requirements(str(path)) == ["numpy>=999.0", "no-such-package-ctoplaque>=1.0"]
    path.write_text("numpy==1.0\n")
    with pytest.raises(ValueError, match="not of the form name>=version"):
        requirement_lines(str(path))


def test_modules_import_at_slicer_start_up_before_the_extra_packages_are_installed():
    """Slicer imports every scripted module at start-up; scipy, pandas, matplotlib, scikit-image, highdicom and
    statsmodels may not be installed yet (the panel offers to install them), so neither module may import them
    at load time."""
    import subprocess
    import sys
    import textwrap

    import importlib.metadata

    from CTOPlaqueLib.requirements import requirement_lines

    bundled = {"numpy", "SimpleITK", "pydicom"}  # with vtk, what Slicer's Python has (pydicom for its DICOM module)
    required = {re.split(r"[><=]", line)[0].lower() for line in requirement_lines()}
    absent = sorted(module for module, distributions in importlib.metadata.packages_distributions().items()
                    if {d.lower() for d in distributions} & required and module not in bundled
                    and not module.startswith("_"))
    code = textwrap.dedent(f"""
        import sys
        for name in {absent!r}:
            sys.modules[name] = None  # import raises ImportError
        sys.path[:0] = {[os.path.join(ROOT, "Testing"), *[os.path.join(ROOT, m) for m in MODULES]]!r}
        import mrml_app
        mrml_app.install_scripted_module_shim()
        import CTOPlaque, CTOPlaqueStats
        print(CTOPlaque.CTOPlaqueWidget.__name__, CTOPlaqueStats.CTOPlaqueStatsWidget.__name__)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["CTOPlaqueWidget", "CTOPlaqueStatsWidget"]
    assert absent == ["highdicom", "matplotlib", "mpl_toolkits", "pandas", "pylab", "scipy", "skimage", "statsmodels"]


def test_panel_offers_every_entered_score_item():
    import sys

    sys.path.insert(0, os.path.join(ROOT, "CTOPlaque"))
    from CTOPlaqueLib.scores import CLINICAL_ITEMS

    source = open(os.path.join(ROOT, "CTOPlaque", "CTOPlaque.py"), encoding="utf-8").read()
    assert all(f'"{item}"' in source for item in CLINICAL_ITEMS)


def _imported_top_level_names(path: str) -> set:
    import ast

    names = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_lesion_module_never_imports_the_statistics_package():
    """Layers: CTOPlaqueStats builds on CTOPlaque, never the reverse (imports inside functions included)."""
    sources = [os.path.join(folder, name) for folder, _, files in os.walk(os.path.join(ROOT, "CTOPlaque"))
               for name in files if name.endswith(".py")]
    assert len(sources) > 30
    offending = [path for path in sources if "CTOPlaqueStatsLib" in _imported_top_level_names(path)
                 or "CTOPlaqueStats" in _imported_top_level_names(path)]
    assert offending == [os.path.join(ROOT, "CTOPlaque", "Resources", "Scripts", "ctoplaque_batch.py")]


def test_the_lesion_package_imports_and_runs_without_the_statistics_package(tmp_path):
    """With CTOPlaqueStatsLib unimportable, every CTOPlaqueLib module loads and a phantom case is written."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import argparse, importlib, pkgutil, sys
        sys.modules["CTOPlaqueStatsLib"] = None
        sys.path.insert(0, {os.path.join(ROOT, "CTOPlaque")!r})
        import CTOPlaqueLib
        from CTOPlaqueLib import cli
        for module in pkgutil.iter_modules(CTOPlaqueLib.__path__):
            importlib.import_module("CTOPlaqueLib." + module.name)
        parser = argparse.ArgumentParser()
        cli.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["phantom", "--out", {str(tmp_path)!r}])
        print(args.run(args))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("0")
    assert (tmp_path / "ccta.nrrd").is_file()


def test_the_stage_map_of_the_lesion_library_names_every_module_once():
    from CTOPlaqueLib import MODULES_BY_STAGE

    named = [module for modules in MODULES_BY_STAGE.values() for module in modules]
    present = {name[:-3] for name in os.listdir(os.path.join(ROOT, "CTOPlaque", "CTOPlaqueLib"))
               if name.endswith(".py") and name != "__init__.py"}
    assert len(named) == len(set(named)) and set(named) == present


def test_make_demo_refuses_a_python_older_than_pyproject_requires(tmp_path):
    """``make demo`` on a python3 older than 3.11 (Ubuntu 22.04's 3.10) says so in one line before making a venv,
    instead of pip failing after it."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    required = re.search(r'requires-python = ">=(\d+)\.(\d+)"', open(os.path.join(ROOT, "pyproject.toml")).read())
    assert required.groups() == ("3", "11")
    old_python = tmp_path / "python3.10"
    old_python.write_text("#!/bin/sh\n# answers the version check as Python 3.10 does\nexit 1\n")
    old_python.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "-s", "-C", ROOT, f"VENV={venv}", f"PYTHON={old_python}", "demo"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert f"error: CTOPlaque needs Python 3.11 or newer; {old_python} is older" in result.stderr
    assert not venv.exists()
    check = re.search(r"@\$\(PYTHON\) -c '([^']+)'", open(os.path.join(ROOT, "Makefile")).read()).group(1)
    assert subprocess.run([sys.executable, "-c", check]).returncode == (sys.version_info < (3, 11))
