"""The module panels load in Qt (PySide6, offscreen), Slicer's custom widgets standing in as their Qt base class."""

import os
import xml.etree.ElementTree as ElementTree

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _with_placeholders(path: str) -> bytes:
    """The .ui with every custom widget (qMRMLNodeComboBox, ctkCollapsibleButton, ...) as the Qt class it extends."""
    tree = ElementTree.parse(path)
    root = tree.getroot()
    custom = root.find("customwidgets")
    bases = {c.findtext("class"): c.findtext("extends") for c in custom.findall("customwidget")}
    root.remove(custom)
    for widget in root.iter("widget"):
        widget.set("class", bases.get(widget.get("class"), widget.get("class")))
    connections = root.find("connections")
    if connections is not None:
        root.remove(connections)
    return ElementTree.tostring(root)


@pytest.mark.parametrize("module", ["CTOPlaque", "CTOPlaqueStats"])
def test_panel_loads_offscreen_with_every_named_widget(module):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    QtCore = pytest.importorskip("PySide6.QtCore")
    from PySide6.QtUiTools import QUiLoader
    from PySide6.QtWidgets import QApplication, QWidget

    application = QApplication.instance() or QApplication([])
    path = os.path.join(ROOT, module, "Resources", "UI", f"{module}.ui")
    buffer = QtCore.QBuffer()
    buffer.setData(QtCore.QByteArray(_with_placeholders(path)))
    buffer.open(QtCore.QIODevice.ReadOnly)
    panel = QUiLoader().load(buffer)
    assert panel is not None, QUiLoader().errorString()
    names = {w.get("name") for w in ElementTree.parse(path).iter("widget")}
    found = {child.objectName() for child in panel.findChildren(QWidget)} | {panel.objectName()}
    assert names <= found, names - found
    application.processEvents()
