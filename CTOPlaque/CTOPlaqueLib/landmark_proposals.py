"""Proposals for the landmarks P, D, S and E from the lumen along a centerline (the user confirms or moves them).

P and D: where contrast ends and resumes, i.e. the ends of the longest stretch (>= 2 mm) of
cross-sections without a contrast-filled lumen (contours.lumen_present), contrast that lasts less than
1 mm being ignored: next to a calcified nodule a section can pass for a faint lumen. The stretch then
takes in the fibrous caps that passed the lumen test next to it (``_caps_beside``). S and E: the nearest
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
from .crosssection import PolarGrid, sample_sections
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


def _lasting(sections: np.ndarray, step_mm: float) -> np.ndarray:
    """``sections`` (S,) bool without its runs shorter than MIN_CONTRAST_RUN_MM."""
    return ndimage.binary_opening(sections, np.ones(max(1, int(round(MIN_CONTRAST_RUN_MM / step_mm))), bool))


def _occlusion(has_lumen: np.ndarray, step_mm: float, within: int | None = None) -> tuple[int, int]:
    """First and last section of the stretch without lumen that holds section ``within`` (the longest such stretch
    when None), at least MIN_OCCLUSION_MM long and with lumen on both sides; CTOPlaqueInputError when there is none."""
    if within is None:
        first, last = longest_run(~has_lumen)
    else:
        stretches, _ = ndimage.label(~has_lumen)
        first, last = np.flatnonzero(stretches == stretches[within])[[0, -1]]
    if first < 0 or (last - first + 1) * step_mm < MIN_OCCLUSION_MM or first == 0 or last == len(has_lumen) - 1:
        raise CTOPlaqueInputError(
            "no occlusion found: contrast does not stop for 2 mm between the ends of the centerline; "
            "place P and D by hand")
    return int(first), int(last)


def _caps_beside(samples_hu: np.ndarray, grid: PolarGrid, has_lumen: np.ndarray, occlusion: tuple[int, int],
                 params: contours.ContourParameters) -> np.ndarray:
    """Per section (S,): plaque that passed the lumen test, by the measures of the lumen on its own side of the
    occlusion (sections before ``occlusion``'s first, after its last; has_lumen: (S,) the lumen test's sections).

    A fibrous cap is plaque filling the vessel: the lumen test sees it end only at the vessel's outer edge
    (``contours.lumen_fall_half_chord_mm``), and it passes within a ring sized wider than that (stenosis-70-300,
    a 70% stenosis lined with 300 HU plaque under a 0.5 mm blur: ring 2.5 mm, caps 2.2-2.4 mm; calcified-90 2.4 mm,
    caps 2.0-2.3 mm), over 2.6-2.9 mm next to either cap. Its sections are those that end more than
    ``lumen_ring_margin_mm`` beyond the side's lumen (calcified-90 after D: 2.0-2.3 mm against 1.58 mm, the caps at
    207-251 HU as bright as the lumen's 241-264 HU), or at least where it does and are darker than
    ``contours.contrast_level_hu`` of the side's lumen (stenosis-70-300: its 0.86 mm lumen, 70-94 HU above its lining,
    ends only at the lining's outer edge, 2.0-2.1 mm, as the caps do; before P the caps read 0.49-0.67 of the side's
    contrast over the fat, the lumen 0.71 and more). The side's lumen is its lumen sections at that level (their
    median half chord); its contrast, the side's own: a distal lumen filled late (170 HU) is not dark beside a
    450 HU proximal one. A tapered lumen darkens as it closes (0.48 of the contrast in its last section) but ends
    inside its side's lumen, not beyond it."""
    centre_hu = contours.central_lumen_hu(samples_hu, grid)
    fat_hu = contours.fat_level_hu(samples_hu, grid, params)
    half_chord_mm = contours.lumen_fall_half_chord_mm(samples_hu, grid, centre_hu, fat_hu, params)
    caps = np.zeros(len(has_lumen), bool)
    for side in (slice(0, occlusion[0]), slice(occlusion[1] + 1, None)):
        lumen = has_lumen[side]
        dark = centre_hu[side] < contours.contrast_level_hu(centre_hu[side][lumen], fat_hu, params)
        lumen_mm = np.median(half_chord_mm[side][lumen & ~dark])
        caps[side] = (half_chord_mm[side] > lumen_mm + params.lumen_ring_margin_mm) | (
            dark & (half_chord_mm[side] >= lumen_mm))
    return caps


def propose_landmarks_mm(volume: Volume, centerline: Centerline,
                         settings: AnalysisSettings = AnalysisSettings()) -> dict:
    """Arc-length positions (mm) of the proposed P, D and, where found, S and E; the lumen is looked for on
    the settings' polar grid with their contour parameters, as the analysis will look for it. The occlusion is the
    longest stretch without lumen, with the caps that passed for lumen next to it (``_caps_beside``, over at least
    MIN_CONTRAST_RUN_MM)."""
    grid = settings.grid()
    samples = sample_sections(volume, centerline, grid, order=1)
    arc = centerline.arc_mm
    step = centerline.step_mm
    present = contours.lumen_present(samples, grid, settings.contour)
    lasting = _lasting(present, step)
    occlusion = _occlusion(lasting, step)
    caps = _lasting(_caps_beside(samples, grid, lasting, occlusion, settings.contour), step)
    has_lumen = _lasting(present & ~caps, step)
    first, last = _occlusion(has_lumen, step, within=occlusion[0])
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
