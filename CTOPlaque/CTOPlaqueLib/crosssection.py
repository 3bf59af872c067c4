"""Polar cross-sections perpendicular to the centerline, sampled from the CT volume.

A section at centerline position c with frame (U, V) samples the plane point
c + r (cos(theta) U + sin(theta) V) at radii ``radii_mm`` and angles ``angles_rad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .centerline import Centerline
from .volume_io import Volume

OUTSIDE_VOLUME_HU = -1000.0
# Samples interpolated at a time (interpolate_kji): fewer cost more calls, more leave the CPU's cache (at 200 000, as
# was, the trilinear took 2 to 3 times as long a sample as at 32 768).
SAMPLES_PER_CALL = 32_768


@dataclass
class PolarGrid:
    """Sampling grid of every cross-section: radii (mm, bin centres), angles (rad), radial bin width (mm)."""

    radii_mm: np.ndarray
    angles_rad: np.ndarray
    radial_step_mm: float

    @classmethod
    def make(cls, max_radius_mm: float = 4.5, radial_step_mm: float = 0.05, angle_count: int = 72) -> "PolarGrid":
        radii = (np.arange(int(round(max_radius_mm / radial_step_mm))) + 0.5) * radial_step_mm
        angles = np.arange(angle_count) * (2.0 * np.pi / angle_count)
        return cls(radii, angles, radial_step_mm)

    @property
    def angle_step_rad(self) -> float:
        return 2.0 * np.pi / len(self.angles_rad)

    def sample_positions(self, centres: np.ndarray, normals_u: np.ndarray, normals_v: np.ndarray) -> np.ndarray:
        """Positions (3, S, A, R), axis first, of every sample c + r (cos(theta) U + sin(theta) V) of S sections with
        centres c and in-plane unit vectors U, V (each (S, 3), in any one frame: RAS, or voxel indices)."""
        directions = (np.cos(self.angles_rad)[None, :, None] * normals_u[:, None, :]
                      + np.sin(self.angles_rad)[None, :, None] * normals_v[:, None, :])
        positions = np.empty((3, len(centres), len(self.angles_rad), len(self.radii_mm)))
        for axis in range(3):
            np.multiply(directions[:, :, axis, None], self.radii_mm, out=positions[axis])
            positions[axis] += centres[:, axis, None, None]
        return positions


def sample_sections(volume: Volume, centerline: Centerline, grid: PolarGrid, order: int = 1,
                    section_indices=None, outside_value: float = OUTSIDE_VOLUME_HU) -> np.ndarray:
    """HU of every polar sample, shape (sections, angles, radii).

    order=1: trilinear interpolation (for edge detection, sub-voxel in-plane sampling);
    order=0: the value of the voxel containing the sample (for HU classification of voxels).
    Samples outside the volume read ``outside_value`` (-1000 HU, air; 0 for a mask). Values are float32 whatever
    the volume's type (a uint8 mask interpolates to fractions).
    """
    return sample_sections_orders(volume, centerline, grid, (order,), section_indices, outside_value)[0]


def sample_sections_orders(volume: Volume, centerline: Centerline, grid: PolarGrid, orders: tuple,
                           section_indices=None, outside_value: float = OUTSIDE_VOLUME_HU, arrays=None) -> list:
    """``sample_sections`` at each interpolation order of ``orders``, one (sections, angles, radii) array per
    order, the samples' positions computed once for all. arrays: one array [k, j, i] on the volume's grid per
    order, sampled instead of ``volume.hu`` (e.g. two masks of one grid); ``volume.hu`` for every order without."""
    arrays = [volume.hu] * len(orders) if arrays is None else arrays
    if len(arrays) != len(orders):
        raise ValueError(f"{len(arrays)} arrays to sample at {len(orders)} interpolation orders")
    arrays = [np.ascontiguousarray(array) for array in arrays]  # interpolate_kji's flat view; a copy only if strided
    indices = np.arange(len(centerline.points_ras)) if section_indices is None else np.asarray(section_indices)
    ras_to_kji = volume.ras_to_ijk()[2::-1]  # rows k, j, i
    centres_kji = centerline.points_ras[indices] @ ras_to_kji[:, :3].T + ras_to_kji[:, 3]
    normals_u_kji, normals_v_kji = (normals[indices] @ ras_to_kji[:, :3].T
                                    for normals in (centerline.normals_u, centerline.normals_v))
    shape = (len(indices), len(grid.angles_rad), len(grid.radii_mm))
    samples = [np.empty(shape, np.float32) for _ in orders]
    chunk = max(1, SAMPLES_PER_CALL // (len(grid.angles_rad) * len(grid.radii_mm)))
    for start in range(0, len(indices), chunk):
        part = slice(start, start + chunk)
        kji = grid.sample_positions(centres_kji[part], normals_u_kji[part], normals_v_kji[part])
        for array, order, sampled in zip(arrays, orders, samples):
            sampled[part] = interpolate_kji(array, kji, order, outside_value)
    return samples


def interpolate_kji(array: np.ndarray, positions_kji: np.ndarray, order: int, outside_value: float) -> np.ndarray:
    """Values (float32) of ``array`` [k, j, i] at ``positions_kji`` (3, ...), float64 voxel indices k, j, i: order 0
    the nearest voxel's value, order 1 trilinear interpolation. A position reads ``outside_value`` unless
    0 <= index <= n - 1 along every axis (n voxels), so also between the last voxel centre and the grid's edge.

    These are scipy.ndimage.map_coordinates' values (mode "constant", prefilter False, output float32) bit for bit:
    its rules (a half rounds up, floor(x + 0.5); the weights 1 - x and 1 - (1 - x) of x = index - floor(index); the
    eight corners' value * w_k * w_j * w_i summed in float64 from 0.0, i fastest, then rounded to float32) on whole
    arrays of positions, each corner one ``take``, instead of its generic loop point by point: on the bench jobs'
    calls 0.7 of its CPU time at order 1, 0.55 at order 0. Keep the positions to a few 10 000 a call
    (SAMPLES_PER_CALL): the float64 temporaries then stay in the CPU's cache. Returns an array shaped
    ``positions_kji.shape[1:]``."""
    if order not in (0, 1):
        raise ValueError(f"interpolation order {order}: 0 (nearest voxel) or 1 (trilinear)")
    flat = np.ascontiguousarray(array).reshape(-1)  # a copy of a strided array: give a C-contiguous one
    strides = np.cumprod((1,) + array.shape[:0:-1])[::-1]  # elements per step along k, j, i
    inside, corner, weights = True, 0.0, []
    for position, count, stride in zip(positions_kji, array.shape, strides):
        index = np.fmin(np.fmax(position, 0.0), count - 1)  # within the grid (NaN -> 0): a voxel to gather
        inside = inside & (index == position)
        if order == 0:
            lower = np.floor(index + 0.5)
        else:
            lower = np.fmin(np.floor(index), max(count - 2, 0))  # the last centre: x = 1 from the voxel before
            below = 1.0 - (index - lower)
            weights.append(((below, 1.0 - below), stride if count > 1 else 0))
        corner = corner + lower * stride  # order 0 the nearest voxel, order 1 the lower corner (exact in float64)
    corner = corner.astype(np.intp)
    values = flat.take(corner).astype(np.float32) if order == 0 else _trilinear(flat, corner, weights)
    values[~inside] = outside_value
    return values


def _trilinear(flat: np.ndarray, corner: np.ndarray, weights: list) -> np.ndarray:
    """Float32 of sum over the 8 corners (k, j, i in 0/1, i fastest) of flat[corner + offset] * w_k * w_j * w_i in
    float64, multiplied and added in that order (``interpolate_kji``). weights: per axis ((lower weight, upper
    weight), elements to the upper voxel)."""
    total = np.zeros(corner.shape)
    term = np.empty(corner.shape)
    (k_weights, k_step), (j_weights, j_step), (i_weights, i_step) = weights
    for dk, k_weight in enumerate(k_weights):
        for dj, j_weight in enumerate(j_weights):
            for di, i_weight in enumerate(i_weights):
                offset = dk * k_step + dj * j_step + di * i_step
                np.multiply(flat[offset:].take(corner), k_weight, out=term)
                term *= j_weight
                term *= i_weight
                total += term
    return total.astype(np.float32)


def centerline_inside_fraction(volume: Volume, centerline: Centerline) -> float:
    """Fraction of centerline samples that lie inside the volume's voxel grid."""
    ijk = centerline.points_ras @ volume.ras_to_ijk()[:3, :3].T + volume.ras_to_ijk()[:3, 3]
    upper = np.array(volume.hu.shape[::-1]) - 0.5
    inside = np.all((ijk >= -0.5) & (ijk <= upper), axis=1)
    return float(np.mean(inside))
