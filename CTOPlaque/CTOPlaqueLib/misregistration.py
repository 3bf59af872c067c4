"""Was the scan assembled from heartbeats that do not line up? Find an ECG-misregistration step along the vessel.

A prospectively triggered or multi-beat cardiac CT stacks slabs of axial slices from different heartbeats; when
the heart is not in the same place in two beats, every structure jumps sideways between the last slice of one
slab and the first of the next (a "step" or "stair-step" artefact). On the vessel it is a lateral jump at ONE
axial plane (constant slice index k), perpendicular to the scanner's z axis, where the vessel otherwise runs
smoothly. The analysis then measures a vessel that is cut and shifted: on the phantoms (two seeds, true
landmarks) a 1 mm step through the occlusion's middle read the plaque volume -4.4%, a 2 mm step -6.9%, with no
other warning naming it.

The measure, ``misregistration_step_mm``: for each pair of adjacent axial slices that cut through the vessel (the
plane within CROSSING_FRACTION of the outer-wall radius of its axis), the in-plane shift that best maps the
first slice onto the second over the vessel and its immediate surroundings (the pixels within MASK_MARGIN_MM of
the outer wall; least squares over whole-pixel shifts up to STEP_SEARCH_MM, refined by Gauss-Newton on the
interpolated image). A smooth vessel oblique to the slices drifts from slice to slice by an amount that changes
slowly; a step adds its jump to one pair only. The jump at a pair is its shift minus the line through the shifts
of the NEIGHBOUR_SLICES pairs on either side, and it counts only where it stands out from its standard error
(registration noise, and the neighbours' scatter about their line) by MIN_STEP_SIGNIFICANCE: where a side branch
leaves through the slices, or the vessel runs along them and is cut lengthwise with little to fix the shift along
it, the drift is irregular and a jump there does not count. The measure is the largest counted jump, in mm (0
where none), with where it is: the centerline position where the vessel's axis crosses, or comes closest to, that
plane (``misregistration_step_at_mm``, from the ostium) and the first slice after it
(``misregistration_step_slice``, the volume's k index). Where the vessel runs nearly along the slices (0.3 slice
per mm at the phantoms' occlusion) the plane cuts it lengthwise over many millimetres around that position.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .centerline import Centerline
from .volume_io import Volume

STEP_SEARCH_MM = 2.5
MASK_MARGIN_MM = 1.0
CROSSING_FRACTION = 0.5
# The vessel searched: from the first landmark (S, or P) to the last (E, or D), this much beyond each.
LANDMARK_MARGIN_MM = 2.0
NEIGHBOUR_SLICES = 2
# Pixels of the vessel and its surroundings needed in a slice pair to register it (a few dozen per 0.4 mm pixel
# of a 2 mm vessel section).
MIN_MASK_PIXELS = 50
# Whole-pixel search every SEARCH_STRIDE_PX pixels (Gauss-Newton converges from a pixel away on a 0.35 mm blur).
SEARCH_STRIDE_PX = 2
REFINE_ITERATIONS = 3
# Jump / its standard error (the registrations' residuals and the neighbours' scatter about their line; the residuals'
# pixel-to-pixel correlation is ignored, so it reads high) below which a jump is not counted: 1 and 2 mm steps read
# 38-58; the S-curve (the stretch cut lengthwise, its shift along the vessel barely fixed) 7.3, heart-long-low-contrast
# (a side branch leaving through the slices) 4.5, the 18 presets 5.8 or less (docs/accuracy.md).
MIN_STEP_SIGNIFICANCE = 15.0
MEASURE_KEYS = ("misregistration_step_mm", "misregistration_step_at_mm", "misregistration_step_after_p_mm",
                "misregistration_step_after_d_mm", "misregistration_step_slice")


def misregistration_step_measures(volume: Volume, centerline: Centerline, vessel_radii_mm: np.ndarray,
                                  landmarks_mm: dict) -> dict:
    """``misregistration_step_mm``, ``misregistration_step_at_mm`` (from the ostium), ``_after_p_mm`` and
    ``_after_d_mm`` (negative before the cap) and ``misregistration_step_slice`` (module docstring): the step is 0
    and its position None where no jump stands out (MIN_STEP_SIGNIFICANCE); all None where no slice pair has
    both neighbours registered.

    volume: HU and IJK->RAS (k, the array's first axis, the axial slices); centerline: the analysis's sections
    (RAS); vessel_radii_mm: (S, A) outer-wall radii of those sections; landmarks_mm: label -> arc position. Only the
    lesion's stretch is searched: from the first landmark to the last, LANDMARK_MARGIN_MM beyond each."""
    arc_mm = centerline.arc_mm
    lesion = (arc_mm >= min(landmarks_mm.values()) - LANDMARK_MARGIN_MM) & (
        arc_mm <= max(landmarks_mm.values()) + LANDMARK_MARGIN_MM)
    ras_to_ijk = volume.ras_to_ijk()
    points_ras = centerline.points_ras[lesion]
    centres_ijk = points_ras @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    steps = _steps_mm(_pair_shifts_mm(volume, points_ras, centres_ijk, vessel_radii_mm[lesion].max(axis=1)))
    if not steps:
        return dict.fromkeys(MEASURE_KEYS)
    standing_out = {k: length for k, (length, significance) in steps.items() if significance >= MIN_STEP_SIGNIFICANCE}
    if not standing_out:
        return dict(dict.fromkeys(MEASURE_KEYS), misregistration_step_mm=0.0)
    k = max(standing_out, key=standing_out.get)
    at_mm = float(arc_mm[lesion][np.argmin(np.abs(centres_ijk[:, 2] - (k - 0.5)))])
    return {"misregistration_step_mm": standing_out[k], "misregistration_step_at_mm": at_mm,
            "misregistration_step_after_p_mm": at_mm - landmarks_mm["P"],
            "misregistration_step_after_d_mm": at_mm - landmarks_mm["D"], "misregistration_step_slice": int(k)}


def _pair_shifts_mm(volume: Volume, points_ras: np.ndarray, centres_ijk: np.ndarray, outer_mm: np.ndarray) -> dict:
    """k -> (in-plane shift (2,), its covariance (2, 2)), mm along the volume's j and i axes, mapping slice k - 1
    onto slice k over the vessel and MASK_MARGIN_MM around it, for each pair whose plane cuts through the vessel.

    points_ras: the vessel's axis points (RAS), centres_ijk: the same in the volume's IJK, outer_mm: the outer-wall
    radius there. A pixel of the plane between the slices is in the mask where its nearest axis point lies within
    that point's reach (outer radius + MASK_MARGIN_MM) of the pixel and of the plane: one k-d tree of the axis points
    serves every pair."""
    spacing_mm = np.linalg.norm(volume.ijk_to_ras[:3, :3], axis=0)
    scale_ji = spacing_mm[1::-1]
    reach_px = np.ceil(STEP_SEARCH_MM / scale_ji).astype(int)
    reach_mm = outer_mm + MASK_MARGIN_MM
    max_reach_mm = float(reach_mm.max())
    # a point farther from the plane than its reach is farther from every pixel of it: the reach test alone leaves
    # it out; index N of the tree's answer is "no point within max_reach_mm", which reaches no pixel
    reach_or_none_mm = np.append(reach_mm, 0.0)
    tree = cKDTree(points_ras)
    shifts = {}
    for k in range(1, volume.hu.shape[0]):
        plane_mm = np.abs(centres_ijk[:, 2] - (k - 0.5)) * spacing_mm[2]
        if not np.any(plane_mm < CROSSING_FRACTION * outer_mm):
            continue
        near = plane_mm < reach_mm
        box = _pixel_box(centres_ijk[near, :2], max_reach_mm / spacing_mm[:2], reach_px, volume.hu.shape[1:])
        jj, ii = np.meshgrid(np.arange(*box[0]), np.arange(*box[1]), indexing="ij")
        pixels_ras = (np.stack([ii.ravel(), jj.ravel(), np.full(ii.size, k - 0.5)], axis=1)
                      @ volume.ijk_to_ras[:3, :3].T + volume.ijk_to_ras[:3, 3])
        distance_mm, nearest = tree.query(pixels_ras, distance_upper_bound=max_reach_mm)
        mask = (distance_mm < reach_or_none_mm[nearest]).reshape(ii.shape)
        window = (slice(*box[0]), slice(*box[1]))
        found = _best_shift_px(volume.hu[k - 1][window].astype(float), volume.hu[k][window].astype(float), mask,
                               reach_px)
        if found is not None:
            shifts[k] = (found[0] * scale_ji, found[1] * np.outer(scale_ji, scale_ji))
    return shifts


def _pixel_box(centres_ij: np.ndarray, reach_ij: np.ndarray, search_ji: np.ndarray, shape_ji: tuple) -> tuple:
    """((j0, j1), (i0, i1)): the pixels within ``reach_ij`` of the centres, plus the search margin, in the slice."""
    low = np.floor(centres_ij.min(axis=0) - reach_ij)[::-1].astype(int) - search_ji
    high = np.ceil(centres_ij.max(axis=0) + reach_ij)[::-1].astype(int) + search_ji + 1
    return tuple((max(0, int(lo)), min(size, int(hi))) for lo, hi, size in zip(low, high, shape_ji))


def _best_shift_px(fixed: np.ndarray, moving: np.ndarray, mask: np.ndarray, reach_ji: np.ndarray):
    """((dj, di) pixels, its covariance): the shift minimising the mean squared difference moving[p + d] - fixed[p]
    over the masked pixels p of the box's interior. A whole-pixel search within ``reach_ji`` (every
    SEARCH_STRIDE_PX), then REFINE_ITERATIONS Gauss-Newton steps on the bilinearly interpolated image (a parabola
    through whole-pixel costs read a 2.5-pixel step 0.4 pixel long); the covariance is the residual variance times
    the inverse of the Gauss-Newton normal matrix. None where the interior holds fewer than MIN_MASK_PIXELS
    masked pixels."""
    height, width = fixed.shape
    inner = np.zeros_like(mask)
    inner[reach_ji[0]: height - reach_ji[0], reach_ji[1]: width - reach_ji[1]] = True
    pixels = np.array(np.nonzero(mask & inner))
    if pixels.shape[1] < MIN_MASK_PIXELS:
        return None
    reference = fixed[tuple(pixels)]
    flat = np.ravel_multi_index(tuple(pixels), fixed.shape)
    candidates = np.array([(dj, di) for dj in range(-reach_ji[0], reach_ji[0] + 1, SEARCH_STRIDE_PX)
                           for di in range(-reach_ji[1], reach_ji[1] + 1, SEARCH_STRIDE_PX)])
    shifted = moving.ravel()[flat[None, :] + (candidates[:, 0] * width + candidates[:, 1])[:, None]]
    cost = np.mean((shifted - reference) ** 2, axis=1)
    shift = candidates[int(np.argmin(cost))].astype(float)
    gradients = np.gradient(moving)
    for iteration in range(REFINE_ITERATIONS + 1):
        at = pixels + shift[:, None]
        residual = ndimage.map_coordinates(moving, at, order=1, mode="nearest") - reference
        slope = np.array([ndimage.map_coordinates(g, at, order=1, mode="nearest") for g in gradients])
        normal = slope @ slope.T
        if np.linalg.cond(normal) > 1e8:  # no structure to register (a flat image)
            return None
        if iteration == REFINE_ITERATIONS:
            return shift, np.mean(residual ** 2) * np.linalg.inv(normal)
        shift = np.clip(shift - np.linalg.solve(normal, slope @ residual), -reach_ji, reach_ji)


def _steps_mm(shifts: dict) -> dict:
    """k -> (length (mm) of the pair's jump, the jump over its standard error), for the pairs with the
    NEIGHBOUR_SLICES pairs on either side registered. The jump is the pair's shift minus the line fitted to its
    neighbours' shifts at k (a drift changing linearly cancels); its variance adds the pair's own registration
    variance, the line's, and the scatter of the neighbours about the line (an irregular drift, as where a side
    branch leaves or the vessel is cut lengthwise, makes a jump there count for less)."""
    offsets = np.array([n for n in range(-NEIGHBOUR_SLICES, NEIGHBOUR_SLICES + 1) if n != 0])
    design = np.stack([np.ones(len(offsets)), offsets], axis=1)
    steps = {}
    for k, (shift, covariance) in shifts.items():
        if not all(k + n in shifts for n in offsets):
            continue
        around = np.array([shifts[k + n][0] for n in offsets])
        line, *_ = np.linalg.lstsq(design, around, rcond=None)
        scatter = np.sum((around - design @ line) ** 2, axis=0) / (len(offsets) - 2)
        registration = np.mean([shifts[k + n][1] for n in offsets], axis=0) / len(offsets)
        spread = covariance + registration + np.diag(scatter * (1.0 + 1.0 / len(offsets)))
        jump = shift - line[0]
        steps[k] = (float(np.linalg.norm(jump)), float(np.sqrt(jump @ np.linalg.solve(spread, jump))))
    return steps
