"""MRML nodes <-> arrays: the only module that touches vtkMRML* classes.

Works inside Slicer and with the slicer-core wheel. Positions are world RAS (parent transforms
applied); volumes must not be under a non-linear transform.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from .composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS
from .errors import CTOPlaqueInputError
from .labelmap import Labelmap
from .markups_io import Markups
from .segmentation_file import masks_by_name
from .volume_io import Volume, hu_array


def _matrix_to_numpy(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _numpy_to_matrix(array: np.ndarray) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def volume_from_node(volume_node) -> Volume:
    """HU array [k, j, i] (int16 or float32, ``hu_array``) and world IJK->RAS of a scalar volume node (a linear parent
    transform is applied)."""
    if volume_node is None or volume_node.GetImageData() is None:
        raise CTOPlaqueInputError("select a CT volume that holds image data")
    image = volume_node.GetImageData()
    if image.GetNumberOfScalarComponents() != 1:
        raise CTOPlaqueInputError(f"volume {volume_node.GetName()} is not a scalar CT volume")
    ijk_to_ras, shape_kji = volume_geometry(volume_node)
    hu = hu_array(numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(shape_kji))
    return Volume(hu=hu, ijk_to_ras=ijk_to_ras)


def volume_geometry(volume_node) -> tuple[np.ndarray, tuple]:
    """World IJK->RAS (a linear parent transform applied) and array shape [k, j, i] of a volume node with image
    data, without copying its voxels."""
    ijk_to_ras = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(ijk_to_ras)
    matrix = _matrix_to_numpy(ijk_to_ras)
    transform_node = volume_node.GetParentTransformNode()
    if transform_node is not None:
        if not transform_node.IsTransformToWorldLinear():
            raise CTOPlaqueInputError(
                f"volume {volume_node.GetName()} is under a non-linear transform; harden it first")
        to_world = vtk.vtkMatrix4x4()
        transform_node.GetMatrixTransformToWorld(to_world)
        matrix = _matrix_to_numpy(to_world) @ matrix
    return matrix, tuple(volume_node.GetImageData().GetDimensions()[::-1])


def markups_from_node(markups_node) -> Markups:
    """Labels and world RAS positions of the defined control points of a markups node."""
    if markups_node is None:
        raise CTOPlaqueInputError("select a markups node")
    labels, points = [], []
    for index in range(markups_node.GetNumberOfControlPoints()):
        if markups_node.GetNthControlPointPositionStatus(index) != markups_node.PositionDefined:
            continue
        position = [0.0, 0.0, 0.0]
        markups_node.GetNthControlPointPositionWorld(index, position)
        labels.append(markups_node.GetNthControlPointLabel(index))
        points.append(position)
    kind = "Curve" if markups_node.IsA("vtkMRMLMarkupsCurveNode") else "Fiducial"
    return Markups(kind, labels, np.array(points, float).reshape(-1, 3))


def set_control_points(markups_node, points_ras: np.ndarray, labels=None) -> None:
    """Replace the control points of a markups node by world RAS ``points_ras`` (N, 3), optionally labelled."""
    markups_node.RemoveAllControlPoints()
    for index, point in enumerate(np.asarray(points_ras, float)):
        label = labels[index] if labels is not None else ""
        markups_node.AddControlPointWorld(vtk.vtkVector3d(*point), label)


def _set_image(volume_node, array: np.ndarray, ijk_to_ras: np.ndarray, vtk_type: int) -> None:
    array = np.ascontiguousarray(array)
    image = vtk.vtkImageData()
    image.SetDimensions(array.shape[::-1])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.ravel(), deep=True, array_type=vtk_type))
    volume_node.SetAndObserveImageData(image)
    volume_node.SetIJKToRASMatrix(_numpy_to_matrix(ijk_to_ras))


def volume_node_from_array(scene, name: str, hu: np.ndarray, ijk_to_ras: np.ndarray, volume_node=None):
    """A scalar volume node (float HU, array [k, j, i]) with the given IJK->RAS."""
    if volume_node is None:
        volume_node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    _set_image(volume_node, hu.astype(np.float32), ijk_to_ras, vtk.VTK_FLOAT)
    volume_node.CreateDefaultDisplayNodes()
    return volume_node


def segmentation_from_labelmap(scene, labelmap: Labelmap, name: str, segments=None, segmentation_node=None,
                               edit_on_labelmap_grid: bool = False):
    """A segmentation node from a labelmap; ``segments`` maps label value -> (name, RGB colour).

    By default the labels are the plaque components, named and coloured as in the seed paper.
    edit_on_labelmap_grid: the labelmap's grid becomes the segmentation's reference geometry, so that the
    Segment Editor paints on it (the oversampled contours grid) rather than on the CT's voxels.
    """
    if segments is None:
        segments = {index + 1: (COMPONENT_NAMES[c], COMPONENT_COLORS[c]) for index, c in enumerate(COMPONENTS)}
    labelmap_node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", name + "_labels")
    try:
        _set_image(labelmap_node, labelmap.labels.astype(np.uint8), labelmap.ijk_to_ras, vtk.VTK_UNSIGNED_CHAR)
        if segmentation_node is None:
            segmentation_node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        segmentation_node.GetSegmentation().RemoveAllSegments()
        segmentation_node.CreateDefaultDisplayNodes()
        slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap_node, segmentation_node)
        if edit_on_labelmap_grid:
            segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(labelmap_node)
    finally:
        scene.RemoveNode(labelmap_node)
    segmentation = segmentation_node.GetSegmentation()
    for segment_index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(segment_index)
        segment_name, colour = segments[segment.GetLabelValue()]
        segment.SetName(segment_name)
        segment.SetColor(*colour)
    return segmentation_node


def segment_masks(scene, segmentation_node) -> tuple[dict, np.ndarray]:
    """Every segment of a segmentation node as {name (lower case): bool mask [k, j, i]} on the segmentation's
    reference geometry (the grid it is edited on), and that grid's IJK->RAS. CTOPlaqueInputError when two
    segments share a name (segmentation_file.masks_by_name)."""
    segmentation = segmentation_node.GetSegmentation()
    labelmap_node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", segmentation_node.GetName() + "_export")
    named, ijk_to_ras = [], None
    try:
        for index in range(segmentation.GetNumberOfSegments()):
            ids = vtk.vtkStringArray()
            ids.InsertNextValue(segmentation.GetNthSegmentID(index))
            slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
                segmentation_node, ids, labelmap_node, None, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY)
            exported = volume_from_node(labelmap_node)
            named.append((segmentation.GetNthSegment(index).GetName().strip().lower(), exported.hu > 0))
            ijk_to_ras = exported.ijk_to_ras
    finally:
        scene.RemoveNode(labelmap_node)
    return masks_by_name(named, segmentation_node.GetName()), ijk_to_ras


def plot_chart(scene, table_node, x_column: str, series: list, title: str, y_title: str):
    """A plot chart of table columns against ``x_column``; series: [(column, label, RGB colour)]."""
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", title)
    chart.SetTitle(title)
    chart.SetXAxisTitle("Distance from ostium (mm)")
    chart.SetYAxisTitle(y_title)
    for column, label, colour in series:
        plot = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", label)
        plot.SetAndObserveTableNodeID(table_node.GetID())
        plot.SetXColumnName(x_column)
        plot.SetYColumnName(column)
        plot.SetPlotType(plot.PlotTypeScatter)
        plot.SetMarkerStyle(plot.MarkerStyleNone)
        plot.SetColor(*colour)
        chart.AddAndObservePlotSeriesNodeID(plot.GetID())
    return chart


def group_in_folder(scene, folder_name: str, nodes) -> int:
    """Put the nodes under one subject-hierarchy folder; returns the folder item ID."""
    hierarchy = scene.GetSubjectHierarchyNode()
    folder = hierarchy.CreateFolderItem(hierarchy.GetSceneItemID(), folder_name)
    for node in nodes:
        item = hierarchy.GetItemByDataNode(node)
        if item:
            hierarchy.SetItemParent(item, folder)
        else:  # outside the Slicer application no plugin creates the item when the node is added
            hierarchy.CreateItem(folder, node)
    return folder


def remove_folder(scene, folder_name: str) -> bool:
    """Remove the top-level subject-hierarchy folder ``folder_name`` and every node in it (with their display
    and storage nodes); returns whether there was one."""
    hierarchy = scene.GetSubjectHierarchyNode()
    folder = hierarchy.GetItemChildWithName(hierarchy.GetSceneItemID(), folder_name)
    if not folder:
        return False
    items = vtk.vtkIdList()
    hierarchy.GetItemChildren(folder, items, True)
    for index in range(items.GetNumberOfIds()):
        node = hierarchy.GetItemDataNode(items.GetId(index))
        if node is None:
            continue
        attached = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())] \
            if node.IsA("vtkMRMLDisplayableNode") else []
        if node.IsA("vtkMRMLStorableNode"):
            attached.append(node.GetStorageNode())
        for other in [*attached, node]:
            if other is not None:
                scene.RemoveNode(other)
    hierarchy.RemoveItem(folder, False, True)
    return True


def table_from_rows(scene, rows: list, name: str, table_node=None):
    """A table node whose columns are the keys of ``rows`` (numbers as double columns, others as strings)."""
    if table_node is None:
        table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table = table_node.GetTable()
    table.Initialize()
    for key in rows[0]:
        values = [row[key] for row in rows]
        numeric = all(isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) for v in values)
        column = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
        column.SetName(key)
        for value in values:
            column.InsertNextValue(float(value) if numeric else str(value))
        table.AddColumn(column)
    table_node.Modified()
    return table_node


def set_slice_to_ras(slice_node, slice_to_ras: np.ndarray) -> None:
    """Reformat a vtkMRMLSliceNode to the plane of a 4x4 slice-to-RAS matrix (columns: slice x, y, normal
    and centre in RAS), as Slicer's Cross-section analysis module does: set SliceToRAS, then UpdateMatrices."""
    slice_node.GetSliceToRAS().DeepCopy(_numpy_to_matrix(slice_to_ras))
    slice_node.UpdateMatrices()


def slice_composite_node(scene, view_name: str):
    """The vtkMRMLSliceCompositeNode of the slice view ``view_name`` ("Red", "Yellow", ...), or None."""
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        composite = scene.GetNthNodeByClass(index, "vtkMRMLSliceCompositeNode")
        if composite.GetLayoutName() == view_name:
            return composite
    return None


def view_node_ids(scene, exclude=()) -> list:
    """IDs of the scene's slice and 3D view nodes, but those in ``exclude``."""
    nodes = [scene.GetNthNodeByClass(index, class_name) for class_name in ("vtkMRMLSliceNode", "vtkMRMLViewNode")
             for index in range(scene.GetNumberOfNodesByClass(class_name))]
    return [node.GetID() for node in nodes if node.GetID() not in exclude]


# Node attributes: a node in a straightened vessel's space (not the patient's), and the views a patient-space node
# was shown in before it was kept out of the straightened view (space-separated view node IDs, empty for all).
STRAIGHTENED_SPACE_ATTRIBUTE = "CTOPlaque.StraightenedSpace"
VIEWS_BEFORE_ATTRIBUTE = "CTOPlaque.ViewsBeforeStraightened"


def displayable_nodes(scene) -> list:
    """The scene's displayable nodes (volumes, segmentations, markups, models) that have a display node."""
    nodes = [scene.GetNthNodeByClass(index, "vtkMRMLDisplayableNode")
             for index in range(scene.GetNumberOfNodesByClass("vtkMRMLDisplayableNode"))]
    return [node for node in nodes if node.GetNumberOfDisplayNodes() > 0]


def _view_ids(displayable_node) -> list:
    display = displayable_node.GetDisplayNode()
    return [display.GetNthViewNodeID(index) for index in range(display.GetNumberOfViewNodeIDs())]


def keep_out_of_view(displayable_node, view_id: str, other_view_ids) -> None:
    """Stop a node showing in the view ``view_id``: shown in ``other_view_ids`` where it showed in every view,
    else in its own views less that one; the views it had are kept in VIEWS_BEFORE_ATTRIBUTE (restore_views)."""
    views = _view_ids(displayable_node)
    if displayable_node.GetAttribute(VIEWS_BEFORE_ATTRIBUTE) is None:
        displayable_node.SetAttribute(VIEWS_BEFORE_ATTRIBUTE, " ".join(views))
    show_in_views(displayable_node, [view for view in (views or other_view_ids) if view != view_id])


def restore_views(displayable_node) -> None:
    """Show a node in the views it had before ``keep_out_of_view`` (nothing to do when it was not kept out)."""
    views = displayable_node.GetAttribute(VIEWS_BEFORE_ATTRIBUTE)
    if views is not None:
        show_in_views(displayable_node, views.split())
        displayable_node.RemoveAttribute(VIEWS_BEFORE_ATTRIBUTE)


def show_in_views(displayable_node, view_ids) -> None:
    """Show a node's display nodes only in the views ``view_ids`` (every view when empty)."""
    for index in range(displayable_node.GetNumberOfDisplayNodes()):
        display = displayable_node.GetNthDisplayNode(index)
        display.RemoveAllViewNodeIDs()
        for view_id in view_ids:
            display.AddViewNodeID(view_id)


def show_as_outlines(segmentation_node, thickness_px: int = 2) -> None:
    """Draw a segmentation's segments in the slice views as outlines only (no fill), ``thickness_px`` wide."""
    display = segmentation_node.GetDisplayNode()
    display.SetVisibility2DOutline(True)
    display.SetVisibility2DFill(False)
    display.SetSliceIntersectionThickness(thickness_px)


def show_as_overlay(segmentation_node, fill_opacity: float) -> None:
    """Draw a segmentation's segments in the slice views filled at ``fill_opacity``, outlined."""
    display = segmentation_node.GetDisplayNode()
    display.SetVisibility2DFill(True)
    display.SetOpacity2DFill(fill_opacity)
    display.SetVisibility2DOutline(True)


def section_line_node(scene, name: str):
    """A locked markups line (no labels, no length shown) that marks a section; its points are set later."""
    line = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
    line.CreateDefaultDisplayNodes()
    line.SetLocked(True)
    display = line.GetDisplayNode()
    display.SetPropertiesLabelVisibility(False)
    display.SetPointLabelsVisibility(False)
    return line
