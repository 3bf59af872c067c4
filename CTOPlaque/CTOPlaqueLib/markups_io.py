"""Slicer markups JSON (``.mrk.json``) files to and from RAS point arrays.

Slicer writes control points in LPS by default and in RAS on request; the
``coordinateSystem`` field says which. Points returned here are always RAS millimetres.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .errors import CTOPlaqueInputError

MARKUPS_SCHEMA = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
                  "Resources/Schema/markups-schema-v1.0.3.json#")
_LPS_RAS_FLIP = np.array([-1.0, -1.0, 1.0])
# The markups "type" values of Slicer's schema, as the Markups module names them to a user.
MARKUPS_KINDS = {"Fiducial": "a point list", "Curve": "an open curve", "ClosedCurve": "a closed curve",
                 "Line": "a line", "Angle": "an angle", "Plane": "a plane", "ROI": "an ROI"}
POINT_LIST = ("Fiducial",)
CURVE = ("Curve",)


@dataclass
class Markups:
    """Control points of one markups node: type ("Curve", "Fiducial", ...), labels, RAS positions (N x 3)."""

    markup_type: str
    labels: list
    points_ras: np.ndarray


def read_markups(path: str, expected_types=None, role: str = "") -> Markups:
    """Read the one markups node of a ``.mrk.json`` file; positions converted to RAS.

    expected_types: markups types accepted here (e.g. ``CURVE`` for a centerline, ``POINT_LIST`` for landmarks);
    another type is an input error naming ``role`` (what the file was given as, e.g. "--centerline"), so that a
    point list passed as a centerline is not measured along the polyline through its points.
    A file holding several markups nodes is an input error (which one is meant cannot be told), and so is a
    defined control point without three finite coordinates.
    """
    if not os.path.isfile(path):
        raise CTOPlaqueInputError(f"markups file not found: {path}")
    markup = _single_markup(path)
    system = str(markup.get("coordinateSystem", "LPS")).upper()
    if system not in ("LPS", "RAS"):
        raise CTOPlaqueInputError(f"{path}: unknown coordinateSystem {system!r} (expected LPS or RAS)")
    markup_type = str(markup.get("type", "Fiducial"))
    if expected_types and markup_type not in expected_types:
        expected = " or ".join(MARKUPS_KINDS.get(kind, kind) for kind in expected_types)
        given = MARKUPS_KINDS.get(markup_type, f"a {markup_type}")
        raise CTOPlaqueInputError(f"{role or 'markups'} {path} is {given}; {expected} is expected here")
    labels, positions = _defined_points(path, markup.get("controlPoints", []))
    if system == "LPS":
        positions = positions * _LPS_RAS_FLIP
    return Markups(markup_type=markup_type, labels=labels, points_ras=positions)


def _single_markup(path: str) -> dict:
    """The markups node (a JSON object) of a file that holds exactly one."""
    not_markups = CTOPlaqueInputError(f"{path} is not a Slicer markups JSON file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        raise not_markups from None
    nodes = document.get("markups") if isinstance(document, dict) else None
    if not isinstance(nodes, list) or not nodes or not all(isinstance(node, dict) for node in nodes):
        raise not_markups
    if len(nodes) > 1:
        raise CTOPlaqueInputError(f"{path} holds {len(nodes)} markups nodes; save the one meant here in a file "
                                  "of its own")
    return nodes[0]


def _defined_points(path: str, control_points) -> tuple[list, np.ndarray]:
    """Labels and positions (N x 3, in the file's frame) of the control points whose position is defined."""
    if not isinstance(control_points, list) or not all(isinstance(point, dict) for point in control_points):
        raise CTOPlaqueInputError(f"{path} is not a Slicer markups JSON file (controlPoints is not a list of points)")
    points = [point for point in control_points if point.get("positionStatus", "defined") == "defined"]
    labels = [str(point.get("label", "")) for point in points]
    for label, point in zip(labels, points):
        if not _is_position(point.get("position")):
            raise CTOPlaqueInputError(f"{path}: control point {label!r} has no position of three finite coordinates")
    return labels, np.array([point["position"] for point in points], float).reshape(-1, 3)


def _is_position(value) -> bool:
    """Whether ``value`` is a list of three finite numbers (JSON numbers: not text, not true/false)."""
    return (isinstance(value, list) and len(value) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))


def markups_document(markup_type: str, points_ras, labels=None, coordinate_system: str = "LPS",
                     color=None) -> dict:
    """A markups JSON document (as Slicer writes it) for a Curve or Fiducial node."""
    points_ras = np.asarray(points_ras, float).reshape(-1, 3)
    flip = _LPS_RAS_FLIP if coordinate_system == "LPS" else np.ones(3)
    labels = labels if labels is not None else [f"{markup_type[0]}-{i + 1}" for i in range(len(points_ras))]
    control_points = [
        {"id": str(i + 1), "label": label, "description": "", "associatedNodeID": "",
         "position": [float(v) for v in point * flip],
         "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
         "selected": True, "locked": False, "visibility": True, "positionStatus": "defined"}
        for i, (label, point) in enumerate(zip(labels, points_ras))]
    markup = {"type": markup_type, "coordinateSystem": coordinate_system, "coordinateUnits": "mm",
              "locked": False, "labelFormat": "%N-%d", "controlPoints": control_points}
    if color is not None:
        markup["display"] = {"visibility": True, "color": list(color), "selectedColor": list(color)}
    return {"@schema": MARKUPS_SCHEMA, "markups": [markup]}


def landmarks_by_label(markups: Markups, required=("P", "D"), optional=("S", "E"), source: str = "landmarks") -> dict:
    """Map landmark label -> RAS point; every required label must be present exactly once."""
    found = {}
    for label, point in zip(markups.labels, markups.points_ras):
        key = label.strip().upper()
        if key in required + optional:
            if key in found:
                raise CTOPlaqueInputError(f"{source}: landmark {key} is placed more than once")
            found[key] = point
    missing = [label for label in required if label not in found]
    if missing:
        raise CTOPlaqueInputError(
            f"{source}: missing landmark {' and '.join(missing)} (control points must be labelled "
            f"P and D, optionally S and E; found {', '.join(markups.labels) or 'none'})")
    return found
