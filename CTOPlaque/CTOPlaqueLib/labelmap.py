"""The lesion's plaque, its composition and the lumen as voxel labelmaps on the CT grid (for the overlay, the
.seg.nrrd and the DICOM SEG), each voxel tested against the contours of its nearest section (inside_contours)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .analysis import LesionAnalysis
from .centerline import Centerline
from .contours import angular_neighbours
from .volume_io import Volume

# The voxels of a box are first looked up in cubes of this many voxels a side (box_voxels_near).
NEAR_BLOCK_VOXELS = 8
# Added to a cube's reach (mm): far above the rounding of the distances compared, far below a voxel.
NEAR_BLOCK_SLACK_MM = 1e-6


@dataclass
class Labelmap:
    """Labels [k, j, i] (0 none, 1..4 = COMPONENTS) on a sub-box of the CT grid, with that box's IJK->RAS."""

    labels: np.ndarray
    ijk_to_ras: np.ndarray


def lesion_box_ijk(volume: Volume, centres_ras: np.ndarray, reach_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The CT voxel box (low, high corner indices i, j, k, clipped to the volume) holding every centre (RAS) with
    ``reach_mm`` around it."""
    ras_to_ijk = volume.ras_to_ijk()
    centres_ijk = centres_ras @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    reach_vox = reach_mm / volume.spacing_mm + 1
    size_ijk = np.array(volume.hu.shape[::-1])
    low = np.clip(np.floor(centres_ijk.min(axis=0) - reach_vox), 0, size_ijk - 1).astype(int)
    high = np.clip(np.ceil(centres_ijk.max(axis=0) + reach_vox), 0, size_ijk - 1).astype(int)
    return low, high


def box_voxels_near(ijk_to_ras: np.ndarray, low: np.ndarray, high: np.ndarray, tree: cKDTree,
                    max_distance_mm: float) -> np.ndarray:
    """Mask [k, j, i] of the voxels of the box low..high (i, j, k, inclusive; ``ijk_to_ras`` the volume's) that may
    lie within ``max_distance_mm`` of a point of ``tree`` (RAS): all but the cubes of NEAR_BLOCK_VOXELS voxels a
    side whose centre lies farther from every point than that plus the distance from the centre to its farthest
    voxel (and NEAR_BLOCK_SLACK_MM). A voxel left out lies farther than ``max_distance_mm`` from every point, so a
    k-d query of it within that distance finds nothing; the queries of the others are those of the whole box. Most
    of a box around a curved vessel is far from it: one query per cube instead of one per voxel there."""
    size = np.asarray(high) - low + 1
    block = NEAR_BLOCK_VOXELS
    counts = -(-size // block)
    centres_ijk = _box_grid(low + 0.5 * (block - 1), counts, block)
    corners = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]) * 0.5 * (block - 1)
    block_reach_mm = float(np.linalg.norm(corners @ ijk_to_ras[:3, :3].T, axis=1).max())
    distance_mm, _ = tree.query(centres_ijk @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3],
                                distance_upper_bound=max_distance_mm + block_reach_mm + NEAR_BLOCK_SLACK_MM)
    near_blocks = np.isfinite(distance_mm).reshape(counts[::-1])
    near = near_blocks.repeat(block, axis=0).repeat(block, axis=1).repeat(block, axis=2)
    return near[:size[2], :size[1], :size[0]]


def _box_grid(first: np.ndarray, counts: np.ndarray, step: float) -> np.ndarray:
    """(i, j, k) points first + step * n, n = 0..counts - 1 along each axis, in [k, j, i] order, (N, 3)."""
    kk, jj, ii = np.meshgrid(*[first[axis] + step * np.arange(counts[axis]) for axis in (2, 1, 0)], indexing="ij")
    return np.stack([ii.ravel(), jj.ravel(), kk.ravel()], axis=1)


def inside_contours(contours_radii_mm: tuple, section: np.ndarray, radius_mm: np.ndarray, angle_rad: np.ndarray
                    ) -> list:
    """Whether each point, at ``radius_mm`` and ``angle_rad`` in the plane of its ``section`` (polar_in_section),
    lies inside each section contour of ``contours_radii_mm`` (each (S, A), on the same angles): closer to the
    centre than the contour's radius at its angle, linear between the sampled angles (periodic); one bool array
    per contour. The angular neighbours are found once for all contours. The one test of every voxel mask made
    from the contours (the composition, plaque and lumen labelmaps here and the editable segments of
    contour_masks)."""
    below, above, weight = angular_neighbours(angle_rad, contours_radii_mm[0].shape[1])
    return [radius_mm < (1 - weight) * radii_mm[section, below] + weight * radii_mm[section, above]
            for radii_mm in contours_radii_mm]


def polar_in_sections(centerline: Centerline, sections: np.ndarray, tree: cKDTree, ras: np.ndarray,
                      max_distance_mm: float = np.inf, searched: np.ndarray = None):
    """Each RAS point (M, 3) in the polar frame of its nearest section among ``sections`` (``tree``: a cKDTree
    of their centres): the section index, arc length of its foot point on the centerline (mm), radius (mm) and
    angle (rad) in the section plane. A point with no centre within ``max_distance_mm`` (left out of the k-d
    search, which is then much faster) gets section 0, arc NaN and radius infinity: it is in no contour.
    searched: (M,) mask of the points to look up where the others are known to have no centre that near
    (box_voxels_near); all points without it."""
    searched = np.ones(len(ras), bool) if searched is None else searched
    distance, nearest = tree.query(ras[searched], distance_upper_bound=max_distance_mm, workers=-1)
    found = np.zeros(len(ras), bool)
    found[searched] = np.isfinite(distance)
    if np.all(found):
        return polar_in_section(centerline, sections[nearest], ras)
    section = np.zeros(len(ras), int)
    arc, radius, angle = np.full(len(ras), np.nan), np.full(len(ras), np.inf), np.zeros(len(ras))
    section[found], arc[found], radius[found], angle[found] = polar_in_section(
        centerline, sections[nearest[np.isfinite(distance)]], ras[found])
    return section, arc, radius, angle


def polar_in_section(centerline: Centerline, section: np.ndarray, ras: np.ndarray):
    """Each RAS point (M, 3) in the polar frame of the given section (M,): the section, arc length of its foot
    point on the centerline (mm), radius (mm) and angle (rad) in the section plane."""
    offset = ras - centerline.points_ras[section]
    arc = centerline.arc_mm[section] + _row_dot(offset, centerline.tangents[section])
    u = _row_dot(offset, centerline.normals_u[section])
    v = _row_dot(offset, centerline.normals_v[section])
    return section, arc, np.hypot(u, v), np.arctan2(v, u)


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The dot product of each row of two (M, 3) arrays, added in the order np.sum(a * b, axis=1) adds them (the
    same numbers, bit for bit) at a third of its time: numpy's sum along a short last axis is slow."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _box_polar(volume: Volume, analysis: LesionAnalysis, sections: np.ndarray, reach_mm: float):
    """The voxels of the box around ``sections`` (with ``reach_mm``), each in the polar frame of its nearest
    section (``polar_in_sections``), after the box's low and high corners (i, j, k); voxels in box order k, j, i.
    Voxels farther than ``reach_mm`` and a section step from every section's centre are in no contour (radius
    infinity): within the sections' span, a voxel within reach_mm of the centerline lies within that of a centre."""
    centres = analysis.centerline.points_ras[sections]
    low, high = lesion_box_ijk(volume, centres, reach_mm)
    ijk = _box_grid(low.astype(float), high - low + 1, 1.0)
    ras = ijk @ volume.ijk_to_ras[:3, :3].T + volume.ijk_to_ras[:3, 3]
    tree, max_distance_mm = cKDTree(centres), reach_mm + analysis.centerline.step_mm
    near = box_voxels_near(volume.ijk_to_ras, low, high, tree, max_distance_mm).ravel()
    return (low, high) + polar_in_sections(analysis.centerline, sections, tree, ras, max_distance_mm, near)


def _box_labelmap(volume: Volume, labels: np.ndarray, low: np.ndarray) -> Labelmap:
    box_ijk_to_ras = volume.ijk_to_ras.copy()
    box_ijk_to_ras[:3, 3] = volume.ijk_to_ras[:3, :3] @ low + volume.ijk_to_ras[:3, 3]
    return Labelmap(labels, box_ijk_to_ras)


def _on_volume_grid(volume: Volume, labelmap: Labelmap) -> tuple:
    """The slices [k, j, i] of the CT grid that the box labelmap covers (it lies on the volume's voxels)."""
    ras_to_ijk = volume.ras_to_ijk()
    low_ijk = np.round(ras_to_ijk[:3, :3] @ labelmap.ijk_to_ras[:3, 3] + ras_to_ijk[:3, 3]).astype(int)
    return tuple(slice(low, low + size) for low, size in zip(low_ijk[::-1], labelmap.labels.shape))


def labels_on_volume_grid(volume: Volume, labelmap: Labelmap) -> np.ndarray:
    """The box labelmap's labels placed on the whole CT grid [k, j, i] (zeros outside the box); the box must
    lie on the volume's voxels, as every labelmap made here does."""
    labels = np.zeros(volume.hu.shape, labelmap.labels.dtype)
    labels[_on_volume_grid(volume, labelmap)] = labelmap.labels
    return labels


def plaque_labelmap(volume: Volume, analysis: LesionAnalysis) -> Labelmap:
    """1 for every voxel of the wall between P and D: the plaque, vessel minus lumen, whatever its HU (the
    composition's four classes and the unclassified wall below them); 0 elsewhere, on the box around the occlusion.

    A voxel belongs to the cross-section whose centre is nearest; it is in the wall when its distance from the
    centerline lies between the lumen and vessel contours at its angle (inside_contours), and its foot point on the
    centerline lies between P and D.
    """
    lesion = np.flatnonzero(analysis.occlusion_slabs_mm() > 0)
    low, high, section, arc, radius, angle = _box_polar(volume, analysis, lesion,
                                                        float(analysis.vessel_radii_mm[lesion].max()))
    in_vessel, in_lumen = inside_contours((analysis.vessel_radii_mm, analysis.lumen_radii_mm), section, radius,
                                          angle)
    in_wall = (arc >= analysis.landmarks_mm["P"]) & (arc <= analysis.landmarks_mm["D"]) & in_vessel & ~in_lumen
    shape = tuple(int(n) for n in (high - low + 1)[::-1])
    return _box_labelmap(volume, in_wall.reshape(shape).astype(np.uint8), low)


def composition_labelmap(volume: Volume, analysis: LesionAnalysis, plaque: Labelmap = None) -> Labelmap:
    """Label every voxel of the plaque (plaque_labelmap; ``plaque``, where already built) by the HU class of that
    voxel (1..4 = COMPONENTS; 0 below the necrotic core's bound, as outside the wall), on the plaque's box."""
    if plaque is None:
        plaque = plaque_labelmap(volume, analysis)
    classes = analysis.thresholds.classify(volume.hu[_on_volume_grid(volume, plaque)])
    return Labelmap(np.where(plaque.labels > 0, classes, 0).astype(np.uint8), plaque.ijk_to_ras)


def lumen_labelmap(volume: Volume, analysis: LesionAnalysis) -> Labelmap:
    """1 for every voxel whose centre lies inside the lumen contour of its nearest cross-section (0 elsewhere),
    along the whole centerline; the lumen's sections end where it has none (between P and D)."""
    with_lumen = np.flatnonzero(analysis.lumen_radii_mm.max(axis=1) > 0)
    if len(with_lumen) == 0:
        return Labelmap(np.zeros((1, 1, 1), np.uint8), volume.ijk_to_ras.copy())
    low, high, section, arc, radius, angle = _box_polar(volume, analysis, with_lumen,
                                                        float(analysis.lumen_radii_mm[with_lumen].max()))
    half_step = 0.5 * analysis.centerline.step_mm
    in_lumen = ((np.abs(arc - analysis.centerline.arc_mm[section]) <= half_step)
                & inside_contours((analysis.lumen_radii_mm,), section, radius, angle)[0])
    shape = tuple(int(n) for n in (high - low + 1)[::-1])
    return _box_labelmap(volume, in_lumen.reshape(shape).astype(np.uint8), low)


@dataclass
class LesionLabelmaps:
    """One analysis's voxel labelmaps on the CT grid (each on its own box): the plaque (plaque_labelmap), its
    composition (composition_labelmap, classified within that plaque) and the lumen (lumen_labelmap)."""

    plaque: Labelmap
    composition: Labelmap
    lumen: Labelmap


def lesion_labelmaps(volume: Volume, analysis: LesionAnalysis) -> LesionLabelmaps:
    """The LesionLabelmaps of an analysis, the wall between P and D found once for the plaque and composition."""
    plaque = plaque_labelmap(volume, analysis)
    return LesionLabelmaps(plaque, composition_labelmap(volume, analysis, plaque), lumen_labelmap(volume, analysis))


def with_lumen(composition: Labelmap, lumen: Labelmap, lumen_label: int) -> Labelmap:
    """The composition's labels with the lumen's voxels labelled ``lumen_label`` (the lumen wins where both, as in
    the DICOM SEG), on the smallest box of their common CT grid that holds both."""
    if not lumen.labels.any():
        return composition
    ras_to_ijk = np.linalg.inv(composition.ijk_to_ras[:3, :3])
    offsets = [np.round(ras_to_ijk @ (part.ijk_to_ras[:3, 3] - composition.ijk_to_ras[:3, 3])).astype(int)[::-1]
               for part in (composition, lumen)]  # box corners (k, j, i) relative to the composition's
    low = np.minimum(*offsets)
    high = np.maximum(*(offset + part.labels.shape for offset, part in zip(offsets, (composition, lumen))))
    labels = np.zeros(tuple(high - low), np.uint8)
    regions = [tuple(slice(a, a + n) for a, n in zip(offset - low, part.labels.shape))
               for offset, part in zip(offsets, (composition, lumen))]
    labels[regions[0]] = composition.labels
    labels[regions[1]][lumen.labels > 0] = lumen_label
    ijk_to_ras = composition.ijk_to_ras.copy()
    ijk_to_ras[:3, 3] += composition.ijk_to_ras[:3, :3] @ low[::-1]
    return Labelmap(labels, ijk_to_ras)
