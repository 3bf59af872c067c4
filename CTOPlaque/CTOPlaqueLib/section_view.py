"""Reviewing the cross-sections: the slice plane of a section, and the positions a reader jumps to.

As in Slicer's Cross-section analysis module (SlicerVMTK), a slice view is reformatted perpendicular to the
centerline at a distance from the ostium, centred on the centerline: its SliceToRAS matrix has the section's
in-plane frame (U, V: the rotation-minimizing frame the sections were sampled in) as columns 0 and 1, the
centerline tangent T (the slice normal) as column 2 and the centerline point as column 3. The slice then
shows the measured section itself, in the orientation of the straightened vessel.

The second view shows the straightened vessel (straightening.py, the stretched curved planar reformat: section k
of the volume is the cross-section k * step mm from the ostium) cut along its axis, with a line across it at the
current section, as Slicer's Curved Planar Reformat module shows its straightened volume beside the curve.

Positions are arc lengths (mm) from the first (proximal) centerline point, as landmarks_mm and the profile.
"""

from __future__ import annotations

import numpy as np

from .centerline import Centerline
from .quality import reviewed_warnings

LANDMARK_ORDER = ("S", "P", "D", "E")
RULER_LABEL_PERMILLE = 40  # width of one landmark label on the ruler under the slider, in 1/1000 of its length


def section_to_ras(centerline: Centerline, distance_mm: float) -> np.ndarray:
    """4x4 slice-to-RAS matrix of the plane perpendicular to the centerline at ``distance_mm`` (clipped to the
    centerline): columns U, V, T (unit, right-handed, U x V = T) and the centerline point (RAS mm).

    Between two sampled sections point and frame are interpolated linearly in arc length, T normalized, U made
    perpendicular to T and V = T x U: at a sample it is that section's plane exactly, and between samples
    (0.25 mm apart) the point lies within 0.01 mm of the curve even on an 8 mm bend."""
    arc = centerline.arc_mm
    distance_mm = float(np.clip(distance_mm, arc[0], arc[-1]))
    upper = int(np.clip(np.searchsorted(arc, distance_mm), 1, len(arc) - 1))
    weight = (distance_mm - arc[upper - 1]) / (arc[upper] - arc[upper - 1])

    def between(values):
        return (1.0 - weight) * values[upper - 1] + weight * values[upper]

    tangent = between(centerline.tangents)
    tangent /= np.linalg.norm(tangent)
    u = between(centerline.normals_u)
    u -= (u @ tangent) * tangent
    u /= np.linalg.norm(u)
    matrix = np.eye(4)
    matrix[:3, 0] = u
    matrix[:3, 1] = np.cross(tangent, u)
    matrix[:3, 2] = tangent
    matrix[:3, 3] = between(centerline.points_ras)
    return matrix


def straightened_view_to_ras(ijk_to_ras: np.ndarray, shape_kji) -> np.ndarray:
    """4x4 slice-to-RAS of the longitudinal section through the axis of a straightened volume (IJK->RAS
    ``ijk_to_ras``, array shape ``shape_kji`` as straightening.straighten makes it): slice x along k (the vessel,
    ostium on the left, as on the slider), slice y along j (the cross-sections' V), normal x cross y, centred on
    the volume's centre, so the plane holds the centerline (i = the middle column, u = 0)."""
    ijk_to_ras = np.asarray(ijk_to_ras, float)
    along, across = (ijk_to_ras[:3, axis] / np.linalg.norm(ijk_to_ras[:3, axis]) for axis in (2, 1))
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = along, across, np.cross(along, across)
    matrix[:3, 3] = (ijk_to_ras @ np.append((np.asarray(shape_kji[::-1], float) - 1.0) / 2.0, 1.0))[:3]
    return matrix


def straightened_section_line_ras(ijk_to_ras: np.ndarray, shape_kji, distance_mm: float) -> np.ndarray:
    """(2, 3) RAS end points of the line across the straightened volume (IJK->RAS ``ijk_to_ras``, shape
    ``shape_kji``) at the cross-section ``distance_mm`` from the ostium (clipped to the volume): from j = 0 to the
    last j, in the plane of ``straightened_view_to_ras`` (middle i). Section k lies k * step mm from the ostium
    (straightening.straighten samples the centerline's sections, 0 mm first), step = the k spacing."""
    ijk_to_ras = np.asarray(ijk_to_ras, float)
    sections, rows, columns = shape_kji
    k = float(np.clip(distance_mm / np.linalg.norm(ijk_to_ras[:3, 2]), 0.0, sections - 1.0))
    ends_ijk = np.array([[(columns - 1) / 2.0, 0.0, k, 1.0], [(columns - 1) / 2.0, rows - 1.0, k, 1.0]])
    return (ends_ijk @ ijk_to_ras.T)[:, :3]


def slider_ruler(landmarks_mm: dict, length_mm: float, label_permille: int = RULER_LABEL_PERMILLE) -> list:
    """Stretch factors (1/1000 of the slider's length, summing to 1000) of the ruler under the section slider,
    nine slots in the order gap, S, gap, P, gap, D, gap, E, gap: each landmark given is a label ``label_permille``
    wide centred at its distance / ``length_mm`` (moved along just enough to stay on the ruler and not to overlap
    its neighbour); a landmark not given has 0 and so has the gap before it. Laid out with these stretches, the
    labels stand under their positions on the slider."""
    width = label_permille / 1000.0
    present = [label for label in LANDMARK_ORDER if label in landmarks_mm]
    lefts = [float(np.clip(landmarks_mm[label] / length_mm - width / 2.0, 0.0, 1.0 - width)) for label in present]
    for index in range(1, len(lefts)):
        lefts[index] = max(lefts[index], lefts[index - 1] + width)
    for index in reversed(range(len(lefts))):
        lefts[index] = min(lefts[index], (lefts[index + 1] if index + 1 < len(lefts) else 1.0) - width)
    edges = np.round(1000.0 * np.array([0.0, *[x for left in lefts for x in (left, left + width)], 1.0])).astype(int)
    widths = np.diff(edges)
    stretches = [0] * (2 * len(LANDMARK_ORDER) + 1)
    for index, label in enumerate(present):
        slot = 2 * LANDMARK_ORDER.index(label)
        stretches[slot], stretches[slot + 1] = int(widths[2 * index]), int(widths[2 * index + 1])
    stretches[-1] = int(widths[-1])
    return stretches


def landmark_marks(landmarks_mm: dict) -> list:
    """[(label, distance_mm)] of the landmarks given, in the order S, P, D, E."""
    return [(label, float(landmarks_mm[label])) for label in LANDMARK_ORDER if label in landmarks_mm]


def landmarks_text(landmarks_mm: dict) -> str:
    """"S 8.0 · P 14.0 · D 36.0 · E 42.0 mm" (the landmarks given), or "" without any."""
    marks = landmark_marks(landmarks_mm)
    return " \u00b7 ".join(f"{label} {distance:.1f}" for label, distance in marks) + " mm" if marks else ""


def warning_marks(quality: dict, landmarks_mm: dict, edited_ranges_mm=(), step_mm: float = 0.0,
                  automatic_kinds=()) -> list:
    """[(short description, distance_mm)] of the quality problems that lie at one position, each flagged as its warning
    is: the outer wall closing in inside the occlusion (occlusion_min_local_area_at_mm after P) or pushed outward
    (occlusion_wall_outward_at_mm after P), the lumen contour on the outer wall beside a cap
    (cap_lumen_vessel_area_at_mm, and cap_lumen_vessel_area_other_at_mm where both sides are: before P where negative,
    after D), a lumen next to a cap wider than the reference lumen (proximal_ and distal_cap_lumen_reference_at_mm) or
    its area uncertain under the noise (quality.lumen_uncertainty_sites, 2 mm before P and after D), the lumen lost
    before P so that the cap's shape is not measured (proximal_lumen_end_mm before P) or flagged before P so
    that it is not read from it (quality.proximal_lumen_flags, at each flag), an ECG-misregistration
    step (misregistration_step_at_mm from the ostium), and at a reference landmark a lumen not found or a wall not
    resolved. Problems of the whole occlusion or centerline have no one position and are not listed. The marks are those
    of the warnings themselves (quality.LocatedWarning.marks), in their order. After an edit (edited_ranges_mm, step_mm,
    automatic_kinds: as quality.quality_warnings takes them) the description of a problem whose warning is marked
    reviewed (quality.reviewed_warnings) ends in ", reviewed" (both sides of the lumen on the outer wall only when both
    lie in edited ranges, as their one warning)."""
    return [(description + (", reviewed" if runs else ""), site.position_mm(landmarks_mm))
            for warning, runs in reviewed_warnings(quality, landmarks_mm, edited_ranges_mm, step_mm, automatic_kinds)
            for description, site in warning.marks if site.landmark is None or site.landmark in landmarks_mm]


def lesion_warning_marks(document: dict) -> list:
    """``warning_marks`` of a lesion.json document (export.lesion_document with its ``contours`` block): from its
    quality, landmarks and section step, and after an edit from the edited ranges and the kinds of the automatic
    analysis's warnings its ``contours`` block records (contour_review.measure_with_contours), so that the panel
    and a reloaded export mark the same."""
    contours = document.get("contours") or {}
    return warning_marks(document["quality"], document["landmarks_mm"], contours.get("edited_ranges_mm", []),
                         document["settings"]["step_mm"], contours.get("automatic", {}).get("warning_kinds", []))
