"""Lesion morphology from the analysis: the image-derived inputs of the CTO difficulty scores.

Definitions (all within the occluded segment P..D):
* max_bending_deg: the largest angle between centerline tangents BENDING_WINDOW_MM apart within the
  segment (between its end tangents if it is shorter); bending_gt_45 when > 45 degrees (J-CTO,
  CT-RECTOR: "bending > 45 degrees within the occluded segment"). J-CTO judges bending by eye on the
  angiogram and fixes no length; a local angle reads a bend as the eye sees it (the 70 degree turn of
  the 8 mm radius "bend" phantom reads 70), whereas the total change of direction also counts the
  gentle turn of a long occlusion following the heart (92 degrees along a 40 mm occlusion on a 25 mm
  radius, 23 over 10 mm). 10 mm is our operational choice, about two vessel diameters.
* max_calcium_area_fraction: the largest fraction of the cross-sectional vessel area at or above the
  dense-calcium threshold (351 HU), after a 1 mm running mean along the vessel so that a single
  noisy section does not decide; severe_calcification when > 0.5 (CT-RECTOR: calcium occupying
  >= 50% of the vessel cross-section).
* length_ge_20mm: occlusion length >= 20 mm (J-CTO).
* proximal cap: the narrow-side lumen area lost from the reference (its median over 2..5 mm before P) to
  the cap (its median over the last CAP_END_MM before P), per mm of the CAP_SPAN_MM before P, as a fraction
  of the reference: a secant slope. The narrow-side area is pi r^2, r the CAP_RADIUS_PERCENTILE-th
  percentile of the lumen contour's radii over the angles, not the contour's area: a side branch leaving
  at the cap, or a calcified nodule blooming beside it, widens the contour on its side right where the
  stump closes, and the whole area held (the tapered "heart" stump read 0.050 per mm: blunt). A secant, not
  a least-squares line over the last 2 mm: under blur a closing lumen reaches the smallest contour the
  detector finds (about 1 mm^2) before the cap, and a fit over that floor read the tapered
  "heart-long-low-contrast" stump, whose 250 HU lumen fades early, as blunt (0.121). A tapered stump loses
  most of its lumen into the occlusion (0.5 per mm in truth for a lumen closing over 2 mm); a blunt one
  keeps it to the cap. Tapered when the slope reaches TAPERED_SLOPE_PER_MM; see docs/accuracy.md for the
  presets' values. The shape is not read (None) where the analysis flags the lumen contour in the 5 mm before P
  (quality.proximal_lumen_flags: on the outer wall, or wider than the reference lumen): a contour on plaque lining
  the lumen widens it where the stump closes, and the tapered stump of a 70% stenosis lined with 300 HU plaque read
  blunt (-1.93 per mm).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # analysis computes the morphology at the end of its pass (analyze_lesion)
    from .analysis import LesionAnalysis
from .composition import COMPONENTS

TAPERED_SLOPE_PER_MM = 0.15
CAP_RADIUS_PERCENTILE = 10.0
CAP_SPAN_MM = 2.0
CAP_END_MM = 1.0
BENDING_LIMIT_DEG = 45.0
BENDING_WINDOW_MM = 10.0
SEVERE_CALCIUM_FRACTION = 0.5
LONG_OCCLUSION_MM = 20.0


def max_bending_deg(tangents: np.ndarray, step_mm: float, window_mm: float = BENDING_WINDOW_MM) -> float:
    """Largest angle (degrees) between unit tangents (N, 3), sampled every ``step_mm`` along the curve, that lie
    ``window_mm`` apart; between the first and last tangent when the curve is shorter than that."""
    if len(tangents) < 2:
        return 0.0
    lag = min(len(tangents) - 1, max(1, int(round(window_mm / step_mm))))
    cosines = np.clip(np.sum(tangents[:-lag] * tangents[lag:], axis=1), -1.0, 1.0)
    return float(np.degrees(np.arccos(cosines.min())))


def max_calcium_area_fraction(analysis: LesionAnalysis) -> float:
    inside = analysis.occluded_sections()
    calcium = analysis.profile.component_areas_mm2[:, 1 + COMPONENTS.index("dense_calcium")]
    fraction = calcium / np.maximum(analysis.profile.vessel_area_mm2, 1e-9)
    window = max(1, int(round(1.0 / analysis.centerline.step_mm)))
    return float(ndimage.uniform_filter1d(fraction, window, mode="nearest")[inside].max())


def proximal_cap_slope_per_mm(analysis: LesionAnalysis) -> float:
    """Fraction of the reference narrow-side lumen area lost per mm over the CAP_SPAN_MM before P (module docstring;
    NaN where not measured).

    A closing lumen is lost before P once the blur no longer resolves it: on the default 2 mm taper under a
    0.4-0.45 mm blur the last lumen lay 0.75-0.8 mm before P (a 0.56 mm lumen that read 0.74-0.89 mm); 0.5 mm before
    P the centre of the 0.38 mm lumen reads 133-138 HU, under contours.lumen_present's 150 HU, and its fall no
    longer lies within the lumen ring on most rays. The sections of the last CAP_END_MM after the last one with a
    lumen count with that one's area (``_cap_areas_mm2``), at least what they hold, so the slope is then a lower
    bound: it is given where the lumen is found in two sections of the last CAP_END_MM (as before) or where the
    bound already reaches TAPERED_SLOPE_PER_MM (tapered whatever those sections hold). A lumen still wide where it
    is last found (P placed past a blunt stump's end) leaves the shape unmeasured."""
    arc = analysis.profile.arc_mm - analysis.landmarks_mm["P"]
    found = np.pi * np.percentile(analysis.lumen_radii_mm, CAP_RADIUS_PERCENTILE, axis=1) ** 2
    area = _cap_areas_mm2(arc, found)
    reference_sections = (arc >= -5.0) & (arc <= -CAP_SPAN_MM)
    last = (arc >= -CAP_END_MM) & (arc < 0.0) & (area > 0)
    if np.count_nonzero(reference_sections) < 2 or not np.any(last):
        return float("nan")
    reference = np.median(area[reference_sections])
    if reference <= 0:
        return float("nan")
    slope = float((reference - np.median(area[last])) / (CAP_SPAN_MM * reference))
    seen = np.count_nonzero(last & (found > 0)) >= 2
    return slope if seen or slope >= TAPERED_SLOPE_PER_MM else float("nan")


def _cap_areas_mm2(arc_mm: np.ndarray, area_mm2: np.ndarray) -> np.ndarray:
    """Narrow-side lumen areas (S,) with the sections between the last one with a lumen before P and P (arc_mm, from
    P) at that section's area, an upper bound on a lumen lost as it closes; unchanged where none lies before P."""
    before = np.flatnonzero((arc_mm < 0.0) & (area_mm2 > 0))
    if not len(before):
        return area_mm2
    last = before[-1]
    return np.where((arc_mm > arc_mm[last]) & (arc_mm < 0.0), area_mm2[last], area_mm2)


def classify_morphology(bending_deg: float, calcium_fraction: float, length_mm: float, cap_slope_per_mm: float) -> dict:
    """The morphology record with its yes/no items, from the four measured numbers (NaN slope = unknown cap)."""
    cap = None if np.isnan(cap_slope_per_mm) else ("tapered" if cap_slope_per_mm >= TAPERED_SLOPE_PER_MM else "blunt")
    return {
        "max_bending_deg": float(bending_deg),
        "bending_gt_45": bool(bending_deg > BENDING_LIMIT_DEG),
        "max_calcium_area_fraction": float(calcium_fraction),
        "severe_calcification": bool(calcium_fraction > SEVERE_CALCIUM_FRACTION),
        "length_ge_20mm": bool(length_mm >= LONG_OCCLUSION_MM),
        "proximal_cap_slope_per_mm": None if cap is None else float(cap_slope_per_mm),
        "proximal_cap": cap,
        "blunt_stump": None if cap is None else cap == "blunt",
    }


def lesion_morphology(analysis: LesionAnalysis, read_cap: bool) -> dict:
    """The morphology record (``classify_morphology``) of ``analysis``; the proximal cap's shape left unknown unless
    ``read_cap`` (false where the lumen before P is flagged: module docstring)."""
    inside = analysis.occluded_sections()
    bending = max_bending_deg(analysis.centerline.tangents[inside], analysis.centerline.step_mm)
    slope = proximal_cap_slope_per_mm(analysis) if read_cap else float("nan")
    return classify_morphology(bending, max_calcium_area_fraction(analysis), analysis.occlusion_length_mm, slope)
