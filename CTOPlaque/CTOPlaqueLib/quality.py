"""How far one lesion's measurement can be trusted: quality measures, and warnings that name a fix.

The analysis measures the vessel it is given; on real anatomy it can be given the wrong one (a
centerline through the myocardium or along a vein) or measure a wall the scan cannot resolve.
Each measure below looks for one such failure, in the analysis's own cross-sections:

* occlusion_fat_edge_fraction: of the outer-wall rays between P and D, the fraction whose contour lies
  on a real wall/fat edge (contours.WallContour.fat_edge) rather than bridged across neighbours.
  An occluded coronary is a tube of plaque in epicardial fat, with fat along most of its
  circumference even where it touches the myocardium or a vein on one side.
* occlusion_min_fat_edge_fraction: the lowest such fraction over any OCCLUSION_WINDOW_MM of the
  occlusion: the "tube in fat" score along the path. Heart muscle has no fat inside it, so a stretch
  of centerline through the myocardium scores near 0 even when the rest of the path is right.
* occlusion_contrast_fraction: the fraction of the centerline between P and D whose sections hold a
  contrast-filled lumen (contours.lumen_present): an occluded artery has none, a vein or side branch
  does. Fibrous caps and calcium next to the centerline can pass the test over a few millimetres (up
  to 21% of the occlusion on the phantoms), a centerline that follows a vein over most of it.
* lumen_proximal, lumen_distal: a contrast-filled lumen in most sections of the REFERENCE_WINDOW_MM
  before P and after D; without it the caps (and S, E) are not where the contrast ends.
* occlusion_max_curvature_radius_product: the largest product, between P and D, of the centerline's curvature
  and the vessel's outer radius. Stacked sections overlap on the inner side of a bend whose radius of
  curvature is below the vessel's radius (product >= 1; the volume factor 1 - kappa r turns negative
  there), and a coronary, even on the 8 mm bend of the "bend" phantom (0.35), bends far more gently than
  that: a product above MAX_CURVATURE_RADIUS_PRODUCT is a kinked or jittery centerline.
* landmark_max_distance_mm: the largest distance of a landmark from the centerline.
* normal_wall_unresolved_fraction: of the sections with a lumen outside P..D, the fraction where the
  wall is thinner than the scan resolves and the outer wall is the lumen plus contours.NORMAL_WALL_MM.
* reference_lumen_found: at S and E, whether a lumen was found (else their lumen area is None, not 0).
* reference_fat_edge_fraction: at S and E, the fraction of outer-wall rays on a fat edge within
  REFERENCE_EDGE_WINDOW_MM of the section.
* reference_wall_resolved: at S and E, whether the wall was found, is at least the blur's full
  width at half maximum (2.355 sigma, sigma measured on the wall edges) thick, and lies on a fat edge
  along at least MIN_REFERENCE_FAT_EDGE_FRACTION of its rays. A thinner wall is not resolved: its
  outer edge is pulled toward the much stronger lumen edge, and the vessel area comes out up to 20%
  small (1.1 mm walls under 0.5 mm blur on the phantoms). Under 40 HU noise with fat at -70..-40 HU,
  a wall found on a fat edge along fewer than half its rays came out up to 25% small. The rule is
  conservative: some walls it flags measure within 10%.

* occlusion_min_local_area_ratio (and occlusion_min_local_area_at_mm, its distance from P): the smallest
  ratio, between P and D, of a section's vessel area to the median over LOCAL_AREA_WINDOW_MM either side.
  An occluded vessel's outer wall changes gradually along it; a dark region inside the plaque (the hypodense
  rim beam hardening leaves beside dense calcium, the undershoot of a sharp kernel, or a lipid core nearly as
  dark as the fat) is taken for the fat outside it, and the contour closes in over a few sections. Every
  preset scores 0.93 and up, and so does the blur/noise/fat sweep but for its case of a 25 HU lipid core
  against -40 HU fat under 30 HU noise, whose contour does close in (0.55); a 200 HU beam-hardening rim
  decaying over 1 mm scored 0.63 with the plaque volume 7% small and no other warning.
* lumen_edge_undershoot_hu: how far the image dips below the far epicardial fat just beyond the lumen
  (reconstruction_kernel.py): above MAX_LUMEN_EDGE_UNDERSHOOT_HU the scan was reconstructed with an
  edge-enhancing kernel, under which the plaque volume reads small with no other warning. None where too
  few sections have a lumen.

* cap_lumen_vessel_area_ratio (and cap_lumen_vessel_area_at_mm, where: negative before P, positive after D): the
  largest lumen area / vessel area, averaged over LUMEN_RATIO_WINDOW_MM, in the REFERENCE_WINDOW_MM before P and
  after D, over the sections whose wall was found on a fat edge (contours.WallContour.resolved). A lumen has a
  wall around it, and next to a cap that wall is often plaque: a lumen contour taken to the wall's outer edge reads
  the vessel's area, and the cap shape and references placed there follow it. A 1.6 mm lumen in a 1.1 mm wall
  reads 0.38; the presets with 0.4 mm normal walls read up to 0.52 where such a wall is found on a fat edge (ten
  presets 0.38..0.52 on the true centerline; from two seeds heart 0.53, heart-long-low-contrast 0.55 and wrap-vein
  0.58, a 1.4 mm lumen in a 0.4 mm wall found on a fat edge 5 mm after D, true ratio 0.60), the diseased-segment
  phantoms whose lumen is right 0.15..0.33. The contours
  that were wrong read 0.62 (issue 26's case before its lumen edge was fixed), 0.64 (a 70% stenosis lined with
  300 HU plaque under a 0.5 mm blur, lumen +27% before P; 0.63 now) and 0.71 (a 60 HU lumen/lining step beside a
  calcified sector, lumen 2.4 times too large after D; 0.64 and 2.1 times now, 0.63 without the calcium). The cut,
  MAX_CAP_LUMEN_VESSEL_AREA_RATIO 0.60, lies midway between
  0.58 and 0.62 (0.58 until wrap-vein's right contour read 0.5806 from two seeds); the former 0.65 missed the issue's
  own failure. A round lumen in a resolved 0.4 mm wall scores (r / (r + 0.4))^2, above the cut for r > 1.37 mm: such
  a lumen is flagged, conservatively. So is a vessel narrowed at a cap to no wider than its lumen: the negatively
  remodelled phantoms (Testing/test_vein_against_the_wall.py) read 0.63-0.65 just after D, where their 1.45 mm lumen
  starts at D inside an outer wall remodelled to 1.0 mm (true ratio 1.0), and the contour reads that lumen 24-35%
  small, not large. cap_lumen_vessel_area_other_ratio and cap_lumen_vessel_area_other_at_mm are
  the same on the other cap's side (0 and None where that side has no counted section), so that the warning names
  both sides where both are on the wall. (lumen_on_wall_measures)
* proximal_cap_lumen_reference_ratio and distal_cap_lumen_reference_ratio (and their _at_mm, as above): the
  largest lumen area, averaged over LUMEN_RATIO_WINDOW_MM, in the REFERENCE_WINDOW_MM before P (after D) over the
  larger of the lumen areas at S and E. Next to an occlusion the lumen is usually narrowed, seldom wider than the
  reference lumen; a lumen contour on bright plaque lining a stenosis reads it wider. The lumen-on-wall ratio
  misses that when the lining is thick: a 70% stenosis lined with 300 HU plaque under a 0.5 mm blur (a 0.86 mm
  lumen 100 HU above its lining) read +66% (up to +169%) after D with a lumen/vessel ratio of 0.41, and 1.87
  times its reference lumen here. Correct contours read up to 1.28 (the diseased-segment phantoms of
  Testing/test_lumen_beside_plaque.py; the 18 presets on the true centerline 0.78-1.02; against the same side's
  reference alone up to 1.29, hence the larger of S and E); the cut, MAX_CAP_LUMEN_REFERENCE_RATIO 1.5, lies
  between. (lumen_beside_cap_measures)

* proximal_cap_measured: whether the proximal cap's shape was measured (morphology.proximal_cap_slope_per_mm), and
  proximal_lumen_end_mm, how far before P the lumen was last found over the REFERENCE_WINDOW_MM before P (None where
  none was). A lumen closing into the cap is lost before P once narrower than the lumen test resolves (0.75-0.8 mm
  before P on the default 2 mm taper): the shape is still measured, as tapered where the lumen had narrowed enough
  by then. It is not measured where the lumen is last found short of two sections in the last CAP_END_MM and still
  wider than 70% of its area 2-5 mm before P (P lies past a blunt stump's end, or the lumen is lost in noise or
  bright plaque before it narrows): the cap's shape and the blunt-stump score items are then left empty, and the
  warning says where the lumen ends. Nor is it measured where the lumen before P is flagged, on the outer wall or
  wider than the reference lumen (proximal_lumen_flags, over the REFERENCE_WINDOW_MM before P, the stretch the cap's
  slope is read from): a cap shape is not read from a lumen contour the analysis itself distrusts, and the warning
  names the flags and where they lie. (proximal_lumen_end_measures; proximal_cap_measured set with the morphology)
* {proximal,distal}_lumen_area_uncertainty_fraction: the standard deviation, relative to the area, of the mean lumen
  area from LUMEN_UNCERTAINTY_NEAR_MM to REFERENCE_WINDOW_MM before P and after D that the image's noise leaves (None
  where that window has fewer than MIN_UNCERTAINTY_SECTIONS sections with a lumen), with the noise and the lumen edge's
  slope it comes from (lumen_noise_sd_hu; {proximal,distal}_lumen_edge_slope_hu_per_mm). Noise moves an edge by noise /
  slope; a narrow lumen (1 mm beside a stenosis) a little above its plaque lining (100-150 HU) under blur falls slowly,
  and 0.05 mm of its radius is 10% of its area. The edge's errors are correlated over LUMEN_EDGE_NOISE_AREA_MM2 of the
  lumen's wall (the contour's smoothing along and around the vessel), so over a window of length L: uncertainty = 2
  (noise / slope) / r x sqrt(LUMEN_EDGE_NOISE_AREA_MM2 / (2 pi r L)), r the mean radius. Above
  MAX_LUMEN_AREA_UNCERTAINTY (14%, above the 10% a lumen area next to a cap is meant to hold) a warning names the side.
  (lumen_area_uncertainty_measures)
* {proximal,distal}_wall_unresolved_fraction: of the sections with a lumen in the
  REFERENCE_WINDOW_MM before P and after D, the fraction whose wall is not resolved (thinner than the scan resolves
  or without a fat edge; None without such sections). A normal wall (60 HU) about one blur sigma thick blurs its
  fall to the fat into the lumen's fall: their steepest slope, where the lumen edge is read, lies 0.10-0.16 mm
  outside the lumen's (a 0.4 mm wall under a 0.35 mm blur, noise-free; the sum of two blurred steps puts it
  0.11-0.18 mm out with 240-370 HU contrast), and the lumen area reads large: +12% / +20% before P / after D on
  wrap-vein, +12% / +21% on heart-long-low-contrast, +12% / +13% on thin-wall (0.4 mm walls); a 1.1 mm wall, three
  sigmas, moves it by 0.01 mm. The wall's thickness and the blur cannot be told apart on the lumen's own fall, so the
  edge is not corrected. Above MAX_UNRESOLVED_WALL_FRACTION a warning names the side; it also names heart's (0.4 mm
  wall, 0.5 mm blur), whose lumen reads -3% / -12% (docs/accuracy.md). (quality_measures)

* misregistration_step_mm (at misregistration_step_at_mm from the ostium, _after_p_mm and _after_d_mm from the
  caps, between slices misregistration_step_slice - 1 and misregistration_step_slice): the largest sideways jump
  of the vessel between two adjacent axial slices beyond the slice-to-slice drift around it (misregistration.py),
  an ECG-misregistration step. Above MAX_MISREGISTRATION_STEP_MM the vessel is cut and shifted there. 0 where no
  jump stands out from the drift around it, None where too few slice pairs cut the vessel.

blur_sigma_mm and fat_hu record the scanner blur and the epicardial fat level the contours were found with.

Thresholds were chosen on the phantoms (phantom.PRESETS): every correct extraction stays clear of
them, and the centerlines displaced into the myocardium or the vein of Testing/test_quality.py
cross them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .contours import (FAT_SEARCH_MIN_HU, HALF_NORMAL_MEDIAN_SD, NORMAL_WALL_MM, ContourParameters, WallContour,
                       blurred_disc_steepest_mm, contour_area_mm2, fitted_step_radii_mm, profiles_across_contour)
from .crosssection import PolarGrid
from .landmarks import reference_section_indices
from .morphology import CAP_END_MM

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
OCCLUSION_WINDOW_MM = 2.0
REFERENCE_WINDOW_MM = 5.0
REFERENCE_EDGE_WINDOW_MM = 1.0
MIN_REFERENCE_FAT_EDGE_FRACTION = 0.5
MIN_OCCLUSION_FAT_EDGE_FRACTION = 0.5
# Centerlines displaced into the myocardium of Testing/test_quality.py score 0.00..0.07, correct extractions
# of the presets 0.149 and up (the "heart" preset, contact and blur 0.5 mm): the cut lies between.
MIN_WINDOW_FAT_EDGE_FRACTION = 0.1
MAX_OCCLUSION_CONTRAST_FRACTION = 0.3
MIN_LUMEN_SECTION_FRACTION = 0.5
MAX_LANDMARK_DISTANCE_MM = 1.0
MAX_CURVATURE_RADIUS_PRODUCT = 0.7
MAX_UNRESOLVED_WALL_FRACTION = 0.5
LOCAL_AREA_WINDOW_MM = 3.0
MIN_LOCAL_AREA_RATIO = 0.85
# Smooth-kernel phantoms read -8.2..+1.2 HU (every preset, and every case of the blur/noise/fat sweep); an unsharp
# mask of boost 1.0 reads +6.8..+29.5 HU (the lowest under 0.6 mm blur, volume within 3%), boost 1.5 +23..+50 HU;
# every case whose plaque volume is off by more than 5% reads 9.6 HU or more (figures from before the noise margin of
# issue 22, which lowers smooth kernels under heavy textured noise most: docs/accuracy.md).
MAX_LUMEN_EDGE_UNDERSHOOT_HU = 5.0
# Lumen / vessel area next to a cap above which the lumen contour lies on the outer wall (see the module docstring).
MAX_CAP_LUMEN_VESSEL_AREA_RATIO = 0.60
LUMEN_RATIO_WINDOW_MM = 1.0
# A lumen next to a cap larger than the reference lumen by more than this (lumen_beside_cap_measures): correct
# contours read up to 1.28, stenosis-70-300's lumen on its lining 1.87 after D (module docstring).
MAX_CAP_LUMEN_REFERENCE_RATIO = 1.5
# A contour this far outside the image's wall/fat edge makes the vessel area about 5% large (2 x offset / radius).
MAX_OUTWARD_AREA_FRACTION = 0.05
# Fat-edge rays needed in a window to read its mean profile (a few sections' worth).
MIN_OUTWARD_RAYS = 100
# A jump between two axial slices that stands out from the drift around it (misregistration.MIN_STEP_SIGNIFICANCE)
# and is longer than this is a misregistration step: the phantoms' 1 and 2 mm steps read 1.03-1.04 and 2.01 mm.
MAX_MISREGISTRATION_STEP_MM = 0.5
# The window next to each cap whose lumen area's uncertainty is estimated starts this far from the cap and ends at
# REFERENCE_WINDOW_MM: past the last 2 mm where a tapered cap closes (lumen_area_uncertainty_measures).
LUMEN_UNCERTAINTY_NEAR_MM = 2.0
MIN_UNCERTAINTY_SECTIONS = 4
# The lumen wall's area (mm^2) over which the lumen edge's noise errors are correlated, calibrated on the sides of the
# issue 26 phantoms whose error is noise (20-40 HU white noise, 0.3-0.45 mm blur, 100-150 HU lumen/lining steps):
# their window's area error over the estimate had a root mean square of 2.26 with 1 mm^2 (26 sides), 0.95 with this
# (28 sides; docs/accuracy.md).
LUMEN_EDGE_NOISE_AREA_MM2 = 5.1
# Above this the lumen area next to a cap is warned uncertain: above the 10% that area is meant to hold, as the lining
# cases whose lumen holds 10% on their test seeds (Testing/test_lumen_beside_plaque.py) read up to 12.9%
# (stenosis-60-blunt after D, a 100 HU lumen/lining step under 20 HU noise, -9..+17% over five seeds).
MAX_LUMEN_AREA_UNCERTAINTY = 0.14
# The largest uncertainty reported (1: the area's own size), where the slope across the contour gives none
# (lumen_area_uncertainty_measures).
MAX_LUMEN_AREA_UNCERTAINTY_FRACTION = 1.0


def quality_measures(arc_mm: np.ndarray, landmarks_mm: dict, landmark_distances_mm: dict, has_lumen: np.ndarray,
                     lumen_radii_mm: np.ndarray, wall: WallContour, curvature_per_mm: np.ndarray) -> dict:
    """The quality measures of the module docstring.

    arc_mm: (S,) section positions along the centerline; landmarks_mm: label -> arc position;
    landmark_distances_mm: label -> distance from the centerline; has_lumen: (S,) contrast lumen
    present (lumen_present, not yet cleared inside the occlusion); lumen_radii_mm: (S, A); wall: the
    outer wall contour with its fat-edge support and resolution; curvature_per_mm: (S,) the centerline's
    curvature |dT/ds|.
    """
    fat_edge, wall_resolved = wall.fat_edge, wall.resolved
    thickness_mm = np.mean(wall.radii_mm - lumen_radii_mm, axis=1)
    resolvable_mm = FWHM_PER_SIGMA * wall.blur_sigma_mm
    step_mm = float(arc_mm[1] - arc_mm[0])
    occluded = (arc_mm >= landmarks_mm["P"]) & (arc_mm <= landmarks_mm["D"])
    section_fraction = np.mean(fat_edge, axis=1)
    window = max(1, int(round(OCCLUSION_WINDOW_MM / step_mm)))
    windowed = ndimage.uniform_filter1d(section_fraction, window, mode="nearest")
    before = (arc_mm >= landmarks_mm["P"] - REFERENCE_WINDOW_MM) & (arc_mm < landmarks_mm["P"])
    after = (arc_mm > landmarks_mm["D"]) & (arc_mm <= landmarks_mm["D"] + REFERENCE_WINDOW_MM)
    normal = has_lumen & ~occluded
    reach = int(round(REFERENCE_EDGE_WINDOW_MM / step_mm))
    references = reference_section_indices(arc_mm, landmarks_mm)
    vessel_area = contour_area_mm2(wall.radii_mm)
    local_window = 2 * int(round(LOCAL_AREA_WINDOW_MM / step_mm)) + 1
    local_area = ndimage.median_filter(vessel_area, local_window, mode="nearest")
    # 1 where the area around is nothing (a reader's edit that erased the wall of whole sections)
    local_area_ratio = np.divide(vessel_area, local_area, out=np.ones_like(vessel_area), where=local_area > 0)[occluded]
    narrowest = int(np.argmin(local_area_ratio))
    reference_fraction = {label: float(section_fraction[max(0, index - reach): index + reach + 1].mean())
                          for label, index in references.items()}
    return {
        "occlusion_fat_edge_fraction": float(section_fraction[occluded].mean()),
        "occlusion_min_fat_edge_fraction": float(windowed[occluded].min()),
        "occlusion_contrast_fraction": float(np.mean(has_lumen[occluded])),
        "occlusion_max_curvature_radius_product": float(np.max(curvature_per_mm[occluded]
                                                               * wall.radii_mm[occluded].max(axis=1))),
        "occlusion_min_local_area_ratio": float(local_area_ratio[narrowest]),
        "occlusion_min_local_area_at_mm": float(arc_mm[occluded][narrowest] - landmarks_mm["P"]),
        "lumen_proximal": bool(np.any(before) and has_lumen[before].mean() >= MIN_LUMEN_SECTION_FRACTION),
        "lumen_distal": bool(np.any(after) and has_lumen[after].mean() >= MIN_LUMEN_SECTION_FRACTION),
        "landmark_max_distance_mm": float(max(landmark_distances_mm.values())),
        "normal_wall_unresolved_fraction": float(np.mean(~wall_resolved[normal])) if np.any(normal) else 0.0,
        **{f"{side}_wall_unresolved_fraction": float(np.mean(~wall_resolved[near])) if np.any(near) else None
           for side, _, near in _cap_sides(arc_mm, landmarks_mm, normal)},
        "reference_fat_edge_fraction": reference_fraction,
        "reference_lumen_found": {label: bool(np.any(lumen_radii_mm[index] > 0))
                                  for label, index in references.items()},
        "reference_wall_resolved": {
            label: bool(wall_resolved[index] and thickness_mm[index] >= resolvable_mm
                        and reference_fraction[label] >= MIN_REFERENCE_FAT_EDGE_FRACTION)
            for label, index in references.items()},
        "blur_sigma_mm": float(wall.blur_sigma_mm),
        "fat_hu": float(wall.fat_hu),
    }


def lumen_on_wall_measures(arc_mm: np.ndarray, landmarks_mm: dict, lumen_radii_mm: np.ndarray,
                           wall: WallContour) -> dict:
    """cap_lumen_vessel_area_ratio and cap_lumen_vessel_area_at_mm, the side of the larger ratio, and
    cap_lumen_vessel_area_other_ratio and cap_lumen_vessel_area_other_at_mm, the other side (module docstring);
    arc_mm: (S,) section positions, landmarks_mm: label -> arc position, lumen_radii_mm: (S, A), 0 where no lumen; a
    side's ratio is 0 (and its position None) where no section next to its cap has both a lumen and a resolved
    wall."""
    counted = np.any(lumen_radii_mm > 0, axis=1) & wall.resolved
    ratio = np.where(counted, contour_area_mm2(lumen_radii_mm) / np.maximum(contour_area_mm2(wall.radii_mm), 1e-9), 0.0)
    mean_ratio = _window_mean(ratio, counted, float(arc_mm[1] - arc_mm[0]))
    sides = [_largest_ratio(mean_ratio, near, offset_mm) for _, offset_mm, near in _cap_sides(arc_mm, landmarks_mm,
                                                                                               counted)]
    larger, other = sorted(sides, key=lambda side: side[0], reverse=True)
    return {"cap_lumen_vessel_area_ratio": larger[0], "cap_lumen_vessel_area_at_mm": larger[1],
            "cap_lumen_vessel_area_other_ratio": other[0], "cap_lumen_vessel_area_other_at_mm": other[1]}


def _window_mean(values: np.ndarray, counted: np.ndarray, step_mm: float) -> np.ndarray:
    """Per section, the mean of ``values`` over the ``counted`` sections within LUMEN_RATIO_WINDOW_MM (sections
    ``step_mm`` apart)."""
    window = max(1, int(round(LUMEN_RATIO_WINDOW_MM / step_mm)))
    return (ndimage.uniform_filter1d(np.where(counted, values, 0.0), window, mode="nearest")
            / np.maximum(ndimage.uniform_filter1d(counted.astype(float), window, mode="nearest"), 1e-9))


def _cap_sides(arc_mm: np.ndarray, landmarks_mm: dict, counted: np.ndarray) -> list:
    """[("proximal", offset from P (mm), the counted sections in the REFERENCE_WINDOW_MM before P), ("distal", offset
    from D, those in the REFERENCE_WINDOW_MM after D)]."""
    before = arc_mm - landmarks_mm["P"]
    after = arc_mm - landmarks_mm["D"]
    return [("proximal", before, counted & (before >= -REFERENCE_WINDOW_MM) & (before < 0)),
            ("distal", after, counted & (after > 0) & (after <= REFERENCE_WINDOW_MM))]


def _largest_ratio(mean_ratio: np.ndarray, near: np.ndarray, offset_mm: np.ndarray) -> tuple:
    """(the largest of mean_ratio over the ``near`` sections, its offset_mm from its cap); (0.0, None) without one."""
    if not np.any(near):
        return 0.0, None
    index = np.flatnonzero(near)[np.argmax(mean_ratio[near])]
    return float(mean_ratio[index]), float(offset_mm[index])


def lumen_beside_cap_measures(arc_mm: np.ndarray, landmarks_mm: dict, lumen_radii_mm: np.ndarray) -> dict:
    """proximal_cap_lumen_reference_ratio, distal_cap_lumen_reference_ratio and their _at_mm (module docstring):
    per side, the largest lumen area, averaged over LUMEN_RATIO_WINDOW_MM, in the REFERENCE_WINDOW_MM before P or
    after D, over the larger of the lumen areas so averaged at S and E, and its offset from its cap (mm, negative
    before P). arc_mm: (S,) section positions, landmarks_mm: label -> arc position, lumen_radii_mm: (S, A), 0 where
    no lumen. None (and the position None) where neither S nor E, or no section next to that cap, has a lumen."""
    area_mm2 = contour_area_mm2(lumen_radii_mm)
    found = area_mm2 > 0
    mean_mm2 = _window_mean(area_mm2, found, float(arc_mm[1] - arc_mm[0]))
    at_references = [int(np.argmin(np.abs(arc_mm - landmarks_mm[label]))) for label in ("S", "E")
                     if label in landmarks_mm]
    references_mm2 = [mean_mm2[index] for index in at_references if found[index]]
    measures = {}
    for side, offset_mm, near in _cap_sides(arc_mm, landmarks_mm, found):
        largest_mm2, at_mm = _largest_ratio(mean_mm2, near, offset_mm)
        measured = at_mm is not None and bool(references_mm2)
        measures[f"{side}_cap_lumen_reference_ratio"] = largest_mm2 / max(references_mm2) if measured else None
        measures[f"{side}_cap_lumen_reference_at_mm"] = at_mm if measured else None
    return measures


def proximal_lumen_end_measures(arc_mm: np.ndarray, landmarks_mm: dict, lumen_radii_mm: np.ndarray) -> dict:
    """proximal_lumen_end_mm (module docstring): P less the position of the last section with a lumen among those
    in the REFERENCE_WINDOW_MM before P (mm; arc_mm: (S,) section positions, landmarks_mm: label -> arc position,
    lumen_radii_mm: (S, A), 0 where no lumen); None where none of them has a lumen."""
    before = (arc_mm >= landmarks_mm["P"] - REFERENCE_WINDOW_MM) & (arc_mm < landmarks_mm["P"])
    found = before & np.any(lumen_radii_mm > 0, axis=1)
    if not np.any(found):
        return {"proximal_lumen_end_mm": None}
    return {"proximal_lumen_end_mm": float(landmarks_mm["P"] - arc_mm[found].max())}


def image_noise_sd_hu(samples_hu: np.ndarray, grid: PolarGrid, fat_hu: float,
                      params: ContourParameters = ContourParameters()) -> float | None:
    """The image noise (HU, one standard deviation of the polar samples) read off the epicardial fat: the samples in
    the outer ``fat_ring_mm`` of every section below ``fat_hu`` (the fat level, ``contours.fat_level_hu``) are the
    dark half of the fat's noise, their median distance below it HALF_NORMAL_MEDIAN_SD of its standard deviation.
    The dark half only: the ring's brighter samples hold the wall, the myocardium and veins as well; and none below
    FAT_SEARCH_MIN_HU, which are not fat: air, and the samples outside the volume (OUTSIDE_VOLUME_HU; counted, they
    read 10 HU of noise as 11.3 HU with 5% of the sections outside, as much of the centerline as the analysis
    accepts outside, 12.8 HU with 10%, 17.2 HU with 20%). samples_hu: (S, A, R). None where no sample lies between
    the two levels."""
    ring = samples_hu[:, :, grid.radii_mm >= grid.radii_mm[-1] - params.fat_ring_mm]
    below_hu = fat_hu - ring[(ring < fat_hu) & (ring > FAT_SEARCH_MIN_HU)]
    return float(np.median(below_hu)) / HALF_NORMAL_MEDIAN_SD if below_hu.size else None


def lumen_area_uncertainty_measures(arc_mm: np.ndarray, landmarks_mm: dict, samples_hu: np.ndarray, grid: PolarGrid,
                                    lumen_radii_mm: np.ndarray, fat_hu: float,
                                    params: ContourParameters = ContourParameters()) -> dict:
    """{proximal,distal}_lumen_area_uncertainty_fraction (module docstring),
    {proximal,distal}_lumen_edge_slope_hu_per_mm and lumen_noise_sd_hu. arc_mm: (S,) section positions; landmarks_mm:
    label -> arc position; samples_hu: the analysis's polar samples (S, A, R); lumen_radii_mm: (S, A), 0 where no lumen;
    fat_hu: the fat level.

    The slope is the image's fall across the lumen contour, (I(r - h) - I(r + h)) / 2h with h = ``profile_sigma_mm``
    (the detection's radial smoothing), averaged over the rays of the window; the noise is ``image_noise_sd_hu``. A
    side's measures are None where its window has fewer than MIN_UNCERTAINTY_SECTIONS sections with a lumen, or no
    noise was measured. The uncertainty is at most MAX_LUMEN_AREA_UNCERTAINTY_FRACTION: a contour with no fall across it
    (a slope of 0 or less, e.g. rays that rise into calcium) has no edge for noise to move, and the noise model no
    longer applies."""
    noise_hu = image_noise_sd_hu(samples_hu, grid, fat_hu, params)
    measures = {"lumen_noise_sd_hu": noise_hu}
    found = np.all(lumen_radii_mm > 0, axis=1)
    half_mm = params.profile_sigma_mm
    for side, offset_mm, near in _cap_sides(arc_mm, landmarks_mm, found):
        window = near & (np.abs(offset_mm) >= LUMEN_UNCERTAINTY_NEAR_MM)
        uncertainty = slope = None
        if noise_hu is not None and np.count_nonzero(window) >= MIN_UNCERTAINTY_SECTIONS:
            rays = np.zeros(lumen_radii_mm.shape, bool)
            rays[window] = True
            across = profiles_across_contour(samples_hu, grid, lumen_radii_mm, rays, np.array([-half_mm, half_mm]))
            slope = float(np.mean(across[:, 0] - across[:, 1]) / (2.0 * half_mm))
            radius_mm = float(np.mean(lumen_radii_mm[window]))
            length_mm = np.count_nonzero(window) * float(arc_mm[1] - arc_mm[0])
            edge_sd_mm = noise_hu / slope if slope > 0 else np.inf
            correlated = np.sqrt(LUMEN_EDGE_NOISE_AREA_MM2 / (2.0 * np.pi * radius_mm * length_mm))
            uncertainty = min(MAX_LUMEN_AREA_UNCERTAINTY_FRACTION, float(2.0 * edge_sd_mm / radius_mm * correlated))
        measures[f"{side}_lumen_area_uncertainty_fraction"] = uncertainty
        measures[f"{side}_lumen_edge_slope_hu_per_mm"] = slope
    return measures


@dataclass(frozen=True)
class WarningSite:
    """Where a measure in warning lies: ``offset_mm`` along the centerline from ``landmark`` (P or D, negative
    before it), or from the ostium where ``landmark`` is None."""

    offset_mm: float
    landmark: str | None = None

    def position_mm(self, landmarks_mm: dict) -> float:
        """Its arc position (mm from the ostium) given the landmarks' (label -> arc position)."""
        return float(self.offset_mm + (landmarks_mm[self.landmark] if self.landmark else 0.0))

    def text(self) -> str:
        """"6.3 mm after P", "1.5 mm before P", "24.2 mm from the ostium"."""
        if self.landmark is None:
            return f"{self.offset_mm:.1f} mm from the ostium"
        return f"{abs(self.offset_mm):.1f} mm {'before' if self.offset_mm < 0 else 'after'} {self.landmark}"


# The measures that lie at one position: each function below says whether its measure is in warning and where
# (None: no warning; a measure absent from an earlier export, or None where unmeasured, is no warning). Both the
# warnings (quality_warnings) and the positions a reader jumps to (section_view.warning_marks) come from them.
def local_area_site(quality: dict) -> WarningSite | None:
    """The outer wall closing in (occlusion_min_local_area_ratio below MIN_LOCAL_AREA_RATIO), after P."""
    if quality.get("occlusion_min_local_area_ratio", 1.0) >= MIN_LOCAL_AREA_RATIO:
        return None
    return WarningSite(quality["occlusion_min_local_area_at_mm"], "P")


def wall_outward_site(quality: dict) -> WarningSite | None:
    """The outer wall pushed outward (occlusion_wall_outward_area_fraction above MAX_OUTWARD_AREA_FRACTION),
    after P."""
    excess = quality.get("occlusion_wall_outward_area_fraction")
    if excess is None or excess <= MAX_OUTWARD_AREA_FRACTION:
        return None
    return WarningSite(quality["occlusion_wall_outward_at_mm"], "P")


def lumen_on_wall_sites(quality: dict) -> list:
    """The lumen contour on the outer wall beside a cap: [(WarningSite, ratio)] of each side whose ratio
    (cap_lumen_vessel_area_ratio, then cap_lumen_vessel_area_other_ratio, absent from earlier exports) is above
    MAX_CAP_LUMEN_VESSEL_AREA_RATIO, before P where its position is negative, else after D; the larger first."""
    sites = []
    for ratio_key, at_key in (("cap_lumen_vessel_area_ratio", "cap_lumen_vessel_area_at_mm"),
                              ("cap_lumen_vessel_area_other_ratio", "cap_lumen_vessel_area_other_at_mm")):
        ratio = quality.get(ratio_key, 0.0)
        if ratio > MAX_CAP_LUMEN_VESSEL_AREA_RATIO:
            sites.append((WarningSite(quality[at_key], "P" if quality[at_key] < 0 else "D"), ratio))
    return sites


def lumen_beside_cap_sites(quality: dict) -> list:
    """A lumen next to a cap larger than the reference lumen: [(WarningSite, ratio)] of each side whose
    {proximal,distal}_cap_lumen_reference_ratio (absent from earlier exports, None where unmeasured) is above
    MAX_CAP_LUMEN_REFERENCE_RATIO, before P, then after D."""
    sites = []
    for side, cap in (("proximal", "P"), ("distal", "D")):
        ratio = quality.get(f"{side}_cap_lumen_reference_ratio")
        if ratio is not None and ratio > MAX_CAP_LUMEN_REFERENCE_RATIO:
            sites.append((WarningSite(quality[f"{side}_cap_lumen_reference_at_mm"], cap), ratio))
    return sites


def _sides_above(quality: dict, measure: str, cut: float) -> list:
    """[(WarningSite, value)] of each side whose {proximal,distal}_``measure`` (absent from earlier exports, None where
    unmeasured) is above ``cut``, at LUMEN_UNCERTAINTY_NEAR_MM before P or after D (where the flat lumen next to a
    tapered cap begins)."""
    sites = []
    for side, cap, sign in (("proximal", "P", -1.0), ("distal", "D", 1.0)):
        value = quality.get(f"{side}_{measure}")
        if value is not None and value > cut:
            sites.append((WarningSite(sign * LUMEN_UNCERTAINTY_NEAR_MM, cap), value))
    return sites


def lumen_uncertainty_sites(quality: dict) -> list:
    """A lumen area next to a cap more uncertain than MAX_LUMEN_AREA_UNCERTAINTY: [(WarningSite, uncertainty)] of
    each side whose {proximal,distal}_lumen_area_uncertainty_fraction is above it (``_sides_above``)."""
    return _sides_above(quality, "lumen_area_uncertainty_fraction", MAX_LUMEN_AREA_UNCERTAINTY)


def thin_wall_lumen_sites(quality: dict) -> list:
    """A lumen next to a cap inside a wall the scan does not resolve: [(WarningSite, fraction)] of each side whose
    {proximal,distal}_wall_unresolved_fraction is above MAX_UNRESOLVED_WALL_FRACTION (``_sides_above``)."""
    return _sides_above(quality, "wall_unresolved_fraction", MAX_UNRESOLVED_WALL_FRACTION)


def proximal_lumen_flags(quality: dict) -> list:
    """The lumen contour next to the proximal cap flagged, which leaves the cap's shape unread (morphology):
    [(WarningSite before P, what the contour reads there)] of the lumen on the outer wall (``lumen_on_wall_sites``),
    then of the lumen wider than the reference lumen (``lumen_beside_cap_sites``), on the side before P; [] where
    neither is."""
    flags = [(site, f"fills {100 * ratio:.0f}% of the vessel area") for site, ratio in lumen_on_wall_sites(quality)]
    flags += [(site, f"reads {ratio:.1f} times the reference lumen (the larger of S and E)")
              for site, ratio in lumen_beside_cap_sites(quality)]
    return [(site, reading) for site, reading in flags if site.landmark == "P"]


def cap_shape_site(quality: dict) -> WarningSite | None:
    """The proximal cap's shape not measured though a lumen lies before P (proximal_cap_measured false, lumen_proximal
    true: where no lumen is found before P, the lumen_proximal warning speaks), where the lumen was last found
    (proximal_lumen_end_mm) before P. A lumen found within half of CAP_END_MM of P leaves the shape unmeasured for
    another reason (too few sections 2-5 mm before P, or the lumen flagged: ``proximal_lumen_flags``, whose warning
    speaks then): the warning's words would not hold, and it is not given."""
    end_mm = quality.get("proximal_lumen_end_mm")
    if (quality.get("proximal_cap_measured", True) or not quality["lumen_proximal"] or end_mm is None
            or end_mm <= 0.5 * CAP_END_MM or proximal_lumen_flags(quality)):
        return None
    return WarningSite(-end_mm, "P")


def misregistration_site(quality: dict) -> WarningSite | None:
    """An ECG-misregistration step (misregistration_step_mm above MAX_MISREGISTRATION_STEP_MM), from the
    ostium."""
    step_mm = quality.get("misregistration_step_mm")
    if step_mm is None or step_mm <= MAX_MISREGISTRATION_STEP_MM:
        return None
    return WarningSite(quality["misregistration_step_at_mm"])


def reference_lumen_missing(quality: dict) -> list:
    """The reference landmarks (S, E) at which no lumen was found (reference_lumen_found)."""
    return [label for label, found in quality.get("reference_lumen_found", {}).items() if not found]


def reference_wall_unresolved(quality: dict) -> list:
    """The reference landmarks (S, E) whose wall is not resolved (reference_wall_resolved)."""
    return [label for label, resolved in quality.get("reference_wall_resolved", {}).items() if not resolved]


# Where a warning lies, for marking it reviewed after an edit (quality_warnings): stretches of centerline as
# (start, end) WarningSite pairs. The half-bridged wall is a finding about the whole occluded wall, P to D.
OCCLUSION = ((WarningSite(0.0, "P"), WarningSite(0.0, "D")),)
# The start of a warning that lies where the reader edited the contours.
REVIEWED_MARK = "Reviewed by the reader"


@dataclass(frozen=True)
class LocatedWarning:
    """One warning of ``quality_warnings`` with where it lies.

    kind: the quality measure it comes from (a key of the quality dict, e.g. "occlusion_min_local_area_ratio", or
    "cap_lumen_reference_ratio" for the proximal_ and distal_ pair of one warning),
    the same whatever its words, so that a warning after an edit is matched with the automatic analysis's;
    text: the sentence; where: the stretches of centerline a contour edit must cover to answer it ((start, end)
    WarningSite pairs, a point where start is end; () for a warning no contour edit answers: the centerline,
    the landmarks, the scan); marks: the positions a reader jumps to ((short description, WarningSite)), ()
    for a warning about no one position."""

    kind: str
    text: str
    where: tuple = ()
    marks: tuple = ()


def at_site(site: WarningSite) -> tuple:
    """The stretch of one position (``where`` of quality_warnings and reviewed_ranges_mm)."""
    return ((site, site),)


def at_landmarks(labels: list) -> tuple:
    """The positions of the landmarks ``labels`` (S, E), as stretches."""
    return tuple((WarningSite(0.0, label),) * 2 for label in labels)


def reviewed_ranges_mm(where: tuple, landmarks_mm: dict, edited_ranges_mm, step_mm: float) -> list | None:
    """The edited ranges ([first, last] section positions, mm from the ostium) that hold every stretch of ``where``
    ((start, end) WarningSite pairs, positions from ``landmarks_mm``), each within one range widened by half the
    section step ``step_mm`` (a section stands for its slab); None when a stretch lies (partly) outside them, or
    ``where`` or ``edited_ranges_mm`` is empty."""
    if not edited_ranges_mm:
        return None
    held = []
    for start, end in where:
        start_mm, end_mm = start.position_mm(landmarks_mm), end.position_mm(landmarks_mm)
        run = next((list(run) for run in edited_ranges_mm
                    if run[0] - 0.5 * step_mm <= start_mm and end_mm <= run[1] + 0.5 * step_mm), None)
        if run is None:
            return None
        if run not in held:
            held.append(run)
    return held or None


def is_reviewed(warning: str) -> bool:
    """Whether a warning text is marked as lying where the reader edited the contours (quality_warnings)."""
    return warning.startswith(REVIEWED_MARK)


def _marked(text: str, runs: list | None) -> str:
    """``text``, marked with REVIEWED_MARK and the edited ranges ``runs`` that hold it (None: not reviewed)."""
    if runs is None:
        return text
    return f"{REVIEWED_MARK} (contours edited at {ranges_text(sorted(runs))} from the ostium): {text}"


def ranges_text(ranges_mm) -> str:
    """"13.0-36.0 mm, 40.0-41.0 mm": distance ranges ([first, last] mm) as a reader reads them."""
    return ", ".join(f"{first:.1f}-{last:.1f} mm" for first, last in ranges_mm)


def _mark(description: str, site: WarningSite) -> tuple:
    """A position to jump to: ("wall closes in, 6.3 mm after P", its site)."""
    return f"{description}, {site.text()}", site


def _at_landmarks(description: str, labels: list) -> tuple:
    """The positions to jump to at the landmarks ``labels``: ("no lumen found at E", its site), ..."""
    return tuple((f"{description} at {label}", WarningSite(0.0, label)) for label in labels)


def _sided_warning(kind: str, sites: list, mark: str, sentence, stretches=at_site) -> list:
    """The one warning of a measure taken on each side of the occlusion (sites: [(WarningSite, ratio)] of the sides
    above its cut), naming every side: sentence(where, ratios) gives its words from the sides' positions joined
    with "and" and their ratios; it lies where every side it names does (stretches(site): the stretches a side
    stands for, its one position by default), with a ``mark`` at each. [] without a side."""
    if not sites:
        return []
    text = sentence(" and ".join(site.text() for site, _ in sites), [ratio for _, ratio in sites])
    return [LocatedWarning(kind, text, sum((stretches(site) for site, _ in sites), ()),
                           tuple(_mark(mark, site) for site, _ in sites))]


def _lumen_on_wall_warning(quality: dict) -> list:
    """The warning of cap_lumen_vessel_area_ratio, if it fires, naming each side on the wall (``_sided_warning``)."""
    def sentence(where: str, ratios: list) -> str:
        fills = " and ".join(f"{100 * ratio:.0f}%" for ratio in ratios)
        return (f"{where} the lumen fills {fills} of the vessel area: "
                "the lumen contour lies on or near the outer wall (plaque lining the lumen there that the scan does "
                "not tell from the contrast, such as a lining less than about 80 HU darker than the contrast, or a "
                "tight stenosis; or a vessel narrowed at the cap to no wider than its lumen, whose lumen the blur "
                "then reads small), so the lumen area there and a reference section placed there are unreliable; "
                "check the lumen contours there, and place S and E where the wall is thin and the lumen clearly "
                "brighter than it")
    return _sided_warning("cap_lumen_vessel_area_ratio", lumen_on_wall_sites(quality), "lumen on the outer wall",
                          sentence)


def _lumen_beside_cap_warning(quality: dict) -> list:
    """The warning of the {proximal,distal}_cap_lumen_reference_ratio, if it fires, naming each side
    (``_sided_warning``)."""
    def sentence(where: str, ratios: list) -> str:
        times = " and ".join(f"{ratio:.1f}" for ratio in ratios)
        return (f"{where} the lumen reads {times} times the reference lumen (the larger of S and E): next to an "
                "occlusion the lumen is usually narrowed, so the lumen contour there likely lies on plaque lining a "
                "stenosis that the scan does not tell from the contrast (a narrow lumen less than about 100 HU "
                "brighter than its lining under blur); the lumen area there and a reference section placed there "
                "are unreliable; check the lumen contours there")
    return _sided_warning("cap_lumen_reference_ratio", lumen_beside_cap_sites(quality),
                          "lumen wider than the reference", sentence)


def _lumen_uncertainty_warning(quality: dict) -> list:
    """The warning of the {proximal,distal}_lumen_area_uncertainty_fraction, if it fires, naming each side
    (``_sided_warning``)."""
    def sentence(where: str, uncertainties: list) -> str:
        spread = " and ".join(f"{100 * uncertainty:.0f}%" for uncertainty in uncertainties)
        return (f"{where} the lumen area is uncertain by {spread} (one standard deviation over the "
                f"{REFERENCE_WINDOW_MM - LUMEN_UNCERTAINTY_NEAR_MM:g} mm from there): the lumen edge falls too slowly "
                f"against {quality['lumen_noise_sd_hu']:.0f} HU of image noise (a narrow lumen a little brighter than "
                "its plaque lining, under blur or heavy noise), so the lumen area there and the cap shape read from it "
                "may be off by that much; check the lumen contours there")
    return _sided_warning("lumen_area_uncertainty", lumen_uncertainty_sites(quality), "lumen area uncertain",
                          sentence, _uncertainty_window)


def _uncertainty_window(site: WarningSite) -> tuple:
    """The stretch a ``lumen_uncertainty_sites`` site stands for: the window whose mean lumen area is uncertain, from
    the site (LUMEN_UNCERTAINTY_NEAR_MM from its cap) to REFERENCE_WINDOW_MM from it, which an edit must cover to
    answer the warning."""
    far = WarningSite(math.copysign(REFERENCE_WINDOW_MM, site.offset_mm), site.landmark)
    return (tuple(sorted((site, far), key=lambda end: end.offset_mm)),)


def _thin_wall_lumen_warning(quality: dict) -> list:
    """The warning of the {proximal,distal}_wall_unresolved_fraction, if it fires, naming each side
    (``_sided_warning``)."""
    def sentence(where: str, fractions: list) -> str:
        share = " and ".join(f"{100 * fraction:.0f}%" for fraction in fractions)
        return (f"{where} the wall around the lumen is thinner than the scan resolves in {share} of the sections "
                f"(the {REFERENCE_WINDOW_MM:g} mm next to the cap): the lumen edge blurs into the wall's fall to the "
                "fat, so the lumen area there is unreliable (read up to about 25% large with a 0.4 mm wall under a "
                "0.35 mm blur); check the lumen contours there")
    return _sided_warning("wall_unresolved_fraction", thin_wall_lumen_sites(quality), "lumen inside a thin wall",
                          sentence)


def _cap_shape_warning(quality: dict) -> list:
    """The warning of proximal_cap_measured, if it fires, with where it lies and its marks: the cap's shape not read
    from a flagged lumen (``_flagged_cap_lumen_warning``), or not measured where the lumen is last found
    (``cap_shape_site``)."""
    flags = proximal_lumen_flags(quality)
    if flags and not quality.get("proximal_cap_measured", True):
        return _flagged_cap_lumen_warning(flags)
    site = cap_shape_site(quality)
    if site is None:
        return []
    text = (f"{site.text()} the lumen is last found, too little narrowed there to call the cap tapered: the proximal "
            "cap's shape (tapered or blunt) is not measured and the blunt-stump score items are left empty (P lies "
            "past the end of a blunt stump, or the lumen is lost in noise or bright plaque before it narrows); check "
            "the lumen contours before P and P's position, and judge the cap by eye")
    return [LocatedWarning("proximal_cap_measured", text, at_site(site),
                           (_mark("cap shape not measured, lumen last found", site),))]


def _flagged_cap_lumen_warning(flags: list) -> list:
    """The warning that the proximal cap's shape is not read from the lumen flagged before P (flags:
    ``proximal_lumen_flags``), naming what the contour reads at each position (those the same to the text's 0.1 mm
    as one), with a mark at each."""
    sites, readings = {}, {}
    for site, reading in flags:
        sites.setdefault(site.text(), site)
        readings.setdefault(site.text(), []).append(reading)
    where = ", and ".join(f"{position} {'the lumen contour' if index == 0 else 'it'} {' and '.join(words)}"
                          for index, (position, words) in enumerate(readings.items()))
    text = (f"{where}: a lumen contour the analysis flags as likely lying on plaque lining the lumen, which widens it "
            "where the stump closes (a tapered cap then reads blunt), so the proximal cap's shape (tapered or blunt) "
            "is not measured from it and the blunt-stump score items are left empty; check the lumen contours before "
            "P, and judge the cap by eye")
    return [LocatedWarning("proximal_cap_measured", text, sum((at_site(site) for site in sites.values()), ()),
                           tuple(_mark("cap shape not measured, lumen flagged", site) for site in sites.values()))]


def _misregistration_warning(quality: dict) -> list:
    """The warning of misregistration_step_mm, if it fires, with where it lies and its mark."""
    site = misregistration_site(quality)
    if site is None:
        return []
    step_mm, slice_k = quality["misregistration_step_mm"], quality["misregistration_step_slice"]
    text = (f"{site.text()} ({_relative_to_caps(quality)}) the vessel jumps {step_mm:.1f} mm "
            f"sideways between axial slices {slice_k - 1} and {slice_k}: an ECG-misregistration step (slabs from "
            "different heartbeats), which cuts and shifts the vessel there, so length, plaque volume and the contours "
            "there are unreliable; analyse a reconstruction at a better cardiac phase (or another phase with the "
            "vessel still), or check and edit the contours there")
    return [LocatedWarning("misregistration_step_mm", text, at_site(site),
                           ((f"misregistration step of {step_mm:.1f} mm", site),))]


def _relative_to_caps(quality: dict) -> str:
    """Where the step lies against P and D ("3.2 mm before P", "4.0 mm after P, 6.1 mm before D", "1.5 mm after
    D"), from misregistration_step_after_p_mm and misregistration_step_after_d_mm."""
    after_p_mm, after_d_mm = quality["misregistration_step_after_p_mm"], quality["misregistration_step_after_d_mm"]
    if after_p_mm < 0:
        return f"{-after_p_mm:.1f} mm before P"
    if after_d_mm > 0:
        return f"{after_d_mm:.1f} mm after D"
    return f"{after_p_mm:.1f} mm after P, {-after_d_mm:.1f} mm before D"


def wall_outward_measures(arc_mm: np.ndarray, landmarks_mm: dict, samples_hu: np.ndarray, grid: PolarGrid,
                          wall: WallContour, params: ContourParameters = ContourParameters()) -> dict:
    """How far the occluded outer wall lies outside the image's own wall/fat edge, over each OCCLUSION_WINDOW_MM
    of the occlusion: ``occlusion_wall_outward_mm`` (the largest), ``occlusion_wall_outward_at_mm`` (where,
    after P), ``occlusion_wall_outward_area_fraction`` (2 x offset / mean radius there, the vessel area's
    excess); None where no window has MIN_OUTWARD_RAYS fat-edge rays.

    samples_hu: the analysis's polar samples (S, A, R); wall: its outer wall. In each window the profiles across
    the fat-edge rays, aligned on the contour, are averaged and a blurred step of the measured blur is fitted to
    the mean (``fitted_step_radii_mm``, within ``step_fit_shift_mm``): its centre is where the image's edge lies
    relative to the contour. The steepest slope of a blurred disc lies inside its edge (``blurred_disc_steepest_mm``;
    about sigma^2 / (2 r) for a radius r), which the contour was corrected for, so that much is expected. An edge
    test that rejects the true edge (a bright wall's blur tail read as tissue) leaves the contour outside it, and
    neither the fat-edge fraction nor the local-area ratio sees that."""
    occluded = np.flatnonzero((arc_mm >= landmarks_mm["P"]) & (arc_mm <= landmarks_mm["D"]))
    window = max(1, int(round(OCCLUSION_WINDOW_MM / float(arc_mm[1] - arc_mm[0]))))
    reach = int(round(params.step_fit_mm / grid.radial_step_mm)) + int(round(params.step_fit_shift_mm
                                                                            / grid.radial_step_mm))
    offsets_mm = np.arange(-reach, reach + 1) * grid.radial_step_mm
    means, positions, radii = [], [], []
    for start in range(0, len(occluded), window):
        sections = occluded[start:start + window]
        rays = np.zeros(wall.fat_edge.shape, bool)
        rays[sections] = wall.fat_edge[sections]
        profiles = profiles_across_contour(samples_hu, grid, wall.radii_mm, rays, offsets_mm)
        if len(profiles) >= MIN_OUTWARD_RAYS:
            means.append(profiles.mean(axis=0))
            positions.append(float(np.mean(arc_mm[sections]) - landmarks_mm["P"]))
            radii.append(float(np.mean(wall.radii_mm[rays])))
    if not means:
        return {"occlusion_wall_outward_mm": None, "occlusion_wall_outward_at_mm": None,
                "occlusion_wall_outward_area_fraction": None}
    offset_grid = PolarGrid(offsets_mm, np.zeros(1), grid.radial_step_mm)
    centres_mm = fitted_step_radii_mm(np.array(means)[None], offset_grid, np.full((1, len(means)), reach),
                                      wall.blur_sigma_mm, params)[0]
    outward_mm = -centres_mm - (np.array(radii) - blurred_disc_steepest_mm(np.array(radii), wall.blur_sigma_mm))
    worst = int(np.argmax(outward_mm))
    return {"occlusion_wall_outward_mm": float(outward_mm[worst]), "occlusion_wall_outward_at_mm": positions[worst],
            "occlusion_wall_outward_area_fraction": float(2.0 * outward_mm[worst] / radii[worst])}


def quality_warnings(quality: dict, landmarks_mm: dict | None = None, edited_ranges_mm=(), step_mm: float = 0.0,
                     automatic_kinds=()) -> list:
    """One sentence per problem found in ``quality``: what is wrong and what to do about it.

    After the reader edited the contours (edited_ranges_mm: [first, last] positions, mm from the ostium, of each
    run of edited sections, contour_review.edited_ranges_mm; the sections step_mm apart; landmarks_mm: label ->
    position; automatic_kinds: the kinds of the warnings the automatic analysis raised, ``warning_kinds`` of its
    quality), a warning is marked reviewed (``reviewed_warnings``): it starts with REVIEWED_MARK and the edited
    ranges that hold it. The reader has looked at it and corrected the contours there, though the measure behind it
    may still be in warning (an image measure such as the fat-edge fraction does not change with the contours; a
    contour-based one was recomputed from the edit). Other warnings stay as they are."""
    return [_marked(warning.text, runs)
            for warning, runs in reviewed_warnings(quality, landmarks_mm, edited_ranges_mm, step_mm, automatic_kinds)]


def warning_kinds(quality: dict) -> list:
    """The kinds (LocatedWarning.kind) of the warnings ``quality`` raises, sorted: what lesion.json keeps of the
    automatic analysis's warnings, for ``quality_warnings``' automatic_kinds after an edit."""
    return sorted(warning.kind for warning in _located_warnings(quality))


def reviewed_warnings(quality: dict, landmarks_mm: dict | None, edited_ranges_mm, step_mm: float,
                      automatic_kinds) -> list:
    """[(LocatedWarning, runs)] for each warning of ``quality`` (arguments as ``quality_warnings``): runs, the
    edited ranges that hold it (``reviewed_ranges_mm``) where it is marked reviewed, else None. A warning is marked
    reviewed only when the automatic analysis raised the same kind of warning (``automatic_kinds``) and it lies in
    the edited ranges: one the edit itself raised (a slip of the eraser closing the wall in) keeps its plain form,
    so it is not hidden as reviewed. The one decision behind both the warnings' words and the marks on the section
    slider (section_view.warning_marks)."""
    return [(warning, reviewed_ranges_mm(warning.where, landmarks_mm, edited_ranges_mm, step_mm)
             if warning.kind in automatic_kinds else None) for warning in _located_warnings(quality)]


def _located_warnings(quality: dict) -> list:
    """The LocatedWarning of each problem found in ``quality``, in the order the warnings are given."""
    warnings = []
    if quality["occlusion_min_fat_edge_fraction"] < MIN_WINDOW_FAT_EDGE_FRACTION:
        warnings.append(LocatedWarning("occlusion_min_fat_edge_fraction",
            f"inside the occlusion the centerline runs for {OCCLUSION_WINDOW_MM:g} mm through tissue with no fat "
            "around it (myocardium, not the occluded artery?): check the centerline, add a seed inside the occlusion",
            ()))
    elif quality["occlusion_fat_edge_fraction"] < MIN_OCCLUSION_FAT_EDGE_FRACTION:
        warnings.append(LocatedWarning("occlusion_fat_edge_fraction",
            f"only {100 * quality['occlusion_fat_edge_fraction']:.0f}% of the occluded wall has a fat edge; "
            "the wall contour is half bridged and the plaque volume less certain (about 5%): check the contours, "
            "add a seed inside the occlusion if the centerline leaves the vessel", OCCLUSION))
    if quality["occlusion_contrast_fraction"] > MAX_OCCLUSION_CONTRAST_FRACTION:
        warnings.append(LocatedWarning("occlusion_contrast_fraction",
            f"the centerline runs through contrast along {100 * quality['occlusion_contrast_fraction']:.0f}% "
            "of the occlusion "
            "(a vein or side branch, not the occluded artery?): check the centerline and the caps, "
            "add a seed inside the occlusion", ()))
    product = quality.get("occlusion_max_curvature_radius_product", 0.0)  # absent from earlier exports
    if product > MAX_CURVATURE_RADIUS_PRODUCT:
        warnings.append(LocatedWarning("occlusion_max_curvature_radius_product",
            f"inside the occlusion the centerline bends with a radius of curvature {1 / product:.1f} times the "
            "vessel's radius (a kink or jitter, not a coronary's course): sections overlap there and the plaque "
            "volume is unreliable; extract the centerline from seeds, or place its points farther apart", ()))
    closing = local_area_site(quality)
    if closing is not None:
        warnings.append(LocatedWarning("occlusion_min_local_area_ratio",
            f"{closing.text()} the outer wall closes in to {100 * quality['occlusion_min_local_area_ratio']:.0f}% "
            "of the vessel area around it: a dark region inside the plaque (beam hardening beside calcium, a sharp "
            "kernel, or a lipid core nearly as dark as the fat) was taken for the fat outside it, and the plaque "
            "volume there reads small; check the contours there, and prefer a reconstruction with beam-hardening "
            "correction and a standard soft-tissue kernel", at_site(closing),
            (_mark("wall closes in", closing),)))
    outward = wall_outward_site(quality)
    if outward is not None:
        warnings.append(LocatedWarning("occlusion_wall_outward_area_fraction",
            f"{outward.text()} the outer wall lies {quality['occlusion_wall_outward_mm']:.2f} mm outside the image's "
            f"wall/fat edge (vessel area about {100 * quality['occlusion_wall_outward_area_fraction']:.0f}% large "
            "there): the contour was pushed out into the fat (bright plaque at the edge under blur, or noise), and the "
            "plaque volume and its necrotic core read large; check the contours there", at_site(outward),
            (_mark("wall pushed outward", outward),)))
    for side, cap in (("proximal", "P"), ("distal", "D")):
        if not quality[f"lumen_{side}"]:
            warnings.append(LocatedWarning(f"lumen_{side}",
                f"no contrast-filled lumen in the {REFERENCE_WINDOW_MM:g} mm {'before' if cap == 'P' else 'after'} "
                f"{cap}: check that {cap} lies where the contrast ends", ()))
    if quality["landmark_max_distance_mm"] > MAX_LANDMARK_DISTANCE_MM:
        warnings.append(LocatedWarning("landmark_max_distance_mm",
            f"a landmark lies {quality['landmark_max_distance_mm']:.1f} mm from the centerline: "
            "place the landmarks on the centerline of the target vessel", ()))
    undershoot = quality.get("lumen_edge_undershoot_hu")  # absent from earlier exports; None without a lumen
    if undershoot is not None and undershoot > MAX_LUMEN_EDGE_UNDERSHOOT_HU:
        warnings.append(LocatedWarning("lumen_edge_undershoot_hu",
            f"beside the lumen the image dips {undershoot:.0f} HU below the epicardial fat: the scan looks "
            "reconstructed with an edge-enhancing (sharp) kernel, under which the plaque volume reads small "
            "(by up to 15% on phantoms) and the HU of every component shifts; analyse a reconstruction of the "
            "same scan with the scanner's standard soft-tissue cardiac kernel (smooth or medium)", ()))
    warnings += _lumen_on_wall_warning(quality)
    warnings += _lumen_beside_cap_warning(quality)
    warnings += _lumen_uncertainty_warning(quality)
    warnings += _thin_wall_lumen_warning(quality)
    warnings += _cap_shape_warning(quality)
    warnings += _misregistration_warning(quality)
    lumenless = reference_lumen_missing(quality)
    if lumenless:
        warnings.append(LocatedWarning("reference_lumen_found",
            f"no contrast-filled lumen was found at {' and '.join(lumenless)}, so its reference lumen area and "
            "diameter are not reported: check that the landmark lies outside the occlusion where the lumen shows "
            "contrast; a lumen too faint to tell from the wall (late filling through collaterals) is not detected: "
            "move the landmark to where the lumen is brighter, or lower contour.lumen_min_hu in a settings file",
            at_landmarks(lumenless), _at_landmarks("no lumen found", lumenless)))
    unresolved = reference_wall_unresolved(quality)
    if unresolved:
        warnings.append(LocatedWarning("reference_wall_resolved",
            f"the wall at {' and '.join(unresolved)} is at or below the scan's resolution "
            f"({FWHM_PER_SIGMA * quality['blur_sigma_mm']:.1f} mm) or lost in noise: the reference vessel area "
            "is uncertain "
            f"(up to 20% small, or from an assumed {NORMAL_WALL_MM:g} mm wall where no wall edge was found); "
            "prefer the lumen area as the reference, though next to a wall this thin it may be off by up to 20%",
            at_landmarks(unresolved), _at_landmarks("wall not resolved", unresolved)))
    elif quality["normal_wall_unresolved_fraction"] > MAX_UNRESOLVED_WALL_FRACTION:
        warnings.append(LocatedWarning("normal_wall_unresolved_fraction",
            f"the wall is not resolved in {100 * quality['normal_wall_unresolved_fraction']:.0f}% of the normal "
            f"segments: vessel areas there assume a normal {NORMAL_WALL_MM:g} mm wall", ()))
    return warnings
