"""A headless Slicer application core from the slicer-core wheel, for running the Logic on real MRML nodes.

slicer-core provides the MRML library but not slicer.app, Qt or ScriptedLoadableModule. This sets up
the scene and module logics the way Slicer's application does, and provides the few scripted-module
base classes the CTOPlaque module needs, so that CTOPlaque.py imports and its Logic runs unchanged.
"""

from __future__ import annotations

import sys
import types
import unittest

import slicer


def make_scene():
    """A vtkMRMLScene with application, colors, terminologies, markups, segmentations, tables, plots and
    subject-hierarchy logics registered; also installed as ``slicer.mrmlScene``."""
    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    colors = app_logic.GetColorLogic()
    colors.SetMRMLScene(scene)
    colors.AddDefaultColorNodes()
    app_logic.SetModuleLogic("Colors", colors)
    module_logics = [colors]  # the application logic does not own its module logics: keep them alive
    for name, logic_class in [("SubjectHierarchy", slicer.vtkSlicerSubjectHierarchyModuleLogic),
                              ("Terminologies", slicer.vtkSlicerTerminologiesModuleLogic),
                              ("Markups", slicer.vtkSlicerMarkupsLogic),
                              ("Segmentations", slicer.vtkSlicerSegmentationsModuleLogic),
                              ("Volumes", slicer.vtkSlicerVolumesLogic),
                              ("Tables", slicer.vtkSlicerTablesLogic),
                              ("Plots", slicer.vtkSlicerPlotsLogic)]:
        logic = logic_class()
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetMRMLScene(scene)
        app_logic.SetModuleLogic(name, logic)
        module_logics.append(logic)
    slicer.mrmlScene = scene
    slicer._ctoplaque_app_logic = app_logic
    slicer._ctoplaque_module_logics = module_logics
    install_scripted_module_shim()
    return scene


class _ScriptedLoadableModule:
    def __init__(self, parent=None):
        self.parent = parent


class _ScriptedLoadableModuleLogic:
    """The parameter-node part of Slicer's ScriptedLoadableModuleLogic."""

    def __init__(self, parent=None):
        self.moduleName = type(self).__name__[: -len("Logic")]

    def getParameterNode(self):
        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
            node.UnRegister(None)
            node.SetSingletonTag(self.moduleName)
            node.SetName(self.moduleName)
            node.SetAttribute("ModuleName", self.moduleName)
            node = slicer.mrmlScene.AddNode(node)
        return node


class _ScriptedLoadableModuleWidget:
    """Slicer's base class of module panels, as far as panels use it: moduleName, parent, layout and
    resourcePath. Like Slicer's, it has no addObserver: a panel that observes MRML mixes in
    slicer.util.VTKObservationMixin. Instantiating it needs the GUI set up by slicer_gui.install."""

    def __init__(self, parent=None):
        super().__init__()
        import qt

        self.moduleName = type(self).__name__.removesuffix("Widget")
        self.developerMode = False
        if parent is None:
            self.parent = slicer.qMRMLWidget()
            self.parent.setLayout(qt.QVBoxLayout())
            self.parent.setMRMLScene(slicer.mrmlScene)
        else:
            self.parent = parent
        self.layout = self.parent.layout()
        if parent is None:
            self.setup()

    def resourcePath(self, filename):
        import os

        return os.path.join(os.path.dirname(slicer.util.modulePath(self.moduleName)), "Resources", filename)

    def setup(self):
        pass

    def cleanup(self):
        pass

    def onReload(self):
        slicer.util.reloadScriptedModule(self.moduleName)


class _ScriptedLoadableModuleTest(unittest.TestCase):
    """Slicer's ScriptedLoadableModuleTest is a unittest.TestCase with a delayDisplay for the GUI."""

    def delayDisplay(self, message, msec=0):
        pass


def install_scripted_module_shim():
    """Provide slicer.ScriptedLoadableModule with the base classes; qt and ctk as empty modules."""
    module = types.ModuleType("slicer.ScriptedLoadableModule")
    module.ScriptedLoadableModule = _ScriptedLoadableModule
    module.ScriptedLoadableModuleWidget = _ScriptedLoadableModuleWidget
    module.ScriptedLoadableModuleLogic = _ScriptedLoadableModuleLogic
    module.ScriptedLoadableModuleTest = _ScriptedLoadableModuleTest
    module.__all__ = ["ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleLogic",
                      "ScriptedLoadableModuleTest"]
    sys.modules["slicer.ScriptedLoadableModule"] = module
    slicer.ScriptedLoadableModule = module
    for name in ("qt", "ctk"):
        sys.modules.setdefault(name, types.ModuleType(name))


def save_scene(scene, folder: str) -> str:
    """Write every storable node with its default storage node, then the MRML file (as Slicer's Save does)."""
    import os

    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLStorableNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLStorableNode")
        if node.GetHideFromEditors() and not node.IsA("vtkMRMLTableNode"):
            continue
        storage = node.GetStorageNode()
        if storage is None:
            if not node.AddDefaultStorageNode():
                continue
            storage = node.GetStorageNode()
        extension = storage.GetDefaultWriteFileExtension()
        storage.SetFileName(os.path.join(folder, f"{node.GetID()}.{extension}"))
        if not storage.WriteData(node):
            raise RuntimeError(f"could not write {node.GetName()}")
    path = os.path.join(folder, "scene.mrml")
    scene.SetRootDirectory(folder)
    scene.SetURL(path)
    if not scene.Commit():
        raise RuntimeError("could not write the scene")
    return path


def load_scene(path: str):
    """A new application scene (installed as slicer.mrmlScene) with the saved scene and its data loaded."""
    scene = make_scene()
    scene.SetURL(path)
    if not scene.Import():
        raise RuntimeError("could not read the scene")
    return scene
