"""Straightened (curved planar reformat) volume of the vessel with its lumen and wall, as in Figure 2A of
the seed paper.

The straightened grid has axes u and v (the rotation-minimizing frame of each cross-section, pixel
``pixel_mm``) and s (arc length, one slice per cross-section): voxel (i, j, k) shows the CT at
c(s_k) + (i - n) * pixel U(s_k) + (j - n) * pixel V(s_k). Its IJK->RAS is a plain scaling with the
arc length along S, so distances along the vessel read true. The labelmap marks lumen (1) and the
wall between lumen and outer contour (2) on the same grid, and the composition map the HU class of
the wall between P and D (the colour overlay of Figure 2A).

A longitudinal section is the plane of the straightened grid through the axis along u or v: the
picture of Figure 2A, with the composition of the occluded wall and the contours where they cross it.
Its two sides are named by patient direction (``plane_directions``): the frame turns with the vessel, so the
names hold at the occlusion, where the reader looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .analysis import LesionAnalysis
from .contours import angular_neighbours
from .crosssection import OUTSIDE_VOLUME_HU, SAMPLES_PER_CALL, interpolate_kji
from .volume_io import Volume

LUMEN_LABEL, WALL_LABEL = 1, 2
HALF_WIDTH_MM = 6.0  # the straightened grid's half width around the axis
PIXEL_MM = 0.2
# Patient directions of the +/- RAS axes: Slicer's RAS has x towards the patient's right, y anterior, z superior.
RAS_DIRECTIONS = (("right", "left"), ("anterior", "posterior"), ("superior", "inferior"))
NAMED_COMPONENT = 0.4  # an axis is named when the unit vector's component along it is at least this (66 deg or less)


@dataclass
class StraightenedVessel:
    hu: np.ndarray          # [k = section, j = v, i = u]
    labels: np.ndarray      # same shape, 0 / LUMEN_LABEL / WALL_LABEL
    composition: np.ndarray  # same shape, 0 or 1..4 (composition.COMPONENTS) in the wall between P and D
    ijk_to_ras: np.ndarray


def straighten(volume: Volume, analysis: LesionAnalysis, half_width_mm: float = HALF_WIDTH_MM,
               pixel_mm: float = PIXEL_MM) -> StraightenedVessel:
    """The straightened vessel of ``analysis`` (module doc): (2 n + 1)^2 pixels of ``pixel_mm`` per section,
    n = half_width_mm / pixel_mm, the CT sampled trilinearly (-1000 HU outside the volume)."""
    offsets = _offsets_mm(half_width_mm, pixel_mm)
    u, v = np.meshgrid(offsets, offsets, indexing="xy")          # [j, i]
    hu, labels, composition = _sample_straightened(volume, analysis, u, v)
    ijk_to_ras = np.diag([pixel_mm, pixel_mm, analysis.centerline.step_mm, 1.0])
    ijk_to_ras[:3, 3] = [-half_width_mm, -half_width_mm, 0.0]
    return StraightenedVessel(hu, labels, composition, ijk_to_ras)


def _offsets_mm(half_width_mm: float, pixel_mm: float) -> np.ndarray:
    """The in-plane pixel offsets (mm) of the straightened grid along u and along v, -half width to +half width."""
    return (np.arange(int(round(2 * half_width_mm / pixel_mm)) + 1) * pixel_mm) - half_width_mm


def _sample_straightened(volume: Volume, analysis: LesionAnalysis, u: np.ndarray, v: np.ndarray) -> tuple:
    """The straightened vessel at the in-plane offsets (``u``, ``v``: mm along the sections' normals U and V, arrays
    of one shape P) of every section: CT (float32, trilinear, -1000 HU outside the volume), labels (0, LUMEN_LABEL,
    WALL_LABEL) and composition (0 or 1..4 in the wall between P and D), each (sections, *P). Each pixel is computed
    on its own, so a plane of the grid sampled alone holds the same values as in the whole grid."""
    centerline = analysis.centerline
    frame = (slice(None),) + (None,) * u.ndim + (slice(None),)   # (S, 3) -> (S, 1.., 3)
    ras = (centerline.points_ras[frame] + u[None, ..., None] * centerline.normals_u[frame]
           + v[None, ..., None] * centerline.normals_v[frame])
    ras_to_ijk = volume.ras_to_ijk()
    ijk = ras @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    positions_kji = ijk[..., ::-1].reshape(-1, 3).T
    hu = np.concatenate([interpolate_kji(volume.hu, positions_kji[:, start:start + SAMPLES_PER_CALL], 1,
                                         OUTSIDE_VOLUME_HU)
                         for start in range(0, positions_kji.shape[1], SAMPLES_PER_CALL)])
    hu = hu.reshape(len(centerline.arc_mm), *u.shape)
    radius = np.hypot(u, v).ravel()
    below, above, weight = angular_neighbours(np.arctan2(v, u).ravel(), analysis.vessel_radii_mm.shape[1])

    def contour_at_pixels(radii):
        return (1 - weight) * radii[:, below] + weight * radii[:, above]

    labels = np.where(radius < contour_at_pixels(analysis.lumen_radii_mm), LUMEN_LABEL,
                      np.where(radius < contour_at_pixels(analysis.vessel_radii_mm), WALL_LABEL, 0))
    labels = labels.reshape(hu.shape).astype(np.uint8)
    in_wall = (labels == WALL_LABEL) & analysis.occluded_sections()[(slice(None),) + (None,) * u.ndim]
    composition = np.where(in_wall, analysis.thresholds.classify(hu), 0).astype(np.uint8)
    return hu, labels, composition


@dataclass
class LongitudinalSection:
    """The straightened vessel cut along its axis in the plane of u (angles 0 and 180 degrees) or v (90 and
    270 degrees). Arrays are [offset, section]; offsets_mm run from -half width to +half width."""
    hu: np.ndarray
    composition: np.ndarray        # 0, or 1..4 (composition.COMPONENTS) in the wall between P and D
    offsets_mm: np.ndarray
    lumen_edges_mm: np.ndarray     # [2, section]: contour offset on the positive and the negative side
    vessel_edges_mm: np.ndarray


def longitudinal_section(volume: Volume, analysis: LesionAnalysis, axis: str, half_width_mm: float = HALF_WIDTH_MM,
                         pixel_mm: float = PIXEL_MM) -> LongitudinalSection:
    """The section through the straightened vessel's axis along ``axis`` ("u" or "v"): the plane j = n (u) or
    i = n (v) of ``straighten(volume, analysis, half_width_mm, pixel_mm)``, pixel for pixel, sampled alone (a
    sixtieth of the straightened volume's work)."""
    offsets_mm = _offsets_mm(half_width_mm, pixel_mm)
    axis_mm = np.full_like(offsets_mm, offsets_mm[len(offsets_mm) // 2])
    if axis == "u":
        (u, v), angles = (offsets_mm, axis_mm), (0.0, np.pi)
    elif axis == "v":
        (u, v), angles = (axis_mm, offsets_mm), (0.5 * np.pi, 1.5 * np.pi)
    else:
        raise ValueError(f"axis must be 'u' or 'v', not {axis!r}")
    hu, _, composition = _sample_straightened(volume, analysis, u, v)

    def edges(radii):
        below, above, weight = angular_neighbours(np.array(angles), radii.shape[1])
        at_angles = (1 - weight) * radii[:, below] + weight * radii[:, above]
        return np.stack([at_angles[:, 0], -at_angles[:, 1]])

    return LongitudinalSection(hu.T, composition.T, offsets_mm, edges(analysis.lumen_radii_mm),
                               edges(analysis.vessel_radii_mm))


def patient_direction(vector_ras: np.ndarray) -> str:
    """A direction in RAS named as the patient's directions it points to, the strongest first: (0.7, 0.7, 0.1)
    -> "right-anterior", (0, -0.95, -0.3) -> "posterior". Every axis whose component of the unit vector is at
    least NAMED_COMPONENT is named, and always the strongest one."""
    unit = np.asarray(vector_ras, float) / np.linalg.norm(vector_ras)
    order = np.argsort(-np.abs(unit), kind="stable")
    named = [axis for axis in order if abs(unit[axis]) >= NAMED_COMPONENT] or [order[0]]
    return "-".join(RAS_DIRECTIONS[axis][0 if unit[axis] > 0 else 1] for axis in named)


def plane_directions(analysis: LesionAnalysis) -> dict:
    """{"u": (up, down), "v": (up, down)}: the patient directions (``patient_direction``) of the positive and
    negative offsets of each longitudinal section, read from the centerline frame at the middle of the
    occlusion (between P and D)."""
    centerline = analysis.centerline
    middle_mm = 0.5 * (analysis.landmarks_mm["P"] + analysis.landmarks_mm["D"])
    index = int(np.argmin(np.abs(centerline.arc_mm - middle_mm)))
    return {axis: (patient_direction(normal[index]), patient_direction(-normal[index]))
            for axis, normal in (("u", centerline.normals_u), ("v", centerline.normals_v))}
