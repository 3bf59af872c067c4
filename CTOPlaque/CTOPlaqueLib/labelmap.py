"""The lesion's plaque, its composition and the lumen as voxel labelmaps on the CT grid (for the overlay, the
.seg.nrrd and the DICOM SEG), each voxel tested against the contours of its nearest section (inside_contour)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .analysis import LesionAnalysis
from .centerline import Centerline
from .contours import angular_neighbours
from .volume_io import Volume


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


def inside_contour(radii_mm: np.ndarray, section: np.ndarray, radius_mm: np.ndarray, angle_rad: np.ndarray
                   ) -> np.ndarray:
    """Whether each point, at ``radius_mm`` and ``angle_rad`` in the plane of its ``section`` (polar_in_section),
    lies inside that section's contour ``radii_mm`` (S, A): closer to the centre than the contour's radius at its
    angle, linear between the sampled angles (periodic). The one test of every voxel mask made from the contours
    (the composition, plaque and lumen labelmaps here and the editable segments of contour_masks)."""
    below, above, weight = angular_neighbours(angle_rad, radii_mm.shape[1])
    return radius_mm < (1 - weight) * radii_mm[section, below] + weight * radii_mm[section, above]


def polar_in_sections(centerline: Centerline, sections: np.ndarray, tree: cKDTree, ras: np.ndarray,
                      max_distance_mm: float = np.inf):
    """Each RAS point (M, 3) in the polar frame of its nearest section among ``sections`` (``tree``: a cKDTree
    of their centres): the section index, arc length of its foot point on the centerline (mm), radius (mm) and
    angle (rad) in the section plane. A point with no centre within ``max_distance_mm`` (left out of the k-d
    search, which is then much faster) gets section 0, arc NaN and radius infinity: it is in no contour."""
    distance, nearest = tree.query(ras, distance_upper_bound=max_distance_mm, workers=-1)
    found = np.isfinite(distance)
    if np.all(found):
        return polar_in_section(centerline, sections[nearest], ras)
    section = np.zeros(len(ras), int)
    arc, radius, angle = np.full(len(ras), np.nan), np.full(len(ras), np.inf), np.zeros(len(ras))
    section[found], arc[found], radius[found], angle[found] = polar_in_section(centerline, sections[nearest[found]],
                                                                               ras[found])
    return section, arc, radius, angle


def polar_in_section(centerline: Centerline, section: np.ndarray, ras: np.ndarray):
    """Each RAS point (M, 3) in the polar frame of the given section (M,): the section, arc length of its foot
    point on the centerline (mm), radius (mm) and angle (rad) in the section plane."""
    offset = ras - centerline.points_ras[section]
    arc = centerline.arc_mm[section] + np.sum(offset * centerline.tangents[section], axis=1)
    u = np.sum(offset * centerline.normals_u[section], axis=1)
    v = np.sum(offset * centerline.normals_v[section], axis=1)
    return section, arc, np.hypot(u, v), np.arctan2(v, u)


def _box_polar(volume: Volume, analysis: LesionAnalysis, sections: np.ndarray, reach_mm: float):
    """The voxels of the box around ``sections`` (with ``reach_mm``), each in the polar frame of its nearest
    section (``polar_in_sections``), after the box's low and high corners (i, j, k); voxels in box order k, j, i.
    Voxels farther than ``reach_mm`` and a section step from every section's centre are in no contour (radius
    infinity): within the sections' span, a voxel within reach_mm of the centerline lies within that of a centre."""
    centres = analysis.centerline.points_ras[sections]
    low, high = lesion_box_ijk(volume, centres, reach_mm)
    i, j, k = [np.arange(a, b + 1) for a, b in zip(low, high)]
    kk, jj, ii = np.meshgrid(k, j, i, indexing="ij")
    ijk = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], axis=1).astype(float)
    ras = ijk @ volume.ijk_to_ras[:3, :3].T + volume.ijk_to_ras[:3, 3]
    return (low, high) + polar_in_sections(analysis.centerline, sections, cKDTree(centres), ras,
                                           reach_mm + analysis.centerline.step_mm)


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
    centerline lies between the lumen and vessel contours at its angle (inside_contour), and its foot point on the
    centerline lies between P and D.
    """
    lesion = np.flatnonzero(analysis.occlusion_slabs_mm() > 0)
    low, high, section, arc, radius, angle = _box_polar(volume, analysis, lesion,
                                                        float(analysis.vessel_radii_mm[lesion].max()))
    in_wall = ((arc >= analysis.landmarks_mm["P"]) & (arc <= analysis.landmarks_mm["D"])
               & inside_contour(analysis.vessel_radii_mm, section, radius, angle)
               & ~inside_contour(analysis.lumen_radii_mm, section, radius, angle))
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
                & inside_contour(analysis.lumen_radii_mm, section, radius, angle))
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
