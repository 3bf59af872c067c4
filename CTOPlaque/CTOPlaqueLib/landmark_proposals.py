"""Proposals for the landmarks P, D, S and E from the lumen along a centerline (the user confirms or moves them).

P and D: where contrast ends and resumes, i.e. the ends of the longest stretch (>= 2 mm) of
cross-sections without a contrast-filled lumen (contours.lumen_present), contrast that lasts less than
1 mm being ignored: next to a calcified nodule a section can pass for a faint lumen. S and E: the nearest
normal-looking sections outside the occlusion, at least 1 mm from the cap and within 10 mm of it:
the first section, going away from the cap, whose lumen area reaches 90% of the median lumen area
in that 1..10 mm window.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import contours
from .centerline import Centerline, sample_centerline
from .centerline_extraction import longest_run
from .crosssection import sample_sections
from .errors import CTOPlaqueInputError
from .settings import AnalysisSettings
from .volume_io import Volume

MIN_OCCLUSION_MM = 2.0
MIN_CONTRAST_RUN_MM = 1.0
REFERENCE_GAP_MM = 1.0
REFERENCE_WINDOW_MM = 10.0
NORMAL_LUMEN_FRACTION = 0.9


def _reference_position(arc_mm: np.ndarray, lumen_area: np.ndarray, cap_mm: float, direction: int):
    """Nearest normal-looking section beyond ``cap_mm`` in ``direction`` (-1 proximal, +1 distal), or None."""
    distance = direction * (arc_mm - cap_mm)
    window = (distance >= REFERENCE_GAP_MM) & (distance <= REFERENCE_WINDOW_MM) & (lumen_area > 0)
    if not np.any(window):
        return None
    normal_area = NORMAL_LUMEN_FRACTION * np.median(lumen_area[window])
    candidates = np.flatnonzero(window & (lumen_area >= normal_area))
    nearest = candidates[np.argmin(distance[candidates])]
    return float(arc_mm[nearest])


def propose_landmarks_mm(volume: Volume, centerline: Centerline,
                         settings: AnalysisSettings = AnalysisSettings()) -> dict:
    """Arc-length positions (mm) of the proposed P, D and, where found, S and E; the lumen is looked for on
    the settings' polar grid with their contour parameters, as the analysis will look for it."""
    grid = settings.grid()
    samples = sample_sections(volume, centerline, grid, order=1)
    arc = centerline.arc_mm
    step = centerline.step_mm
    has_lumen = ndimage.binary_opening(contours.lumen_present(samples, grid, settings.contour),
                                       np.ones(max(1, int(round(MIN_CONTRAST_RUN_MM / step))), bool))
    first, last = longest_run(~has_lumen)
    if first < 0 or (last - first + 1) * step < MIN_OCCLUSION_MM or first == 0 or last == len(arc) - 1:
        raise CTOPlaqueInputError(
            "no occlusion found: contrast does not stop for 2 mm between the ends of the centerline; "
            "place P and D by hand")
    proposal = {"P": float(arc[first] - 0.5 * step), "D": float(arc[last] + 0.5 * step)}
    lumen_radii = contours.detect_lumen(samples, grid, has_lumen, step, settings.contour)
    lumen_area = contours.contour_area_mm2(lumen_radii)
    for label, cap, direction in (("S", proposal["P"], -1), ("E", proposal["D"], 1)):
        position = _reference_position(arc, lumen_area, cap, direction)
        if position is not None:
            proposal[label] = position
    return proposal


def propose_landmarks(volume: Volume, centerline_points_ras, settings: AnalysisSettings = AnalysisSettings()) -> dict:
    """Proposed landmarks as label -> RAS point on the centerline (P, D, and S, E where found), from sections
    ``settings.step_mm`` apart."""
    centerline = sample_centerline(centerline_points_ras, settings.step_mm)
    positions = propose_landmarks_mm(volume, centerline, settings)
    return {label: np.array([np.interp(position, centerline.arc_mm, centerline.points_ras[:, axis])
                             for axis in range(3)]) for label, position in positions.items()}
