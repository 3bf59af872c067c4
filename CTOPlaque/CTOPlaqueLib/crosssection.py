"""Polar cross-sections perpendicular to the centerline, sampled from the CT volume.

A section at centerline position c with frame (U, V) samples the plane point
c + r (cos(theta) U + sin(theta) V) at radii ``radii_mm`` and angles ``angles_rad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .centerline import Centerline
from .volume_io import Volume

OUTSIDE_VOLUME_HU = -1000.0


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
    indices = np.arange(len(centerline.points_ras)) if section_indices is None else np.asarray(section_indices)
    ras_to_kji = volume.ras_to_ijk()[2::-1]  # rows k, j, i
    centres_kji = centerline.points_ras[indices] @ ras_to_kji[:, :3].T + ras_to_kji[:, 3]
    normals_u_kji, normals_v_kji = (normals[indices] @ ras_to_kji[:, :3].T
                                    for normals in (centerline.normals_u, centerline.normals_v))
    shape = (len(indices), len(grid.angles_rad), len(grid.radii_mm))
    samples = [np.empty(shape, np.float32) for _ in orders]
    chunk = max(1, 200_000 // (len(grid.angles_rad) * len(grid.radii_mm)))
    for start in range(0, len(indices), chunk):
        part = slice(start, start + chunk)
        kji = grid.sample_positions(centres_kji[part], normals_u_kji[part], normals_v_kji[part])
        for array, order, sampled in zip(arrays, orders, samples):
            values = ndimage.map_coordinates(array, kji.reshape(3, -1), order=order, mode="constant",
                                             cval=outside_value, prefilter=False, output=np.float32)
            sampled[part] = values.reshape(kji.shape[1:])
    return samples


def centerline_inside_fraction(volume: Volume, centerline: Centerline) -> float:
    """Fraction of centerline samples that lie inside the volume's voxel grid."""
    ijk = centerline.points_ras @ volume.ras_to_ijk()[:3, :3].T + volume.ras_to_ijk()[:3, 3]
    upper = np.array(volume.hu.shape[::-1]) - 0.5
    inside = np.all((ijk >= -0.5) & (ijk <= upper), axis=1)
    return float(np.mean(inside))
