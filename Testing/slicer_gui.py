"""Slicer's GUI layer, as far as the module panels use it, on PySide6 (offscreen) and slicer-core.

With this, the real CTOPlaqueWidget and CTOPlaqueStatsWidget run here: their .ui is loaded by Slicer's
own ``slicer.util.loadUI`` and ``childWidgetVariables`` (shipped in slicer-core), and every click goes
through the widget's own slots into the Logic and real MRML nodes.

Three things stand in for what only a Slicer build has:

- ``qt``: PySide6 seen through PythonQt's conventions, as Slicer's Python sees Qt: Qt properties are
  attributes (``button.enabled = False``, ``edit.text``), ``name`` is the object name, and signals are
  connected by signature (``button.connect("clicked(bool)", slot)``).
- Slicer's custom widgets (qMRMLNodeComboBox, qMRMLTableView, qSlicerMarkupsPlaceWidget, ctk buttons,
  boxes and slider): small PySide6 classes with the behaviour the panels rely on, read off Slicer's sources.
  A node combo box lists the scene's nodes of its node types (hidden nodes excluded), emits currentNodeChanged
  only when the selection changes, and falls back to None when its node leaves the scene.
- ``slicer.app`` and ``slicer.modules``: the application object with the calls the panels and slicer.util
  make (cursor overrides are counted, so a test can check that every wait cursor is restored). The
  module widget base class is mrml_app's, as Slicer defines it.

Message boxes are not shown: with no main window, slicer.util logs their text (error text at ERROR
level), which a test reads with caplog.
"""

from __future__ import annotations

import os
import re
import sys
import types
import xml.etree.ElementTree as ElementTree

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from PySide6.QtCore import Property, Signal  # noqa: E402
from PySide6.QtUiTools import QUiLoader as _PySideUiLoader  # noqa: E402

import slicer  # noqa: E402

# ---------------------------------------------------------------------------------------------------------
# PythonQt conventions over PySide6 objects


class PythonQtObject:
    """A QObject as Slicer's Python sees it: properties as attributes, connect by signal signature."""

    def __init__(self, qobject):
        object.__setattr__(self, "_qobject", qobject)

    @staticmethod
    def _property_name(qobject, name):
        name = "objectName" if name == "name" else name
        return name if qobject.metaObject().indexOfProperty(name) >= 0 else None

    def __getattr__(self, name):
        qobject = object.__getattribute__(self, "_qobject")
        prop = self._property_name(qobject, name)
        if prop is not None:
            return wrap(qobject.property(prop))
        attribute = getattr(qobject, name)
        if callable(attribute) and not isinstance(attribute, QtCore.SignalInstance):
            return lambda *args: wrap(attribute(*[unwrap(a) for a in args]))
        return attribute

    def __setattr__(self, name, value):
        qobject = object.__getattribute__(self, "_qobject")
        prop = self._property_name(qobject, name)
        if prop is None:
            object.__setattr__(self, name, value)
        elif not qobject.setProperty(prop, unwrap(value)):
            raise AttributeError(f"{type(qobject).__name__}.{name} cannot be set to {value!r}")

    def connect(self, signature, slot):
        """PythonQt's ``object.connect("signal(type,...)", callable)``."""
        name, argument_types = re.fullmatch(r"(\w+)\((.*)\)", signature.replace(" ", "")).groups()
        signal = getattr(object.__getattribute__(self, "_qobject"), name)
        if argument_types:
            python_types = tuple(_SIGNAL_TYPES.get(t, object) for t in argument_types.split(","))
            try:
                signal = signal[python_types if len(python_types) > 1 else python_types[0]]
            except (KeyError, IndexError, TypeError):
                pass  # a signal with one signature
        signal.connect(slot)


_SIGNAL_TYPES = {"bool": bool, "int": int, "double": float, "QString": str}


def wrap(value):
    if isinstance(value, QtCore.QObject):
        return PythonQtObject(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def unwrap(value):
    return object.__getattribute__(value, "_qobject") if isinstance(value, PythonQtObject) else value


# ---------------------------------------------------------------------------------------------------------
# Slicer's and CTK's custom widgets


def _visible_in_selectors(node) -> bool:
    return not node.GetHideFromEditors()


def _stored_property(kind, name: str, default):
    """A Qt property that only stores its value (as the instance attribute ``_<name>``)."""
    attribute = "_" + name
    return Property(kind, lambda self: getattr(self, attribute, default),
                    lambda self, value: setattr(self, attribute, kind(value)))


def _paint_combo_box(widget, text: str) -> None:
    painter = QtWidgets.QStylePainter(widget)
    option = QtWidgets.QStyleOptionComboBox()
    option.initFrom(widget)
    option.currentText = text
    painter.drawComplexControl(QtWidgets.QStyle.CC_ComboBox, option)
    painter.drawControl(QtWidgets.QStyle.CE_ComboBoxLabel, option)


class qMRMLWidget(QtWidgets.QWidget):
    mrmlSceneChanged = Signal(object)

    def setMRMLScene(self, scene):
        self.mrmlSceneChanged.emit(scene)


class qMRMLNodeComboBox(QtWidgets.QWidget):
    """Node selector: scene nodes that are one of nodeTypes; emits currentNodeChanged on a change only."""

    currentNodeChanged = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scene, self._tag, self._node_id = None, None, ""
        self._node_types = []
        self.setEnabled(False)

    def _get_node_types(self):
        return self._node_types

    def _set_node_types(self, types_):
        self._node_types = [t for t in types_ if t]

    nodeTypes = Property("QStringList", _get_node_types, _set_node_types)

    noneEnabled = _stored_property(bool, "noneEnabled", False)

    def setMRMLScene(self, scene):
        if scene is self._scene:
            return
        if self._scene is not None:
            self._scene.RemoveObserver(self._tag)
        current = self.currentNode()
        self._scene = scene
        self._tag = scene.AddObserver(slicer.vtkMRMLScene.NodeRemovedEvent, self._on_node_removed)
        self.setEnabled(True)
        self.setCurrentNode(current)
        if self.currentNode() is None and not self.noneEnabled and self.nodes():
            self.setCurrentNode(self.nodes()[0])

    def nodes(self):
        if self._scene is None:
            return []
        found = []
        for index in range(self._scene.GetNumberOfNodes()):
            node = self._scene.GetNthNode(index)
            if any(node.IsA(t) for t in self._node_types) and _visible_in_selectors(node):
                found.append(node)
        return found

    def currentNode(self):
        node = self._scene.GetNodeByID(self._node_id) if self._scene is not None and self._node_id else None
        return node if node is not None and node in self.nodes() else None

    def _get_current_node_id(self):
        node = self.currentNode()
        return node.GetID() if node is not None else ""

    def setCurrentNodeID(self, node_id):
        self.setCurrentNode(self._scene.GetNodeByID(node_id) if self._scene is not None and node_id else None)

    currentNodeID = Property(str, _get_current_node_id, setCurrentNodeID)

    def setCurrentNode(self, node):
        node_id = node.GetID() if node is not None and node in self.nodes() else ""
        if node_id == self._node_id:
            return
        self._node_id = node_id
        self.currentNodeChanged.emit(self.currentNode())

    def _on_node_removed(self, *_):
        if self._node_id and self.currentNode() is None:
            self.setCurrentNode(None)

    def sizeHint(self):
        return QtWidgets.QComboBox().sizeHint()

    def paintEvent(self, event):
        """Drawn as a combo box showing the current node's name (or None), as Slicer's selector looks."""
        node = self.currentNode()
        _paint_combo_box(self, node.GetName() if node is not None else "None")


class qSlicerMarkupsPlaceWidget(QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._node = None

    def setMRMLScene(self, scene):
        """Accepted, as Slicer's widget does; placing itself is the Markups logic's (not emulated)."""

    def setCurrentNode(self, node):
        self._node = node

    def currentNode(self):
        return self._node


class qMRMLTableView(QtWidgets.QTableWidget):
    """Table view of a vtkMRMLTableNode: its columns and cells as text, refreshed when the node is modified."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._table, self._tag = None, None
        self.verticalHeader().hide()
        self.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)

    def setMRMLScene(self, scene):
        """Accepted, as Slicer's view does; the table shown is set with setMRMLTableNode."""

    def setMRMLTableNode(self, node):
        if self._table is not None:
            self._table.RemoveObserver(self._tag)
        self._table = node if node is not None and node.IsA("vtkMRMLTableNode") else None
        if self._table is not None:
            self._tag = self._table.AddObserver("ModifiedEvent", self._show_table)
        self._show_table()

    def mrmlTableNode(self):
        return self._table

    def _show_table(self, *_):
        table = self._table.GetTable() if self._table is not None else None
        columns = table.GetNumberOfColumns() if table is not None else 0
        rows = table.GetNumberOfRows() if table is not None else 0
        self.setColumnCount(columns)
        self.setRowCount(rows)
        self.setHorizontalHeaderLabels([table.GetColumnName(c) for c in range(columns)])
        for row in range(rows):
            for column in range(columns):
                self.setItem(row, column, QtWidgets.QTableWidgetItem(table.GetValue(row, column).ToString()))
        self.resizeColumnsToContents()


class ctkCollapsibleButton(QtWidgets.QPushButton):
    """A header button above the widgets of its layout, which are hidden while ``collapsed`` (as CTK's)."""

    _HEADER = 24

    def __init__(self, parent=None):
        super().__init__(parent)
        self._collapsed, self._hidden_by_collapse = False, []
        self.setContentsMargins(0, self._HEADER, 0, 0)
        self.setSizePolicy(QtWidgets.QSizePolicy.Preferred, QtWidgets.QSizePolicy.Minimum)

    def _get_collapsed(self):
        return self._collapsed

    def _set_collapsed(self, value):
        self._collapsed = bool(value)
        self._apply_collapsed()

    def _apply_collapsed(self):
        """Hide the contents while collapsed; on expanding, show again only what collapsing hid."""
        if self._collapsed:
            children = self.findChildren(QtWidgets.QWidget, options=QtCore.Qt.FindDirectChildrenOnly)
            self._hidden_by_collapse += [child for child in children if not child.isHidden()]
            for child in self._hidden_by_collapse:
                child.hide()
        else:
            for child in self._hidden_by_collapse:
                child.show()
            self._hidden_by_collapse = []
        self.updateGeometry()

    def showEvent(self, event):  # the .ui sets ``collapsed`` before it adds the contents
        self._apply_collapsed()
        super().showEvent(event)

    collapsed = Property(bool, _get_collapsed, _set_collapsed)

    def sizeHint(self):
        layout = self.layout()
        width = super().sizeHint().width()
        if layout is None or self._collapsed:
            return QtCore.QSize(width, self._HEADER)
        contents = layout.totalSizeHint()
        return QtCore.QSize(max(width, contents.width()), self._HEADER + contents.height())

    def minimumSizeHint(self):
        return self.sizeHint()

    def paintEvent(self, event):
        painter = QtWidgets.QStylePainter(self)
        option = QtWidgets.QStyleOptionButton()
        self.initStyleOption(option)
        option.rect = QtCore.QRect(0, 0, self.width(), self._HEADER - 2)
        option.text = ("\u25b8 " if self._collapsed else "\u25be ") + self.text()
        painter.drawControl(QtWidgets.QStyle.CE_PushButton, option)


def _notifying_text_property(name: str, signal: str, default: str):
    """A text Qt property stored as the instance attribute ``_<name>``; setting a new value emits ``signal`` with
    it, as CTK's widgets do."""
    attribute = "_" + name

    def get(self):
        return getattr(self, attribute, default)

    def set_(self, value):
        if value != get(self):
            setattr(self, attribute, str(value))
            getattr(self, signal).emit(str(value))

    return Property(str, get, set_)


class ctkDirectoryButton(QtWidgets.QPushButton):
    """Folder chooser: ``directory``, and directoryChanged(QString) when it changes (as CTK's)."""

    directoryChanged = Signal(str)
    directory = _notifying_text_property("directory", "directoryChanged", QtCore.QDir.homePath())


class ctkSliderWidget(QtWidgets.QDoubleSpinBox):
    """Slider with a spin box: ``value`` within ``minimum``..``maximum`` (clamped), ``singleStep``, ``decimals``,
    and valueChanged(double) when the value changes (as CTK's; the slider half is not drawn)."""


class ctkPathLineEdit(QtWidgets.QWidget):
    """File chooser: ``currentPath``, and currentPathChanged(QString) when it changes (as CTK's)."""

    currentPathChanged = Signal(str)
    currentPath = _notifying_text_property("currentPath", "currentPathChanged", "")


class ctkCheckableComboBox(QtWidgets.QComboBox):
    """Combo box whose items carry a check state; checkedIndexes() lists the checked ones, and
    checkedIndexesChanged() is emitted when a check state changes (as CTK's)."""

    checkedIndexesChanged = Signal()

    def setCheckState(self, index, state):
        if self.checkState(index) != state:
            self.model().setData(index, state, QtCore.Qt.CheckStateRole)
            self.checkedIndexesChanged.emit()

    def checkState(self, index):
        value = self.model().data(index, QtCore.Qt.CheckStateRole)
        return QtCore.Qt.CheckState(value) if value is not None else QtCore.Qt.Unchecked

    def checkedIndexes(self):
        indexes = [self.model().index(row, 0) for row in range(self.count())]
        return [index for index in indexes if self.checkState(index) == QtCore.Qt.Checked]


CUSTOM_WIDGETS = (qMRMLWidget, qMRMLNodeComboBox, qSlicerMarkupsPlaceWidget, qMRMLTableView, ctkCollapsibleButton,
                  ctkDirectoryButton, ctkPathLineEdit, ctkCheckableComboBox, ctkSliderWidget)


class QUiLoader:
    """qt.QUiLoader: builds the .ui with the custom widgets above, then makes its <connections> by name
    (their signatures name VTK types, which PySide6 cannot parse)."""

    def load(self, device):
        root = ElementTree.fromstring(bytes(unwrap(device).readAll()))
        connections = root.find("connections")
        if connections is not None:
            root.remove(connections)
        buffer = QtCore.QBuffer()
        buffer.setData(QtCore.QByteArray(ElementTree.tostring(root)))
        buffer.open(QtCore.QIODevice.ReadOnly)
        loader = _PySideUiLoader()
        for widget_class in CUSTOM_WIDGETS:
            loader.registerCustomWidget(widget_class)
        widget = loader.load(buffer)
        if widget is None:
            return None
        for connection in connections if connections is not None else ():
            sender = _named(widget, connection.findtext("sender"))
            receiver = _named(widget, connection.findtext("receiver"))
            signal = getattr(sender, connection.findtext("signal").split("(")[0])
            signal.connect(getattr(receiver, connection.findtext("slot").split("(")[0]))
        return wrap(widget)


def _named(root, name):
    return root if root.objectName() == name else root.findChild(QtCore.QObject, name)


def qt_module() -> types.ModuleType:
    """The ``qt`` module of Slicer's Python: PySide6 classes, with QUiLoader as above."""
    module = types.ModuleType("qt")
    for source in (QtCore, QtGui, QtWidgets):
        for name in dir(source):
            if name.startswith("Q"):
                setattr(module, name, getattr(source, name))
    module.QUiLoader = QUiLoader
    return module


# ---------------------------------------------------------------------------------------------------------
# slicer.app and slicer.modules


class LayoutManager:
    """qSlicerLayoutManager on Slicer's own vtkMRMLLayoutLogic (slicer-core): setLayout sets the layout
    node's view arrangement, from which the logic creates the views' nodes; every slice view gets a
    vtkMRMLSliceLogic, which makes its composite node, as the layout manager's slice widgets do.
    Starts in Slicer's default (conventional) layout."""

    def __init__(self, scene):
        self._scene = scene
        self._logic = slicer.vtkMRMLLayoutLogic()
        self._logic.SetMRMLApplicationLogic(slicer._ctoplaque_app_logic)
        self._logic.SetMRMLScene(scene)
        self._slice_logics = {}
        self.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutConventionalView)

    def layoutLogic(self):
        return self._logic

    def setLayout(self, layout):
        self._logic.GetLayoutNode().SetViewArrangement(layout)
        for index in range(self._scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
            view = self._scene.GetNthNodeByClass(index, "vtkMRMLSliceNode")
            if view.GetID() not in self._slice_logics:
                logic = slicer.vtkMRMLSliceLogic()
                logic.SetMRMLApplicationLogic(slicer._ctoplaque_app_logic)
                logic.SetMRMLScene(self._scene)
                logic.SetSliceNode(view)
                self._slice_logics[view.GetID()] = logic

    def layout(self):
        return self._logic.GetLayoutNode().GetViewArrangement()

    def mrmlSliceLogics(self):
        import vtk

        logics = vtk.vtkCollection()
        for logic in self._slice_logics.values():
            logics.AddItem(logic)
        return logics


class CoreIOManager:
    """qSlicerCoreIOManager.loadNodes for the two file types the self-tests load (slicer.util.loadVolume,
    loadMarkups): volumes through Slicer's volume archetype storage node, markups through the Markups
    module logic's LoadMarkups, which picks the node class from the file as Slicer's reader does."""

    def loadNodes(self, file_type, properties, loaded_nodes=None, messages=None):
        path = properties["fileName"]
        name = properties.get("name") or os.path.basename(path).split(".")[0]
        scene = slicer.mrmlScene
        if file_type == "VolumeFile":
            node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
            storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
            storage.SetFileName(path)
            if not storage.ReadData(node):
                scene.RemoveNode(node)
                return False
            node.SetAndObserveStorageNodeID(storage.GetID())
            node.CreateDefaultDisplayNodes()
        elif file_type == "MarkupsFile":
            node_id = slicer._ctoplaque_app_logic.GetModuleLogic("Markups").LoadMarkups(path, name)
            node = scene.GetNodeByID(node_id) if node_id else None
            if node is None:
                return False
        else:
            raise NotImplementedError(f"file type {file_type}")
        if loaded_nodes is not None:
            loaded_nodes.AddItem(node)
        return True


class Application:
    """The slicer.app calls made by the panels and by slicer.util; wait cursors are counted."""

    applicationName = "3D Slicer"

    def __init__(self, scene):
        self.qapplication = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
        self.override_cursors = 0
        self._layout_manager = LayoutManager(scene)
        self._io_manager = CoreIOManager()

    def processEvents(self):
        self.qapplication.processEvents()

    def testingEnabled(self):
        return False

    def topLevelWidgets(self):
        return []

    def setOverrideCursor(self, cursor):
        self.override_cursors += 1

    def restoreOverrideCursor(self):
        self.override_cursors -= 1

    def layoutManager(self):
        return self._layout_manager

    def coreIOManager(self):
        return self._io_manager


class _ModuleLogicHandle:
    def __init__(self, name):
        self._name = name

    def logic(self):
        return slicer._ctoplaque_app_logic.GetModuleLogic(self._name)


def install(scene, module_paths: dict):
    """Make slicer.app, slicer.modules and ``qt`` for the GUI, on ``scene`` (from mrml_app.make_scene).

    The application's layout manager puts in the scene what Slicer's does: the layout node and the
    views' nodes of the conventional layout, with a slice logic (and composite node) per slice view.
    ``module_paths``: scripted module name -> its .py path (slicer.modules.<name>.path).
    Returns the Application.
    """
    application = Application(scene)
    slicer.app = application
    modules = types.SimpleNamespace(markups=_ModuleLogicHandle("Markups"))
    for name, path in module_paths.items():
        setattr(modules, name.lower(), types.SimpleNamespace(path=path))
    slicer.modules = modules
    slicer.qMRMLWidget = lambda: wrap(qMRMLWidget())
    sys.modules["qt"] = qt_module()
    return application
