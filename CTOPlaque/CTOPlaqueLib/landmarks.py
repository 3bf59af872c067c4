"""Landmarks P, D (occlusion caps) and S, E (reference sections) as arc-length positions on the centerline."""

from __future__ import annotations

import numpy as np

from .centerline import Centerline, project_onto_centerline
from .errors import CTOPlaqueInputError

LANDMARK_NAMES = {"P": "proximal occlusion cap", "D": "distal occlusion cap",
                  "S": "proximal reference section", "E": "distal reference section"}
MAX_DISTANCE_MM = 5.0


def reference_section_indices(arc_mm, landmarks_mm: dict) -> dict:
    """Index of the cross-section nearest to each reference landmark S and E present (arc positions in mm)."""
    return {label: int(np.argmin(np.abs(np.asarray(arc_mm) - landmarks_mm[label])))
            for label in ("S", "E") if label in landmarks_mm}


def landmark_projections(centerline: Centerline, landmarks_ras: dict) -> dict:
    """label -> (arc length of the nearest centerline point, distance from it), both in mm."""
    return {label: project_onto_centerline(centerline, point) for label, point in landmarks_ras.items()}


def landmark_positions_mm(centerline: Centerline, landmarks_ras: dict,
                          max_distance_mm: float = MAX_DISTANCE_MM) -> dict:
    """Arc length (mm from the first centerline point) of each landmark, after projecting it onto the centerline.

    landmarks_ras: label ("P", "D", optionally "S", "E") -> RAS point. Order required along the vessel:
    S < P < D < E. A landmark farther than ``max_distance_mm`` from the centerline is an error.
    """
    positions = {}
    for label, (arc_mm, distance_mm) in landmark_projections(centerline, landmarks_ras).items():
        if distance_mm > max_distance_mm:
            raise CTOPlaqueInputError(
                f"landmark {label} ({LANDMARK_NAMES[label]}) is {distance_mm:.1f} mm from the centerline "
                f"(at most {max_distance_mm:g} mm allowed); place it on the target vessel")
        positions[label] = arc_mm
    _check_order(positions, "P", "D")
    if "S" in positions:
        _check_order(positions, "S", "P")
    if "E" in positions:
        _check_order(positions, "D", "E")
    return positions


def _check_order(positions: dict, proximal: str, distal: str) -> None:
    gap = positions[distal] - positions[proximal]
    if gap <= 0:
        raise CTOPlaqueInputError(
            f"landmark {proximal} ({LANDMARK_NAMES[proximal]}) lies {-gap:.1f} mm distal to {distal} "
            f"({LANDMARK_NAMES[distal]}) along the centerline; {proximal} must be proximal to {distal}")
