"""Centerline of the target vessel from a few seed points, through the occluded segment.

Method, and why:
  1. Crop the volume around the seeds (their bounding box plus ``margin_mm``).
  2. Tube measure that sees the occluded segment too. In a CTO the occluded segment holds no
     contrast: a naive bright-vessel filter loses it. But the whole vessel, lumen and wall alike, is
     a tube of tissue denser than the epicardial fat around it. So the HU are clipped to
     [-100, 250] (contrast lumen and plaque become equally "bright", fat stays dark) and Frangi's
     multi-scale Hessian objectness for 1-D objects (ITK's measure as SimpleITK's ObjectnessMeasure applies it,
     written out with closed-form eigenvalues in ``objectness.py``, three to four times faster; sigmas 0.8 to 1.8 mm,
     scale-normalized) is taken as the maximum over scales. The myocardium, a plate, scores low.
  3. Minimal-cost path between consecutive seeds with cost 1 / (vesselness + 0.05)^2 on the
     anisotropic voxel grid (scikit-image's MCP_Geometric: Dijkstra with geometric step lengths,
     a tested C implementation). Contrast that is not connected to a seed's lumen (a vein, a
     calcium deposit: voxels of at least ``contrast_fraction`` of the seeds' lumen HU, outside the
     26-connected components holding the seeds) costs ``foreign_contrast_factor`` times the most
     expensive tissue: otherwise a vein running beside the artery is a cheaper tube than the
     occluded segment and takes the path from ostium to end. So does a vessel alongside that the blur
     joins to a seed's lumen across a thin normal wall, with its flank (``SeedContrast.joined_to_lumen``).
     This path is trusted only where it runs in the contrast-filled lumen; where it shows no occlusion
     between two lumens, it is re-centred (step 5) and the lumen looked for again.
  4. Bridge the occlusion from the lumen on both sides. Inside the occlusion nothing in the image
     tells the occluded artery from the structures beside it as reliably as the lumen does outside:
     a contrast-filled vein or branch running beside it is a cheaper tube than the plaque, and
     myocardium of plaque HU lies against the inner side of every bend, so a minimal path cuts
     through one or the other (the "wrap" and "vein" phantoms). The lumen on either side, however,
     is unmistakable, and carries the vessel's course into the gap. So the first-pass path is cut
     into sections with and without a contrast-filled lumen (lumen_present, the same test as the landmark
     proposals; losses shorter than ``min_gap_mm`` filled, lumen stretches shorter than ``min_lumen_run_mm``
     dropped), and the occlusion is the longest stretch without lumen. Their centres (lumen contour centroids) give the
     cap points and, by a line fit over ``tangent_window_mm`` of lumen ending ``cap_margin_mm``
     before the cap, the directions at the caps (a tapered stump's centroid drifts by up to a
     lumen radius as the lumen closes, enough to tilt the direction by 10 degrees). The gap
     is bridged by a clamped cubic spline through the two cap points and any seeds the user placed
     inside the gap, with end derivatives along those directions, scaled so that two caps on a
     circle are joined by (a close approximation of) that circle: derivative magnitude
     2 tan(theta/4) / sin(theta/2) per mm of chord, theta the angle between the cap directions
     (the cubic Bezier arc approximation; 1 for a straight gap). A coronary artery follows the
     heart's surface with slowly changing curvature, which this carries. A tight turn inside a long occlusion
     is not: the arc then cuts the turn, in fat or in the myocardium inside it, farther from the vessel than
     re-centring recovers. So the first-pass path between the caps, which follows the tube of plaque in fat
     where it shows, replaces the arc when it shows the occluded vessel clearly more often (``_followed_or_arc``,
     both re-centred first); where the path cuts through myocardium, a vein or fat, the arc stays. When the final
     centerline between the caps shows the vessel on fewer than ``min_confirmed_fraction`` of its sections, a
     note says the bridge is uncertain and names its length (``_unconfirmed_bridge``).
  5. Sub-voxel re-centring: cross-sections every 0.5 mm along the smoothed path, the outer wall
     contour of each (contours.detect_vessel_wall, the same detector as the analysis), and the
     centerline moved to the contour's centroid, smoothed along the vessel (1 mm); repeated until
     the mean shift is below 0.03 mm (at most 6 times), with the scanner blur measured by the first pass.
     The passes only move the course until the last, whose sections are kept: they run on coarse sections
     (``_recentred``: 36 rays, 0.1 mm radial samples, about a third of the cost) until their mean shift is
     below 0.05 mm, and the full sections then take over.
Seeds: first proximal (e.g. the ostium), last distal; any in between are ordered waypoints. Seeds given
the other way round are reversed, with a note (``ostium_first``: the ostium side of the occlusion holds the
brighter or wider lumen); when the lumen cannot tell, their order is kept, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.interpolate import CubicSpline
from skimage.graph import MCP_Geometric
from skimage.segmentation import watershed

from . import contours
from .centerline import Centerline, project_onto_centerline, sample_centerline
from .crosssection import PolarGrid, sample_sections
from .errors import CTOPlaqueInputError
from .objectness import bright_tube_objectness
from .volume_io import Volume, check_values_present

AIR_HU = -500.0
# Fewest lumen sections (0.25 mm apart) a direction at a cap is fitted on.
MIN_DIRECTION_SECTIONS = 4
# Spacing (mm) of the sections the bridge looks for the lumen in.
BRIDGE_STEP_MM = 0.25


@dataclass
class ExtractionParameters:
    margin_mm: float = 10.0
    clip_hu: tuple = (-100.0, 250.0)
    sigmas_mm: tuple = (0.8, 1.2, 1.8)
    cost_epsilon: float = 0.05
    max_recentre_iterations: int = 6
    section_step_mm: float = 0.5
    converged_shift_mm: float = 0.03
    coarse_section_step_mm: float = 0.5
    coarse_radial_step_mm: float = 0.1
    coarse_angle_count: int = 36
    coarse_converged_shift_mm: float = 0.05
    smoothing_mm: float = 1.0
    control_point_spacing_mm: float = 1.0
    backtrack_mm: float = 1.0
    min_gap_mm: float = 1.0
    min_lumen_run_mm: float = 5.0
    orientation_ratio: float = 1.05
    orientation_z: float = 3.0
    orientation_correlation_mm: float = 1.0
    tangent_window_mm: float = 4.0
    cap_margin_mm: float = 1.5
    contrast_fraction: float = 0.6
    contrast_smoothing_mm: float = 0.5
    min_contrast_hu: float = 150.0
    foreign_contrast_factor: float = 10.0
    foreign_flank_mm: float = 1.0
    lumen_core_fraction: float = 0.8
    joined_span_fraction: float = 0.5
    min_fat_edge_fraction: float = 0.25
    max_centre_offset_mm: float = 1.0
    min_confirmed_fraction: float = 0.85
    follow_margin_fraction: float = 0.15
    scoring_recentre_passes: int = 2


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
    if np.array_equal(rounded[0], rounded[-1]):
        raise CTOPlaqueInputError("the first and the last seed lie in the same voxel: place the first at the ostium "
                                  "side of the occlusion and the last beyond its distal end")
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
        smoothed = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, sigma) * (sigma ** 2))
        response = bright_tube_objectness(smoothed, spacing_ijk[::-1])
        best = response if best is None else np.maximum(best, response)
    scale = np.percentile(best[best > 0], 99.5) if np.any(best > 0) else 1.0
    return np.clip(best / scale, 0.0, 1.0)


SEED_REACH_MM = 1.5


def _end_seed_windows(seeds_kji: np.ndarray, spacing_kji: np.ndarray) -> list:
    """Index boxes (slices k, j, i) within SEED_REACH_MM of the first and the last seed."""
    reach = np.ceil(SEED_REACH_MM / spacing_kji).astype(int)
    return [tuple(slice(low, high) for low, high in zip(np.maximum(seed - reach, 0), seed + reach + 1))
            for seed in seeds_kji[[0, -1]]]


# Voxel neighbourhood of the contrast regions: 26-connected.
CONNECTIVITY = np.ones((3, 3, 3), bool)


@dataclass
class SeedContrast:
    """The contrast-bright regions of a crop (method step 3): the HU smoothed (Gaussian, ``contrast_smoothing_mm``)
    so that noise does not break the seed's own lumen into pieces that would count as foreign, and cut at
    ``contrast_fraction`` of the seeds' lumen HU (at least ``min_contrast_hu``). The lumen HU of each end seed is
    its brightest smoothed voxel within SEED_REACH_MM (``lumen_points``, index (k, j, i); ``lumen_hu``); the cut
    uses the dimmer of the two. ``own``: the labels of the regions within that reach of an end seed."""

    smoothed: np.ndarray
    spacing_kji: np.ndarray
    labels: np.ndarray
    own: list
    lumen_points: list
    lumen_hu: list

    @classmethod
    def around(cls, hu_kji: np.ndarray, seeds_kji: np.ndarray, spacing_kji: np.ndarray,
               params: ExtractionParameters) -> SeedContrast | None:
        """The regions around the end seeds of ``seeds_kji`` (indices into ``hu_kji``); None when a seed does not
        lie in contrast (nothing to tell the artery's lumen from others by)."""
        smoothed = ndimage.gaussian_filter(hu_kji.astype(np.float32), params.contrast_smoothing_mm / spacing_kji)
        windows = _end_seed_windows(seeds_kji, spacing_kji)
        lumen_points = [_brightest_point(smoothed, window) for window in windows]
        lumen_hu = [float(smoothed[point]) for point in lumen_points]
        cut = max(params.min_contrast_hu, params.contrast_fraction * min(lumen_hu))
        labels, _ = ndimage.label(smoothed >= cut, structure=CONNECTIVITY)
        own = set()
        for window in windows:
            near = labels[window]
            if not np.any(near):
                return None
            own.update(np.unique(near[near > 0]).tolist())
        return cls(smoothed, spacing_kji, labels, sorted(own), lumen_points, lumen_hu)

    def foreign(self) -> np.ndarray:
        """Mask of the contrast not connected to the lumen at either end seed: a vein, a calcium deposit."""
        return (self.labels > 0) & ~np.isin(self.labels, self.own)

    def joined_to_lumen(self, params: ExtractionParameters) -> np.ndarray:
        """Mask of the structures joined to a seed's lumen, with their flank: a vein or branch against the
        vessel's normal wall, which the blur makes look continuous with the lumen at the common cut.

        The regions holding a seed's brightest voxel are parted at their saddles: each seed's lumen is the voxels
        at or above ``lumen_core_fraction`` of its own lumen HU connected to its brightest voxel (the blurred wall
        between a lumen and a vein reads up to 0.7 of a dim distal lumen's HU, 0.5 of the ostium's); every part
        apart from both at the cut the brighter lumen alone would set (``contrast_fraction`` of its HU) that extends
        along at least ``joined_span_fraction`` of the line between the two lumens is another structure: a vessel
        alongside, which a path can follow past the occlusion, not a calcium nodule or a bright fibrous cap, which
        the path has to cross. The regions and the ``foreign_flank_mm`` around them are divided between the two by
        a watershed on the smoothed HU (each voxel goes to the bright core it falls off from, so the division
        follows the tissue between them). The flank counts: a large bright tube's blurred surface is itself a tube
        to the tube measure, and a path kept out of the structure alone runs along its surface instead. Empty when
        no such structure stands out: a vein dimmer than that cut, joined to a lumen's core, or alongside less of
        the seeds' distance stays part of the lumen."""
        regions = np.isin(self.labels, [self.labels[point] for point in self.lumen_points])
        cuts = [params.lumen_core_fraction * hu for hu in self.lumen_hu]
        markers = np.zeros(self.smoothed.shape, np.int32)
        for point, cut in zip(self.lumen_points, cuts):
            lumen, _ = ndimage.label(regions & (self.smoothed >= cut), structure=CONNECTIVITY)
            markers[lumen == lumen[point]] = 1
        apart_hu = max(params.min_contrast_hu, params.contrast_fraction * max(self.lumen_hu))
        parts, count = ndimage.label(regions & (self.smoothed >= apart_hu), structure=CONNECTIVITY)
        lumens = set(np.unique(parts[markers == 1]).tolist())
        others = [label for label in self._spanning(parts, count, params.joined_span_fraction) if label not in lumens]
        if not others:
            return np.zeros_like(regions)
        markers[np.isin(parts, others)] = 2
        reach = ndimage.distance_transform_edt(~regions, sampling=self.spacing_kji) <= params.foreign_flank_mm
        return watershed(-self.smoothed, markers, mask=reach) == 2

    def _spanning(self, labels: np.ndarray, count: int, fraction: float) -> list:
        """The labels (1..``count`` in ``labels``) whose voxels, projected onto the line between the two lumen
        points, extend over at least ``fraction`` of the distance between them."""
        if count == 0:
            return []
        chord_mm = np.subtract(self.lumen_points[1], self.lumen_points[0]) * self.spacing_kji
        length_mm = float(np.linalg.norm(chord_mm))
        voxels = np.nonzero(labels)
        along_mm = (np.stack(voxels, axis=1) * self.spacing_kji) @ (chord_mm / max(length_mm, 1e-9))
        index = np.arange(1, count + 1)
        extent_mm = (ndimage.maximum(along_mm, labels[voxels], index)
                     - ndimage.minimum(along_mm, labels[voxels], index))
        return index[np.asarray(extent_mm) >= fraction * length_mm].tolist()


def _brightest_point(image: np.ndarray, window: tuple) -> tuple:
    """Index (k, j, i) of the brightest voxel of ``image`` inside the index box ``window``."""
    local = np.unravel_index(np.argmax(image[window]), image[window].shape)
    return tuple(int(part.start + offset) for part, offset in zip(window, local))


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


def _recentre(volume: Volume, points_ras: np.ndarray, params: ExtractionParameters,
              blur_sigma_mm: float | None = None, coarse: bool = False) -> tuple[np.ndarray, float, WallSections]:
    """Move the centerline to the centroid of the outer vessel-wall contour of each cross-section.

    The wall contour is searched without a lumen (``WallSections``; on its coarse sections when ``coarse``).
    blur_sigma_mm: the scanner's blur measured by an earlier pass (measured here when None). Returns the new control
    points, the mean shift (mm) and the sections the wall was found on (with the blur it was found with)."""
    sections = WallSections.along(volume, points_ras, params, blur_sigma_mm, coarse)
    offset_uv = contours.contour_centroid_mm(sections.wall.radii_mm, sections.grid)
    offset_uv = ndimage.gaussian_filter1d(offset_uv, params.smoothing_mm / sections.centerline.step_mm, axis=0,
                                          mode="nearest")
    moved = sections.centerline.moved_in_plane(offset_uv)
    shift_mm = float(np.mean(np.linalg.norm(offset_uv, axis=1)))
    return _smooth_polyline(moved, params.smoothing_mm, params.control_point_spacing_mm), shift_mm, sections


@dataclass
class WallSections:
    """Cross-sections every ``section_step_mm`` along a course (``centerline``, polar ``grid``) with the outer-wall
    contour found there without a lumen (contours.detect_vessel_wall): the fat gate alone tells the wall/fat edge
    from the lumen/wall edge, and a calcified section cannot be mistaken for contrast. Coarse sections (every
    ``coarse_section_step_mm``, ``coarse_angle_count`` rays sampled every ``coarse_radial_step_mm``) cost about a
    third and move a re-centring pass's course within 0.01-0.03 mm (mean over sections; 0.03-0.11 mm at most) of
    the full sections' on the presets, about the move of a full pass on a converged course; the blur a first coarse
    pass measures reads 0.01-0.03 mm above the full sections'. Sections 1 mm apart (a fifth of the cost) left the
    proximal lumen of the bench's curved vessel 0.18 mm off the course of full passes alone."""

    centerline: Centerline
    grid: PolarGrid
    wall: contours.WallContour

    @classmethod
    def along(cls, volume: Volume, points_ras: np.ndarray, params: ExtractionParameters,
              blur_sigma_mm: float | None = None, coarse: bool = False) -> WallSections:
        """The sections along ``points_ras`` (RAS), the wall found with the given scanner blur (mm; measured
        when None); the coarse sections when ``coarse``."""
        if coarse:
            step_mm = params.coarse_section_step_mm
            grid = PolarGrid.make(radial_step_mm=params.coarse_radial_step_mm, angle_count=params.coarse_angle_count)
        else:
            step_mm, grid = params.section_step_mm, PolarGrid.make()
        centerline = sample_centerline(points_ras, step_mm)
        samples = sample_sections(volume, centerline, grid, order=1)
        wall = contours.detect_vessel_wall(samples, grid, np.zeros(samples.shape[:2]), step_mm,
                                           blur_sigma_mm=blur_sigma_mm)
        return cls(centerline, grid, wall)

    def vessel_shown(self, params: ExtractionParameters) -> np.ndarray:
        """Whether each section shows an occluded vessel around its centre: its wall contour lies on a wall/fat
        edge along at least ``min_fat_edge_fraction`` of its rays, and its centroid lies within
        ``max_centre_offset_mm`` of the section's centre. A course through an occluded artery in epicardial fat
        passes; a course through fat beside the vessel (a wide arc cutting a tight bend), through the myocardium
        (no fat edge on that side and beyond it) or along the myocardium's surface does not."""
        offset_mm = np.linalg.norm(contours.contour_centroid_mm(self.wall.radii_mm, self.grid), axis=1)
        return (np.mean(self.wall.fat_edge, axis=1) >= params.min_fat_edge_fraction) & (
            offset_mm <= params.max_centre_offset_mm)


def _fill_short_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """``mask`` with every run of False shorter than ``max_gap`` between two True values set to True."""
    filled = mask.copy()
    true_indices = np.flatnonzero(mask)
    for before, after in zip(true_indices[:-1], true_indices[1:]):
        if 1 < after - before <= max_gap:
            filled[before:after] = True
    return filled


def longest_run(mask: np.ndarray) -> tuple[int, int]:
    """First and last index of the longest run of True in ``mask`` (-1, -1 when none)."""
    best, start, best_range = 0, None, (-1, -1)
    for index, value in enumerate(np.append(mask, False)):
        if value and start is None:
            start = index
        elif not value and start is not None:
            if index - start > best:
                best, best_range = index - start, (start, index - 1)
            start = None
    return best_range


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


@dataclass
class LumenSections:
    """Cross-sections every ``centerline.step_mm`` along a path, with where the bridge counts a lumen
    (``lumen_stretches``) and the lumen contour radii (mm, 0 without lumen) there."""

    centerline: Centerline
    grid: PolarGrid
    has_lumen: np.ndarray
    lumen_radii_mm: np.ndarray
    central_hu: np.ndarray

    @classmethod
    def along(cls, volume: Volume, points_ras: np.ndarray, params: ExtractionParameters) -> LumenSections:
        step = BRIDGE_STEP_MM
        centerline = sample_centerline(points_ras, step)
        grid = PolarGrid.make()
        samples = sample_sections(volume, centerline, grid, order=1)
        has_lumen = lumen_stretches(contours.lumen_present(samples, grid), int(round(params.min_gap_mm / step)),
                                    int(round(params.min_lumen_run_mm / step)))
        radii = contours.detect_lumen(samples, grid, has_lumen, step)
        return cls(centerline, grid, has_lumen, radii, contours.central_lumen_hu(samples, grid))

    def lumen_centres_ras(self) -> np.ndarray:
        """Centerline points moved to the centroid of the lumen contour where a lumen is present (RAS)."""
        offset_uv = np.where(self.has_lumen[:, None], contours.contour_centroid_mm(self.lumen_radii_mm, self.grid),
                             0.0)
        return self.centerline.moved_in_plane(offset_uv)


def lumen_stretches(lumen_present: np.ndarray, max_gap_sections: int, min_lumen_sections: int) -> np.ndarray:
    """Sections counted as lumen for the bridge: ``lumen_present`` with losses of up to ``max_gap_sections``
    filled (noise), then stretches shorter than ``min_lumen_sections`` dropped: inside the occlusion a bright cap
    nodule or fibrous cap, or a first-pass path touching a vein or branch, passes for lumen over up to 3.3 mm
    on the presets (seeds jittered by 0.8 mm on "heart")."""
    filled = _fill_short_gaps(lumen_present, max_gap_sections)
    return ndimage.binary_opening(filled, np.ones(max(1, min_lumen_sections), bool))


def occlusion_gap(has_lumen: np.ndarray) -> tuple[int, int] | None:
    """(last lumen section before the occlusion, first lumen section after it): the ends of the longest run
    without lumen, or None when it does not lie between two lumen stretches.

    The longest run, not the first loss of contrast and the last: a loss of a millimetre or two in the
    proximal lumen was then taken for the cap and the rest of the lumen bridged; and when the lumen before
    that loss was exactly as long as the direction window plus the cap margin, the fit's start index came out
    -1, an empty slice (the IndexError of jittered seeds in issue 25)."""
    first, last = longest_run(~has_lumen)
    if first <= 0 or last >= len(has_lumen) - 1:
        return None
    return first - 1, last + 1


def _run_bounds(has_lumen: np.ndarray, index: int) -> tuple[int, int]:
    """First and last index of the run of lumen sections holding ``index``."""
    before = np.flatnonzero(~has_lumen[:index])
    after = np.flatnonzero(~has_lumen[index:])
    return (before[-1] + 1 if len(before) else 0), (index + after[0] - 1 if len(after) else len(has_lumen) - 1)


def _cap_window(has_lumen: np.ndarray, cap: int, toward: int, margin: int, window: int) -> np.ndarray | None:
    """Indices of the lumen sections the direction at a cap is fitted on: ``window`` sections ending ``margin``
    before the cap (``toward`` -1: the proximal lumen, before its cap; +1: the distal lumen, after its cap),
    within the lumen run that ends at the cap; the margin shrinks when that run is short; None below
    MIN_DIRECTION_SECTIONS sections."""
    first, last = _run_bounds(has_lumen, cap)
    length = last - first + 1
    if length < MIN_DIRECTION_SECTIONS:
        return None
    margin = min(margin, length - MIN_DIRECTION_SECTIONS)
    span = min(window, length - margin - 1)
    if toward < 0:
        return np.arange(cap - margin - span, cap - margin + 1)
    return np.arange(cap + margin, cap + margin + span + 1)


def ostium_first(sections: LumenSections, gap: tuple[int, int], params: ExtractionParameters) -> bool | None:
    """Whether the path runs from the ostium (True) or from the distal end (False), from the lumen on the two
    sides of the occlusion: the proximal lumen, filled from the aorta, is the brighter (median central HU) and
    the wider (median lumen area) of the two. A cue decides when the two sides' medians differ by more than
    ``orientation_ratio`` and by more than ``orientation_z`` standard errors (``_median_difference_z``: under
    textured noise the central HU of 5 mm of equally filled lumen read 219 against 249 HU, a ratio of 0.88);
    None (cannot tell) when neither decides or they contradict each other."""
    proximal, distal = np.arange(gap[0] + 1), np.arange(gap[1], len(sections.has_lumen))
    area = contours.contour_area_mm2(sections.lumen_radii_mm)
    votes = set()
    for cue in (sections.central_hu, area):
        near, far = cue[proximal][sections.has_lumen[proximal]], cue[distal][sections.has_lumen[distal]]
        ratio = np.median(near) / np.median(far)
        differs = ratio > params.orientation_ratio or ratio < 1.0 / params.orientation_ratio
        if differs and _median_difference_z(near, far, sections.centerline.step_mm, params) > params.orientation_z:
            votes.add(bool(ratio > 1.0))
    return votes.pop() if len(votes) == 1 else None


def _median_difference_z(first: np.ndarray, second: np.ndarray, step_mm: float, params: ExtractionParameters) -> float:
    """|median(first) - median(second)| in standard errors of that difference. Each side's SD is read robustly
    (1.4826 x its median absolute deviation), the standard error of its median as 1.2533 SD / sqrt(n), with n the
    side's length over ``orientation_correlation_mm`` (neighbouring sections, ``step_mm`` apart, share their noise
    and their partial volume; at most one value per section). Infinite where neither side scatters: a side whose
    sections mostly read alike (a median absolute deviation of 0, e.g. a single section) adds no spread."""
    variance = 0.0
    for values in (first, second):
        sd = 1.4826 * np.median(np.abs(values - np.median(values)))
        independent = max(1.0, len(values) * step_mm / max(params.orientation_correlation_mm, step_mm))
        variance += (1.2533 * sd) ** 2 / independent
    difference = abs(float(np.median(first) - np.median(second)))
    return difference / np.sqrt(variance) if variance > 0 else np.inf


def _oriented(volume: Volume, seeds_ras: np.ndarray, points_ras: np.ndarray, params: ExtractionParameters,
              notes: list | None):
    """(seeds, first-pass points, their LumenSections, occlusion gap), reversed when the seeds were given from the
    distal end (``ostium_first``), with a note when they were reversed or the direction could not be told."""
    sections = LumenSections.along(volume, points_ras, params)
    gap = occlusion_gap(sections.has_lumen)
    if gap is None:
        return seeds_ras, points_ras, sections, gap
    first = ostium_first(sections, gap, params)
    if first is None and notes is not None:
        notes.append("could not tell the ostium end from the lumen (about as bright and as wide on both sides of "
                     "the occlusion): the first seed was taken as the ostium; check that it is")
    if first is not False:
        return seeds_ras, points_ras, sections, gap
    if notes is not None:
        notes.append(f"the seeds were given from the distal end (seed {len(seeds_ras)} lies in the brighter or "
                     "wider lumen): the centerline runs from the other end, the ostium")
    sections = LumenSections.along(volume, points_ras[::-1], params)
    return seeds_ras[::-1], points_ras[::-1], sections, occlusion_gap(sections.has_lumen)


def _bridge_occlusion(volume: Volume, sections: LumenSections, gap: tuple[int, int], seeds_ras: np.ndarray,
                      params: ExtractionParameters) -> tuple[np.ndarray, np.ndarray] | None:
    """The path with its stretch between the lumen's ends replaced by a bridge (method step 4: the arc, or the
    first-pass path where it shows the vessel clearly better, ``_followed_or_arc``), and the two ends of the bridge
    (RAS, (2, 3)); None when a cap has too little lumen to tell its direction."""
    step = sections.centerline.step_mm
    proximal_end, distal_start = gap
    window = int(round(params.tangent_window_mm / step))
    margin = int(round(params.cap_margin_mm / step))
    proximal = _cap_window(sections.has_lumen, proximal_end, -1, margin, window)
    distal = _cap_window(sections.has_lumen, distal_start, 1, margin, window)
    if proximal is None or distal is None:
        return None
    centres = sections.lumen_centres_ras()
    start_direction = _line_direction(centres[proximal])
    end_direction = _line_direction(centres[distal])
    arc_mm, points_ras = sections.centerline.arc_mm, sections.centerline.points_ras
    waypoints = [seed for seed in seeds_ras[1:-1]
                 if arc_mm[proximal_end] < arc_mm[np.argmin(np.linalg.norm(points_ras - seed, axis=1))]
                 < arc_mm[distal_start]]
    bridge = arc_bridge(centres[proximal_end], start_direction, centres[distal_start], end_direction, waypoints, step)
    if not waypoints:
        bridge = _followed_or_arc(volume, bridge, points_ras[proximal_end + 1:distal_start], params)
    return np.concatenate([centres[:proximal_end], bridge, centres[distal_start + 1:]]), bridge[[0, -1]]


def _followed_or_arc(volume: Volume, arc_ras: np.ndarray, path_ras: np.ndarray,
                     params: ExtractionParameters) -> np.ndarray:
    """The bridge across the occlusion: the first-pass minimal path between the caps (``path_ras``, RAS, which
    follows the tube of plaque in fat where it shows), or the arc from the lumen's directions (``arc_ras``). Each
    is re-centred on the outer wall (``scoring_recentre_passes`` passes, on the bridge alone) and scored by the
    fraction of its sections that show the occluded vessel (``WallSections.vessel_shown``); the path replaces the arc
    when it scores at least ``min_confirmed_fraction`` and ``follow_margin_fraction`` (a fraction of the sections)
    more than the arc. A tight bend the lumen's directions do not carry leaves the arc in fat or in the myocardium
    inside the bend, which re-centring does not recover; a minimal path cutting through the myocardium or a vein
    beside the vessel shows no fat around it there, and the arc, pulled onto the vessel by re-centring, stays."""
    path_ras = np.vstack([arc_ras[:1], path_ras, arc_ras[-1:]])
    path_shown, blur_sigma_mm = _shown_after_recentring(volume, path_ras, params)
    if path_shown < params.min_confirmed_fraction:
        return arc_ras
    arc_shown, _ = _shown_after_recentring(volume, arc_ras, params, blur_sigma_mm)
    return path_ras if path_shown >= arc_shown + params.follow_margin_fraction else arc_ras


def _shown_after_recentring(volume: Volume, course_ras: np.ndarray, params: ExtractionParameters,
                            blur_sigma_mm: float | None = None) -> tuple[float, float]:
    """Fraction of the sections along ``course_ras`` (RAS) that show the occluded vessel (``WallSections.vessel_shown``)
    after ``scoring_recentre_passes`` passes of re-centring on the outer wall (all of them: no convergence test), on
    sections found again along the re-centred course, and the scanner's blur (mm) they used: ``blur_sigma_mm`` where
    given, else measured by the first pass."""
    course_ras, sections = _recentred(volume, course_ras, params, blur_sigma_mm, params.scoring_recentre_passes, 0.0,
                                      keep_last=False)
    blur_sigma_mm = blur_sigma_mm if sections is None else sections.wall.blur_sigma_mm
    shown = WallSections.along(volume, course_ras, params, blur_sigma_mm).vessel_shown(params)
    return float(np.mean(shown)), blur_sigma_mm


def _recentred(volume: Volume, points_ras: np.ndarray, params: ExtractionParameters,
               blur_sigma_mm: float | None = None, passes: int | None = None,
               converged_shift_mm: float | None = None,
               keep_last: bool = True) -> tuple[np.ndarray, WallSections | None]:
    """``points_ras`` (RAS) re-centred on the outer wall (method step 5) until the mean shift is below
    ``converged_shift_mm`` (default ``params.converged_shift_mm``; 0 runs every pass) or after ``passes`` passes
    (default ``params.max_recentre_iterations``), and the last pass's sections, found before its move (the scanner's
    blur they used: ``blur_sigma_mm`` where given, else measured by the first pass, and measured again by the first
    full pass after coarse ones; None after no pass). The coarse sections' 36 rays read the blur 0.035-0.05 mm wide
    (0.522 against 0.487 mm on the curved bench case, 0.700 against 0.647 on bend): their blur probe counts rays, so
    it reaches fewer sections or falls back to the peak slope's estimate.

    The passes run on the coarse sections (``WallSections``) until one shifts the course by less than
    ``coarse_converged_shift_mm`` on average, then on the full sections; the convergence test is read on full
    passes only. ``keep_last``: the last pass runs on the full sections whatever its predecessors' shift (its
    sections are returned for use); without it every pass may be coarse (a course scored afresh afterwards)."""
    passes = params.max_recentre_iterations if passes is None else passes
    converged_shift_mm = params.converged_shift_mm if converged_shift_mm is None else converged_shift_mm
    sections, coarse, measure_on_full = None, True, blur_sigma_mm is None
    for number in range(passes):
        coarse_pass = coarse and not (keep_last and number == passes - 1)
        if measure_on_full and not coarse_pass:
            blur_sigma_mm, measure_on_full = None, False  # measured (again) on the first full sections
        points_ras, shift_mm, sections = _recentre(volume, points_ras, params, blur_sigma_mm, coarse_pass)
        blur_sigma_mm = sections.wall.blur_sigma_mm
        if not coarse_pass and shift_mm < converged_shift_mm:
            break
        coarse = coarse and shift_mm >= params.coarse_converged_shift_mm
    return points_ras, sections


def _first_pass(volume: Volume, cost: np.ndarray, seeds_kji: np.ndarray, low: np.ndarray, seeds_ras: np.ndarray,
                params: ExtractionParameters) -> np.ndarray:
    """The minimal-cost path through the seeds (method step 3) on ``cost`` (the crop starting at index ``low``
    (i, j, k) of ``volume``; seeds as crop indices (k, j, i) and in RAS), smoothed: control points (RAS) every
    ``control_point_spacing_mm``. Errors when consecutive pieces run back along each other."""
    spacing_kji = volume.spacing_mm[::-1]
    segments = []
    for start, end in zip(seeds_kji[:-1], seeds_kji[1:]):
        path_kji = _minimal_path_kji(cost, spacing_kji, start, end)
        path_ijk = path_kji[:, ::-1] + low
        segments.append(path_ijk @ volume.ijk_to_ras[:3, :3].T + volume.ijk_to_ras[:3, 3])
    _check_seed_order(segments, params.backtrack_mm)
    path_ras = np.concatenate([segments[0]] + [segment[1:] for segment in segments[1:]])
    path_ras[0], path_ras[-1] = seeds_ras[0], seeds_ras[-1]
    return _smooth_polyline(path_ras, params.smoothing_mm, params.control_point_spacing_mm)


def extract_centerline(volume: Volume, seeds_ras, params: ExtractionParameters = ExtractionParameters(),
                       notes: list | None = None) -> np.ndarray:
    """Centerline control points (RAS, every ``control_point_spacing_mm``, proximal first) through the seeds.

    Seeds given from the distal end are reversed (``ostium_first``), with a sentence appended to ``notes``; so is
    the uncertain-bridge note (``_unconfirmed_bridge``)."""
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
    contrast = SeedContrast.around(crop, seeds_kji, spacing_kji, params)
    if contrast is not None:
        cost[contrast.foreign() | contrast.joined_to_lumen(params)] = barrier
    points = _first_pass(volume, cost, seeds_kji, low, seeds_ras, params)
    seeds_ras, points, sections, gap = _oriented(volume, seeds_ras, points, params, notes)
    blur_sigma_mm = None  # measured by the first pass of re-centring
    if gap is None:  # no occlusion between two lumens (points as given): the path may hug a bright occluded wall
        points, walls = _recentred(volume, points, params)
        blur_sigma_mm = walls.wall.blur_sigma_mm
        seeds_ras, points, sections, gap = _oriented(volume, seeds_ras, points, params, notes)
    bridged = None if gap is None else _bridge_occlusion(volume, sections, gap, seeds_ras, params)
    if bridged is not None:
        points = _smooth_polyline(bridged[0], params.smoothing_mm, params.control_point_spacing_mm)
    points, walls = _recentred(volume, points, params, blur_sigma_mm)
    if bridged is not None and notes is not None:
        notes += _unconfirmed_bridge(points, walls, bridged[1], params)
    return points


def _unconfirmed_bridge(points_ras: np.ndarray, walls: WallSections, ends_ras: np.ndarray,
                        params: ExtractionParameters) -> list:
    """A note (a list of one sentence, or none) when the centerline ``points_ras`` (RAS) between the bridge's ends
    (RAS, the last and first lumen centres either side of the occlusion, projected onto it) shows the occluded
    vessel (``WallSections.vessel_shown``) along less than ``min_confirmed_fraction`` of its sections: its course
    there is the interpolation's, not the image's, and the occlusion length and bending read from it are
    uncertain. ``walls``: the sections of the last re-centring pass, which moved the course to ``points_ras``
    (by less than ``converged_shift_mm`` on average when it converged); their wall is not found again."""
    start_mm, end_mm = _between_mm(sample_centerline(points_ras, BRIDGE_STEP_MM), ends_ras)
    inside_mm = _between_mm(walls.centerline, ends_ras)
    inside = (walls.centerline.arc_mm >= inside_mm[0]) & (walls.centerline.arc_mm <= inside_mm[1])
    if np.count_nonzero(inside) < 2:
        return []
    confirmed = float(np.mean(walls.vessel_shown(params)[inside]))
    if confirmed >= params.min_confirmed_fraction:
        return []
    return [f"uncertain bridge: the {end_mm - start_mm:.1f} mm of centerline bridged across the occlusion show a "
            f"vessel wall surrounded by fat along only {100 * confirmed:.0f}% of it; there its course is "
            "interpolated from the lumen on both sides, so the occlusion length and bending may be wrong: check the "
            "centerline and add a seed inside the occlusion where the vessel runs"]


def _between_mm(centerline: Centerline, ends_ras: np.ndarray) -> tuple[float, float]:
    """Arc positions (mm) of the two points ``ends_ras`` (RAS) projected onto ``centerline``, in order."""
    return tuple(sorted(project_onto_centerline(centerline, end)[0] for end in ends_ras))
