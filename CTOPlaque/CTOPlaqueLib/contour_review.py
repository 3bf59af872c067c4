"""Measuring with the reader's contours: re-measure from (possibly edited) contour segments, and record the edit.

The seed paper's readers corrected the automatic contours where needed; so does a reader here, in Slicer's
Segment Editor on the "ID contours" segmentation (contour_masks.py), or by giving the edited file to
``ctoplaque analyze --contours``. The lesion is then measured from the given segments, and lesion.json records
in its ``contours`` block whether they differ from the automatic ones, over which distances from the ostium,
the file's SHA-256 and the automatic figures beside the edited ones; the warnings that lie in an edited range, and
that the automatic analysis raised too, are marked as reviewed by the reader (quality.quality_warnings).
"""

from __future__ import annotations

import numpy as np

from .analysis import LesionAnalysis, remeasure_lesion
from .contour_masks import (ContourMasks, check_masks_fit, check_vessel_in_occlusion, contour_masks,
                            contour_radii_mm)
from .quality import warning_kinds
from .volume_io import Volume

# A section is edited where a contour moved by more than this at any angle: far above the round trip's own
# differences (none: the automatic contours are compared after the same round trip), far below a voxel.
EDIT_TOLERANCE_MM = 0.02


def edited_sections(automatic_radii_mm: tuple, given_radii_mm: tuple) -> np.ndarray:
    """(S,) whether the lumen or the outer wall of the section differs by more than EDIT_TOLERANCE_MM at any angle
    between two (lumen, vessel) radii pairs of (S, A) arrays."""
    return np.any([np.abs(given - automatic).max(axis=1) > EDIT_TOLERANCE_MM
                   for automatic, given in zip(automatic_radii_mm, given_radii_mm)], axis=0)


def edited_ranges_mm(arc_mm: np.ndarray, edited: np.ndarray) -> list:
    """[first, last] distance from the ostium (mm) of each run of edited sections."""
    padded = np.concatenate([[False], edited, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1) - 1
    return [[float(arc_mm[start]), float(arc_mm[end])] for start, end in zip(starts, ends)]


def headline_values(analysis: LesionAnalysis) -> dict:
    """The figures a reader compares before and after an edit: plaque and vessel volume, component volumes and
    PAV, the reference areas, and the kinds of the warnings raised (quality.warning_kinds: after an edit only a
    warning the automatic analysis raised too is marked reviewed, so a reloaded lesion.json marks the same)."""
    return {"total_plaque_volume_mm3": analysis.total_plaque_volume_mm3,
            "vessel_volume_mm3": analysis.vessel_volume_mm3,
            "volumes_mm3": dict(analysis.volumes_mm3),
            "pav_percent": analysis.pav_percent,
            "reference": {label: {key: values[key] for key in ("lumen_area_mm2", "vessel_area_mm2")}
                          for label, values in analysis.reference.items()},
            "warning_kinds": warning_kinds(analysis.quality)}


def automatic_contours_record() -> dict:
    """The ``contours`` block of lesion.json when the automatic contours were measured."""
    return {"source": "automatic", "edited": False}


def automatic_round_trip_radii(volume: Volume, automatic: LesionAnalysis, automatic_masks: ContourMasks = None):
    """(lumen, vessel) radii (S, A) of the automatic contours after the same round trip through segments as a
    reader's: what an edit is compared with. automatic_masks: ``contour_masks(volume, automatic)`` where built."""
    return contour_radii_mm(automatic_masks or contour_masks(volume, automatic), automatic.centerline,
                            automatic.grid)


def measure_with_contours(volume: Volume, automatic: LesionAnalysis, masks: ContourMasks, source: str,
                          sha256: str, automatic_radii_mm: tuple = None) -> tuple[LesionAnalysis, dict]:
    """The lesion re-measured from ``masks`` (``analysis.remeasure_lesion``) and the ``contours`` block of its
    lesion.json. automatic: the analysis with the automatic contours on the same centerline and landmarks;
    source: the segmentation's file or node name; sha256: of its file, or of its labels; automatic_radii_mm:
    ``automatic_round_trip_radii`` where already computed (a panel re-measuring again).
    CTOPlaqueInputError when the masks do not fit the volume or the centerline (contour_masks.check_masks_fit), or
    leave no vessel between P and D (contour_masks.check_vessel_in_occlusion)."""
    check_masks_fit(masks, volume, automatic, source)
    given = contour_radii_mm(masks, automatic.centerline, automatic.grid)
    check_vessel_in_occlusion(given[1], automatic, source)
    edited = edited_sections(automatic_radii_mm or automatic_round_trip_radii(volume, automatic), given)
    record = {"source": source, "sha256": sha256, "edited": bool(edited.any()),
              "edited_ranges_mm": edited_ranges_mm(automatic.centerline.arc_mm, edited),
              "automatic": headline_values(automatic)}
    return remeasure_lesion(automatic, *given, record["edited_ranges_mm"]), record
