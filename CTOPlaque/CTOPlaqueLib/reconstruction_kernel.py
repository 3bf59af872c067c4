"""Was the scan reconstructed with an edge-enhancing (sharp) kernel? Read off the image beside the lumen.

The reconstruction kernel sets how the scanner renders an edge. A smooth or medium soft-tissue kernel,
the standard for CCTA, blurs it monotonically: outward from the contrast lumen the profile falls through
the wall to the epicardial fat and no lower. An edge-enhancing kernel (bone, lung, "sharp" or "detail"
kernels) overshoots: beside every strong edge the image dips below the fat it lies in, by a fraction of
the edge's height, and recovers within a millimetre or two. The occluded wall's edge is judged against
the fat around it (contours.detect_vessel_wall), and on such an image the plaque volume reads small with
no other warning. On the phantoms, with an unsharp mask of boost 1.5 over 0.8 mm (phantom.PhantomSpec), from
two seeds: curved -7 to -8%, heart -8 to -9%, anisotropic voxels -7 to -11%, thin 0.4 mm walls -15%; at boost
1.0 with fat at -40 HU, -31%. PAV still follows the image.

The measure, ``lumen_edge_undershoot_hu``: the epicardial fat level far from the vessel (the samples
FAR_FAT_RING_MM from the centerline within FAR_FAT_BAND_HU of their fat level, contours.fat_level_hu; their
median), minus the lowest point of the median profile
UNDERSHOOT_SEARCH_MM beyond the lumen contour, less NOISE_MARGIN standard errors of that point. The lumen edge is
the strongest edge along the vessel (300..550 HU of contrast over fat), so its undershoot is the largest. The median
is taken over the rays that reach fat beyond the search (their mean over FAT_TAIL_MM below the outer wall's fat
cut): a ray into the myocardium or a vein beside the artery never dips, and on a vessel touching the myocardium the
median over all rays missed half the undershoot. That tail starts 1 mm beyond the search: CT noise is correlated
over about a millimetre, and with the tail right next to the search (2.5-3.5 mm) the rays kept were those whose
texture happened to dip at the search's end, so that noise alone read as a dip (textured 55 HU noise with fat at
-110 HU: +3.6..+8.1 HU on a smooth 30 mm cylinder, Testing/test_reconstruction_kernel.py; the phantoms' measure
fell 5-6 HU with the tail moved out). The standard error is the spread of the same point in the median profiles
of NOISE_BLOCKS runs of consecutive sections: the lowest of a noisy profile lies below its true level, by more the
fewer independent samples the noise texture leaves. A smooth kernel leaves the profile above the fat (partial
volume of the wall). On real scans the fat nearest an artery is, if anything, brighter than the fat farther out
(perivascular fat attenuation), which only lowers the measure.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .centerline import Centerline
from .contours import ContourParameters, fat_level_hu, profiles_across_contour, relative_level_hu
from .crosssection import PolarGrid, sample_sections
from .volume_io import Volume

UNDERSHOOT_SEARCH_MM = (0.2, 2.5)
FAT_TAIL_MM = (3.5, 4.5)
# Runs of sections whose median profiles give the standard error of the dip, and how many standard errors the dip
# is lowered by (about the bias of the lowest of a few dozen noisy points).
NOISE_BLOCKS = 6
NOISE_MARGIN = 2.0
FAR_FAT_RING_MM = (6.0, 9.0)
FAR_FAT_BAND_HU = 40.0
# Lumen sections sampled for the measure (evenly spread): about 9 000 rays, enough for a median profile
# that noise does not move by more than a few HU, at a fraction of the analysis's sampling time.
MAX_SECTIONS = 120
MIN_SECTIONS = 12
MIN_FAT_RAYS = 200


def lumen_edge_undershoot_hu(volume: Volume, centerline: Centerline, lumen_radii_mm: np.ndarray,
                             radial_step_mm: float, angle_count: int,
                             params: ContourParameters = ContourParameters(), sampled=None) -> float | None:
    """How far (HU) the image dips below the far epicardial fat just beyond the lumen (module docstring).

    volume: HU and IJK->RAS; centerline: the analysis's sections; lumen_radii_mm: (S, A) lumen contour radii,
    0 where a section has no lumen; radial_step_mm, angle_count: the analysis's polar sampling; sampled: the
    analysis's (samples (S, A, R), PolarGrid) where at hand, whose radii are not sampled again (_sections_hu).
    None where fewer than MIN_SECTIONS sections have a lumen, or fewer than MIN_FAT_RAYS of their rays reach fat.
    """
    with_lumen = np.flatnonzero(np.any(lumen_radii_mm > 0, axis=1))
    if len(with_lumen) < MIN_SECTIONS:
        return None
    chosen = with_lumen[np.unique(np.linspace(0, len(with_lumen) - 1, MAX_SECTIONS).round().astype(int))]
    radii_mm = lumen_radii_mm[chosen]
    # Far enough out that every lumen ray's profile to the end of its fat tail lies on the grid (none left out).
    reach_mm = max(FAR_FAT_RING_MM[1], float(radii_mm.max()) + FAT_TAIL_MM[1] + 2.0 * radial_step_mm)
    grid = PolarGrid.make(reach_mm, radial_step_mm, angle_count)
    samples_hu = _sections_hu(volume, centerline, grid, chosen, sampled)
    far_fat_hu = _far_fat_hu(samples_hu, grid, params)
    offsets_mm = np.arange(UNDERSHOOT_SEARCH_MM[0], FAT_TAIL_MM[1] + 0.5 * radial_step_mm, radial_step_mm)
    profiles = profiles_across_contour(samples_hu, grid, radii_mm, radii_mm > 0, offsets_mm)
    tail_hu = profiles[:, offsets_mm >= FAT_TAIL_MM[0]].mean(axis=1)
    to_fat = tail_hu < relative_level_hu(far_fat_hu, params.fat_cut_fraction, params)
    if np.count_nonzero(to_fat) < MIN_FAT_RAYS:
        return None
    section_of_ray = np.repeat(np.arange(len(chosen)), np.count_nonzero(radii_mm > 0, axis=1))
    searched = offsets_mm <= UNDERSHOOT_SEARCH_MM[1] + 1e-9
    lowest_hu, standard_error_hu = _lowest_median_hu(profiles[to_fat][:, searched], section_of_ray[to_fat])
    return float(far_fat_hu - lowest_hu - NOISE_MARGIN * standard_error_hu)


def _sections_hu(volume: Volume, centerline: Centerline, grid: PolarGrid, chosen: np.ndarray, sampled) -> np.ndarray:
    """``sample_sections`` (trilinear) of the ``chosen`` sections on ``grid``. sampled: (samples (S, A, R), PolarGrid)
    of every section, or None; where its grid has the same angles and its radii are the first of ``grid``'s (both
    PolarGrid.make with one radial step), those samples are taken as they are (the same points, the same values)
    and only the radii beyond them are sampled."""
    inner = 0
    if sampled is not None:
        samples_hu, sampled_grid = sampled
        inner = min(len(sampled_grid.radii_mm), len(grid.radii_mm))
        if not (np.array_equal(sampled_grid.angles_rad, grid.angles_rad)
                and np.array_equal(sampled_grid.radii_mm[:inner], grid.radii_mm[:inner])):
            inner = 0
    if inner == 0:
        return sample_sections(volume, centerline, grid, order=1, section_indices=chosen)
    known = samples_hu[chosen, :, :inner]
    if inner == len(grid.radii_mm):
        return known
    outer = PolarGrid(grid.radii_mm[inner:], grid.angles_rad, grid.radial_step_mm)
    return np.concatenate([known, sample_sections(volume, centerline, outer, order=1, section_indices=chosen)],
                          axis=-1)


def _lowest_median_hu(profiles_hu: np.ndarray, section_of_ray: np.ndarray) -> tuple:
    """(lowest point of the median profile, its standard error): profiles_hu (rays, offsets), section_of_ray the
    index (in order along the vessel) of each ray's section; the error from the same offset's median over each of
    NOISE_BLOCKS runs of consecutive sections (as many as there are sections where fewer; 0 from one section)."""
    median = np.median(profiles_hu, axis=0)
    lowest = int(np.argmin(median))
    sections = np.unique(section_of_ray)
    if len(sections) < 2:
        return float(median[lowest]), 0.0
    blocks = np.array_split(sections, min(NOISE_BLOCKS, len(sections)))
    per_block = [np.median(profiles_hu[np.isin(section_of_ray, block), lowest]) for block in blocks]
    return float(median[lowest]), float(np.std(per_block, ddof=1) / np.sqrt(len(blocks)))


def _far_fat_hu(samples_hu: np.ndarray, grid: PolarGrid, params: ContourParameters) -> float:
    """The median of the samples in FAR_FAT_RING_MM within FAR_FAT_BAND_HU of their fat level."""
    far_ring = dataclasses.replace(params, fat_ring_mm=FAR_FAT_RING_MM[1] - FAR_FAT_RING_MM[0])
    level_hu = fat_level_hu(samples_hu, grid, far_ring)
    ring = samples_hu[:, :, grid.radii_mm >= FAR_FAT_RING_MM[0]]
    near_level = ring[np.abs(ring - level_hu) <= FAR_FAT_BAND_HU]
    return float(np.median(near_level)) if near_level.size else level_hu
