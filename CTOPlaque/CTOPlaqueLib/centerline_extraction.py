"""Centerline of the target vessel from a few seed points, through the occluded segment.

Method, and why:
  1. Crop the volume around the seeds (their bounding box plus ``margin_mm``).
  2. Tube measure that sees the occluded segment too. In a CTO the occluded segment holds no
     contrast: a naive bright-vessel filter loses it. But the whole vessel, lumen and wall alike, is
     a tube of tissue denser than the epicardial fat around it. So the HU are clipped to
     [-100, 250] (contrast lumen and plaque become equally "bright", fat stays dark) and Frangi's
     multi-scale Hessian objectness for 1-D objects (SimpleITK ObjectnessMeasure, sigmas 0.8 to
     1.8 mm, scale-normalized) is taken as the maximum over scales. The myocardium, a plate, scores low.
  3. Minimal-cost path between consecutive seeds with cost 1 / (vesselness + 0.05)^2 on the
     anisotropic voxel grid (scikit-image's MCP_Geometric: Dijkstra with geometric step lengths,
     a tested C implementation). Contrast that is not connected to a seed's lumen (a vein, a
     calcium deposit: voxels of at least ``contrast_fraction`` of the seeds' lumen HU, outside the
     26-connected components holding the seeds) costs ``foreign_contrast_factor`` times the most
     expensive tissue: otherwise a vein running beside the artery is a cheaper tube than the
     occluded segment and takes the path from ostium to end. This path is trusted only where it
     runs in the contrast-filled lumen.
  4. Bridge the occlusion from the lumen on both sides. Inside the occlusion nothing in the image
     tells the occluded artery from the structures beside it as reliably as the lumen does outside:
     a contrast-filled vein or branch running beside it is a cheaper tube than the plaque, and
     myocardium of plaque HU lies against the inner side of every bend, so a minimal path cuts
     through one or the other (the "wrap" and "vein" phantoms). The lumen on either side, however,
     is unmistakable, and carries the vessel's course into the gap. So the first-pass path is cut
     into sections; the proximal lumen runs from the ostium to the first loss of contrast that lasts
     ``min_gap_mm``, the distal lumen from the last such loss to the distal seed (lumen_present,
     the same test as the landmark proposals). Their centres (lumen contour centroids) give the
     cap points and, by a line fit over ``tangent_window_mm`` of lumen ending ``cap_margin_mm``
     before the cap, the directions at the caps (a tapered stump's centroid drifts by up to a
     lumen radius as the lumen closes, enough to tilt the direction by 10 degrees). The gap
     is bridged by a clamped cubic spline through the two cap points and any seeds the user placed
     inside the gap, with end derivatives along those directions, scaled so that two caps on a
     circle are joined by (a close approximation of) that circle: derivative magnitude
     2 tan(theta/4) / sin(theta/2) per mm of chord, theta the angle between the cap directions
     (the cubic Bezier arc approximation; 1 for a straight gap). A coronary artery follows the
     heart's surface with slowly changing curvature, which this carries; an S-shaped course inside
     a long occlusion is not, and needs a seed inside the occlusion (the quality flags say so).
  5. Sub-voxel re-centring: cross-sections every 0.5 mm along the smoothed path, the outer wall
     contour of each (contours.detect_vessel_wall, the same detector as the analysis), and the
     centerline moved to the contour's centroid, smoothed along the vessel (1 mm); repeated until
     the mean shift is below 0.03 mm (at most 6 times).
Seeds: first proximal (e.g. the ostium), last distal; any in between are ordered waypoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.interpolate import CubicSpline
from skimage.graph import MCP_Geometric

from . import contours
from .centerline import sample_centerline
from .crosssection import PolarGrid, sample_sections
from .errors import CTOPlaqueInputError
from .volume_io import Volume, check_values_present

AIR_HU = -500.0


@dataclass
class ExtractionParameters:
    margin_mm: float = 10.0
    clip_hu: tuple = (-100.0, 250.0)
    sigmas_mm: tuple = (0.8, 1.2, 1.8)
    cost_epsilon: float = 0.05
    max_recentre_iterations: int = 6
    section_step_mm: float = 0.5
    converged_shift_mm: float = 0.03
    smoothing_mm: float = 1.0
    control_point_spacing_mm: float = 1.0
    backtrack_mm: float = 1.0
    min_gap_mm: float = 1.0
    tangent_window_mm: float = 4.0
    cap_margin_mm: float = 1.5
    contrast_fraction: float = 0.6
    contrast_smoothing_mm: float = 0.5
    min_contrast_hu: float = 150.0
    foreign_contrast_factor: float = 10.0


def _seed_indices(volume: Volume, seeds_ras: np.ndarray) -> np.ndarray:
    """Continuous (i, j, k) of each seed; errors for seeds outside the volume or in air."""
    if len(seeds_ras) < 2:
        raise CTOPlaqueInputError("place at least two seeds: the first proximal (ostium), the last distal")
    ras_to_ijk = volume.ras_to_ijk()
    ijk = seeds_ras @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    upper = np.array(volume.hu.shape[::-1]) - 1
    for number, point in enumerate(ijk, start=1):
        if np.any(point < -0.5) or np.any(point > upper + 0.5):
            raise CTOPlaqueInputError(f"seed {number} lies outside the volume")
    rounded = np.clip(np.round(ijk).astype(int), 0, upper)
    for number, (i, j, k) in enumerate(rounded, start=1):
        neighbourhood = volume.hu[max(k - 1, 0):k + 2, max(j - 1, 0):j + 2, max(i - 1, 0):i + 2]
        if np.median(neighbourhood) < AIR_HU:
            raise CTOPlaqueInputError(f"seed {number} is in air ({np.median(neighbourhood):.0f} HU), not in a vessel")
    return ijk


def _crop_box(volume: Volume, seeds_ijk: np.ndarray, margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
    margin = np.ceil(margin_mm / volume.spacing_mm).astype(int)
    upper = np.array(volume.hu.shape[::-1]) - 1
    low = np.clip(np.floor(seeds_ijk.min(axis=0)).astype(int) - margin, 0, upper)
    high = np.clip(np.ceil(seeds_ijk.max(axis=0)).astype(int) + margin, 0, upper)
    return low, high


def tube_measure(hu_kji: np.ndarray, spacing_ijk: np.ndarray, params: ExtractionParameters) -> np.ndarray:
    """Multi-scale objectness of tubes of tissue (lumen or plaque) against fat, in [0, 1], shape of hu_kji."""
    image = sitk.GetImageFromArray(np.clip(hu_kji, *params.clip_hu).astype(np.float32))
    image.SetSpacing(tuple(float(s) for s in spacing_ijk))
    best = None
    for sigma in params.sigmas_mm:
        smoothed = sitk.SmoothingRecursiveGaussian(image, sigma) * (sigma ** 2)
        response = sitk.GetArrayFromImage(sitk.ObjectnessMeasure(smoothed, objectDimension=1, brightObject=True))
        best = response if best is None else np.maximum(best, response)
    scale = np.percentile(best[best > 0], 99.5) if np.any(best > 0) else 1.0
    return np.clip(best / scale, 0.0, 1.0)


SEED_REACH_MM = 1.5


def _end_seed_windows(seeds_kji: np.ndarray, spacing_kji: np.ndarray) -> list:
    """Index boxes (slices k, j, i) within SEED_REACH_MM of the first and the last seed."""
    reach = np.ceil(SEED_REACH_MM / spacing_kji).astype(int)
    return [tuple(slice(low, high) for low, high in zip(np.maximum(seed - reach, 0), seed + reach + 1))
            for seed in seeds_kji[[0, -1]]]


def foreign_contrast(hu_kji: np.ndarray, seeds_kji: np.ndarray, spacing_kji: np.ndarray,
                     params: ExtractionParameters) -> np.ndarray:
    """Mask of contrast-bright voxels not connected to the lumen at either end seed (method step 3).

    The HU are first smoothed (Gaussian, ``contrast_smoothing_mm``) so that noise does not break the
    seed's own lumen into pieces that would count as foreign; the lumen HU is the brightest smoothed
    voxel within SEED_REACH_MM of each end seed, the dimmer of the two. Empty when a seed does not lie
    in contrast (nothing to tell the artery's lumen from others by)."""
    smoothed = ndimage.gaussian_filter(hu_kji, params.contrast_smoothing_mm / spacing_kji)
    windows = _end_seed_windows(seeds_kji, spacing_kji)
    lumen_hu = min(float(smoothed[window].max()) for window in windows)  # the dimmer end's brightest voxel
    threshold = max(params.min_contrast_hu, params.contrast_fraction * lumen_hu)
    bright = smoothed >= threshold
    labels, _ = ndimage.label(bright, structure=np.ones((3, 3, 3), bool))
    own = set()
    for window in windows:
        near = labels[window]
        if not np.any(near):
            return np.zeros_like(bright)
        own.update(np.unique(near[near > 0]).tolist())
    return bright & ~np.isin(labels, sorted(own))


def _minimal_path_kji(cost: np.ndarray, spacing_kji: np.ndarray, start, end) -> np.ndarray:
    mcp = MCP_Geometric(cost, sampling=tuple(spacing_kji))
    mcp.find_costs([tuple(start)], [tuple(end)])
    return np.array(mcp.traceback(tuple(end)), float)


def _check_seed_order(segments_ras: list, backtrack_mm: float) -> None:
    """Consecutive path pieces must not run back along each other (seeds out of order)."""
    for number in range(1, len(segments_ras)):
        previous, current = segments_ras[number - 1], segments_ras[number]
        if len(previous) < 4 or len(current) < 4:
            continue
        junction = previous[-1]
        far_previous = previous[np.linalg.norm(previous - junction, axis=1) > 3.0]
        far_current = current[np.linalg.norm(current - junction, axis=1) > 3.0]
        if len(far_previous) == 0 or len(far_current) == 0:
            continue
        gaps = np.linalg.norm(far_current[:, None, :] - far_previous[None, :, :], axis=2).min(axis=1)
        if np.mean(gaps < backtrack_mm) > 0.3:
            raise CTOPlaqueInputError(
                f"the path from seed {number + 1} to seed {number + 2} runs back along the path from seed {number} "
                f"to seed {number + 1}: place the seeds in order from proximal to distal")


def _smooth_polyline(points_ras: np.ndarray, sigma_mm: float, spacing_mm: float) -> np.ndarray:
    """Resample a polyline every ``spacing_mm`` of arc length and smooth it with a Gaussian along the arc."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points_ras, axis=0), axis=1))])
    keep = np.concatenate([[True], np.diff(arc) > 1e-9])
    arc, points_ras = arc[keep], points_ras[keep]
    samples = np.linspace(0.0, arc[-1], max(int(np.ceil(arc[-1] / spacing_mm)), 1) + 1)
    resampled = np.stack([np.interp(samples, arc, points_ras[:, axis]) for axis in range(3)], axis=1)
    sigma = sigma_mm / (samples[1] - samples[0]) if len(samples) > 1 else 0.0
    if sigma > 0:
        smoothed = ndimage.gaussian_filter1d(resampled, sigma, axis=0, mode="nearest")
        smoothed[[0, -1]] = resampled[[0, -1]]
        return smoothed
    return resampled


def _recentre(volume: Volume, points_ras: np.ndarray, params: ExtractionParameters) -> tuple[np.ndarray, float]:
    """Move the centerline to the centroid of the outer vessel-wall contour of each cross-section.

    The wall contour is searched without a lumen: the fat gate alone tells the wall/fat edge from
    the lumen/wall edge, and a calcified section cannot be mistaken for contrast. Returns the new
    control points and the mean shift (mm)."""
    centerline = sample_centerline(points_ras, params.section_step_mm)
    grid = PolarGrid.make()
    samples = sample_sections(volume, centerline, grid, order=1)
    vessel = contours.detect_vessel_wall(samples, grid, np.zeros(samples.shape[:2]), params.section_step_mm)
    offset_uv = contours.contour_centroid_mm(vessel.radii_mm, grid)
    offset_uv = ndimage.gaussian_filter1d(offset_uv, params.smoothing_mm / params.section_step_mm, axis=0,
                                          mode="nearest")
    moved = centerline.moved_in_plane(offset_uv)
    shift_mm = float(np.mean(np.linalg.norm(offset_uv, axis=1)))
    return _smooth_polyline(moved, params.smoothing_mm, params.control_point_spacing_mm), shift_mm


def _fill_short_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """``mask`` with every run of False shorter than ``max_gap`` between two True values set to True."""
    filled = mask.copy()
    true_indices = np.flatnonzero(mask)
    for before, after in zip(true_indices[:-1], true_indices[1:]):
        if 1 < after - before <= max_gap:
            filled[before:after] = True
    return filled


def _line_direction(points: np.ndarray) -> np.ndarray:
    """Unit direction of the least-squares line through ``points`` (N, 3), oriented first to last."""
    centred = points - points.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    return direction if direction @ (points[-1] - points[0]) >= 0 else -direction


def arc_bridge(start: np.ndarray, start_direction: np.ndarray, end: np.ndarray, end_direction: np.ndarray,
               through=(), step_mm: float = 0.25) -> np.ndarray:
    """Points every ~``step_mm`` from ``start`` to ``end`` (RAS, mm) leaving and arriving along the given
    unit directions, through the optional points ``through``: a clamped cubic spline in chord length,
    with end derivatives of magnitude 2 tan(theta/4) / sin(theta/2) (theta: angle between the
    directions), which joins two points on a circle by the circle's arc to within 0.03% of its radius
    for theta up to 90 degrees (cubic Bezier arc approximation)."""
    knots = np.vstack([start, np.asarray(through, float).reshape(-1, 3), end])
    chords = np.linalg.norm(np.diff(knots, axis=0), axis=1)
    knots = knots[np.concatenate([[True], chords > 1e-6])]
    t = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(knots, axis=0), axis=1))])
    theta = float(np.arccos(np.clip(start_direction @ end_direction, -1.0, 1.0)))
    scale = 2.0 * np.tan(theta / 4.0) / np.sin(theta / 2.0) if theta > 1e-6 else 1.0
    spline = CubicSpline(t, knots, bc_type=((1, scale * start_direction), (1, scale * end_direction)))
    return spline(np.linspace(0.0, t[-1], max(int(np.ceil(t[-1] / step_mm)), 1) + 1))


def _lumen_centres(volume: Volume, centerline, grid: PolarGrid, samples: np.ndarray, has_lumen: np.ndarray,
                   step_mm: float) -> np.ndarray:
    """Centerline points moved to the centroid of the lumen contour where a lumen is present (RAS)."""
    lumen = contours.detect_lumen(samples, grid, has_lumen, step_mm)
    offset_uv = np.where(has_lumen[:, None], contours.contour_centroid_mm(lumen, grid), 0.0)
    return centerline.moved_in_plane(offset_uv)


def _bridge_occlusion(volume: Volume, points_ras: np.ndarray, seeds_ras: np.ndarray,
                      params: ExtractionParameters) -> np.ndarray:
    """Replace the first-pass path between the lumen's ends by an arc bridge (method step 4).

    Returns the points unchanged when the path has no lumen on both sides of a gap (no occlusion
    seen: nothing to bridge)."""
    step = 0.25
    centerline = sample_centerline(points_ras, step)
    grid = PolarGrid.make()
    samples = sample_sections(volume, centerline, grid, order=1)
    has_lumen = _fill_short_gaps(contours.lumen_present(samples, grid), int(round(params.min_gap_mm / step)))
    lumen_indices = np.flatnonzero(has_lumen)
    if len(lumen_indices) == 0:
        return points_ras
    first_loss = np.flatnonzero(~has_lumen[lumen_indices[0]:])
    last_loss = np.flatnonzero(~has_lumen[:lumen_indices[-1] + 1])
    if len(first_loss) == 0:
        return points_ras
    proximal_end = lumen_indices[0] + first_loss[0] - 1
    distal_start = last_loss[-1] + 1
    window = int(round(params.tangent_window_mm / step))
    margin = int(round(params.cap_margin_mm / step))
    if (proximal_end - margin - window < lumen_indices[0] - 1
            or distal_start + margin + window > lumen_indices[-1] + 1):
        return points_ras
    centres = _lumen_centres(volume, centerline, grid, samples, has_lumen, step)
    start_direction = _line_direction(centres[proximal_end - margin - window:proximal_end - margin + 1])
    end_direction = _line_direction(centres[distal_start + margin:distal_start + margin + window + 1])
    arc_start, arc_end = centerline.arc_mm[proximal_end], centerline.arc_mm[distal_start]
    waypoints = [seed for seed in seeds_ras[1:-1]
                 if arc_start < centerline.arc_mm[np.argmin(np.linalg.norm(centerline.points_ras - seed, axis=1))]
                 < arc_end]
    bridge = arc_bridge(centres[proximal_end], start_direction, centres[distal_start], end_direction, waypoints, step)
    return np.concatenate([centres[:proximal_end], bridge, centres[distal_start + 1:]])


def extract_centerline(volume: Volume, seeds_ras, params: ExtractionParameters = ExtractionParameters()) -> np.ndarray:
    """Centerline control points (RAS, every ``control_point_spacing_mm``, proximal first) through the seeds."""
    seeds_ras = np.asarray(seeds_ras, float).reshape(-1, 3)
    seeds_ijk = _seed_indices(volume, seeds_ras)
    low, high = _crop_box(volume, seeds_ijk, params.margin_mm)
    crop = volume.hu[low[2]:high[2] + 1, low[1]:high[1] + 1, low[0]:high[0] + 1]
    check_values_present(crop, "in the region around the seeds")
    spacing_kji = volume.spacing_mm[::-1]
    vesselness = tube_measure(crop, volume.spacing_mm, params)
    cost = 1.0 / (vesselness + params.cost_epsilon) ** 2
    seeds_kji = np.round(seeds_ijk - low).astype(int)[:, ::-1]
    barrier = params.foreign_contrast_factor / params.cost_epsilon ** 2
    cost[foreign_contrast(crop, seeds_kji, spacing_kji, params)] = barrier
    segments = []
    for start, end in zip(seeds_kji[:-1], seeds_kji[1:]):
        path_kji = _minimal_path_kji(cost, spacing_kji, start, end)
        path_ijk = path_kji[:, ::-1] + low
        segments.append(path_ijk @ volume.ijk_to_ras[:3, :3].T + volume.ijk_to_ras[:3, 3])
    _check_seed_order(segments, params.backtrack_mm)
    path_ras = np.concatenate([segments[0]] + [segment[1:] for segment in segments[1:]])
    path_ras[0], path_ras[-1] = seeds_ras[0], seeds_ras[-1]
    points = _smooth_polyline(path_ras, params.smoothing_mm, params.control_point_spacing_mm)
    bridged = _bridge_occlusion(volume, points, seeds_ras, params)
    points = _smooth_polyline(bridged, params.smoothing_mm, params.control_point_spacing_mm)
    for _ in range(params.max_recentre_iterations):
        points, shift_mm = _recentre(volume, points, params)
        if shift_mm < params.converged_shift_mm:
            break
    return points
