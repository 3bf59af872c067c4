"""Vessel centerline: smooth interpolation, uniform arc-length sampling, rotation-minimizing frames.

All positions are RAS millimetres; arc length is measured from the first (proximal) point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline, make_interp_spline, make_smoothing_spline

from .errors import CTOPlaqueInputError

DENSE_SAMPLES_PER_MM = 40
# Control points this close (median spacing, mm), and at least MIN_SMOOTHED_POINTS of them, are a traced or
# imported centerline whose jitter is smoothed away (``smoothed_control_points``); sparser ones are placed
# by hand and interpolated exactly.
DENSE_SPACING_MM = 2.0
MIN_SMOOTHED_POINTS = 8
# Least penalty weight of that smoothing (mm^3, with chord length in mm): the roughness penalty lambda of
# sum |p_i - c(t_i)|^2 + lambda * integral |c''|^2 dt.
MIN_SMOOTHING_MM3 = 2.0
# Jitter (SD, mm) below which dense points are taken as exact: a tenth of a typical CCTA voxel.
MIN_JITTER_SD_MM = 0.04


@dataclass
class Centerline:
    """A centerline sampled every ``step_mm`` along its arc length.

    points_ras: (N, 3) positions. arc_mm: (N,) arc length from the first point.
    tangents: (N, 3) unit tangents T. normals_u, normals_v: (N, 3) rotation-minimizing frame (U, V)
    completing T to a right-handed orthonormal frame (U x V = T). curvature_vectors: (N, 3) dT/ds in 1/mm.
    """

    points_ras: np.ndarray
    arc_mm: np.ndarray
    tangents: np.ndarray
    normals_u: np.ndarray
    normals_v: np.ndarray
    curvature_vectors: np.ndarray

    @property
    def length_mm(self) -> float:
        return float(self.arc_mm[-1])

    @property
    def step_mm(self) -> float:
        return float(self.arc_mm[1] - self.arc_mm[0])

    def moved_in_plane(self, offset_uv: np.ndarray) -> np.ndarray:
        """Points (N, 3, RAS) moved by (u, v) mm (offset_uv: (N, 2)) within each cross-section's plane."""
        return self.points_ras + offset_uv[:, :1] * self.normals_u + offset_uv[:, 1:] * self.normals_v


def _spline_through(control_points_ras: np.ndarray):
    """Interpolating spline c(t) through the control points, t = cumulative chord length (mm)."""
    chords = np.linalg.norm(np.diff(control_points_ras, axis=0), axis=1)
    if np.any(chords < 1e-6):
        raise CTOPlaqueInputError("centerline has two consecutive points at the same position")
    t = np.concatenate([[0.0], np.cumsum(chords)])
    if len(control_points_ras) == 2:
        return make_interp_spline(t, control_points_ras, k=1), t[-1]
    return CubicSpline(t, control_points_ras, bc_type="natural"), t[-1]


def _roughness(spline, t: np.ndarray) -> float:
    """Integral of the squared second derivative, on a sampling 20 times as dense as ``t``."""
    dense = np.linspace(t[0], t[-1], 20 * len(t))
    return float(np.sum(spline(dense, 2) ** 2) * (dense[1] - dense[0]))


def jitter_sd_mm(points_ras: np.ndarray) -> float:
    """Robust estimate of the positional noise (SD, mm) of points along a smooth curve: the median absolute
    third difference over all axes, scaled for Gaussian noise (a third difference of independent noise has
    SD sqrt(20) sigma; 0.6745 turns a median absolute value into an SD). The curve's own third
    difference, kappa' h^3 at spacing h, is negligible for a vessel."""
    third = np.diff(points_ras, n=3, axis=0)
    if len(third) == 0:
        return 0.0
    return float(np.median(np.abs(third)) / (0.6745 * np.sqrt(20.0)))


def smoothed_control_points(control_points_ras: np.ndarray) -> np.ndarray:
    """Dense control points (N, 3, RAS mm) moved onto a cubic smoothing spline; sparse ones unchanged.

    A centerline traced by another tool or a minimal path carries jitter: 0.2..0.3 mm on points 1 mm
    apart lengthened the occlusion by 7..20% and the plaque volume by 5..14%, and its spurious
    curvature turned the tube's volume factor 1 - kappa r negative. Each coordinate is fitted, against
    the chord length, by scipy's make_smoothing_spline with its penalty weight chosen by generalized
    cross-validation (the noise level estimated from the points themselves), but never below
    MIN_SMOOTHING_MM3: GCV now and then picks near-interpolation (curvature 1.6/mm on one of 16 jittered
    8 mm bends). The floor smooths over about 1.2 mm at 1 mm spacing and would round off the ends of exact
    points, so points without jitter (``jitter_sd_mm`` under MIN_JITTER_SD_MM) are left as they are.
    Applied to points closer than DENSE_SPACING_MM on median, at least MIN_SMOOTHED_POINTS of them.
    """
    chords = np.linalg.norm(np.diff(control_points_ras, axis=0), axis=1)
    if (len(control_points_ras) < MIN_SMOOTHED_POINTS or np.median(chords) > DENSE_SPACING_MM
            or jitter_sd_mm(control_points_ras) < MIN_JITTER_SD_MM):
        return control_points_ras
    t = np.concatenate([[0.0], np.cumsum(chords)])
    smoothed = []
    for axis in range(3):
        by_gcv = make_smoothing_spline(t, control_points_ras[:, axis])
        at_floor = make_smoothing_spline(t, control_points_ras[:, axis], lam=MIN_SMOOTHING_MM3)
        smoother = by_gcv if _roughness(by_gcv, t) <= _roughness(at_floor, t) else at_floor
        smoothed.append(smoother(t))
    return np.stack(smoothed, axis=1)


def rotation_minimizing_frames(points: np.ndarray, tangents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-minimizing normals (U, V) along a sampled curve by the double-reflection method.

    Wang, Juettler, Zheng, Liu. ACM Trans Graph 2008;27:2. The frame does not twist about the
    tangent, so cross-sections of consecutive positions keep their in-plane orientation.
    """
    count = len(points)
    normals_u = np.empty_like(points)
    first = tangents[0]
    helper = np.eye(3)[np.argmin(np.abs(first))]
    normals_u[0] = np.cross(first, helper)
    normals_u[0] /= np.linalg.norm(normals_u[0])
    for index in range(count - 1):
        step = points[index + 1] - points[index]
        step_sq = step @ step
        reflected_u = normals_u[index] - (2.0 / step_sq) * (step @ normals_u[index]) * step
        reflected_t = tangents[index] - (2.0 / step_sq) * (step @ tangents[index]) * step
        second = tangents[index + 1] - reflected_t
        second_sq = second @ second
        if second_sq < 1e-20:
            normals_u[index + 1] = reflected_u
        else:
            normals_u[index + 1] = reflected_u - (2.0 / second_sq) * (second @ reflected_u) * second
        normals_u[index + 1] -= (normals_u[index + 1] @ tangents[index + 1]) * tangents[index + 1]
        normals_u[index + 1] /= np.linalg.norm(normals_u[index + 1])
    normals_v = np.cross(tangents, normals_u)
    return normals_u, normals_v


def sample_centerline(control_points_ras, step_mm: float = 0.25) -> Centerline:
    """Interpolate the control points (proximal first) and sample every ``step_mm`` of arc length.

    Dense control points are first smoothed (``smoothed_control_points``). A natural cubic spline in
    chord-length parameter then passes through every control point (a straight segment for two points).
    The arc length of the spline is integrated on a dense sampling (40 per mm), and positions, tangents
    and curvature are evaluated at uniform arc length.
    """
    control_points_ras = np.asarray(control_points_ras, float).reshape(-1, 3)
    if len(control_points_ras) < 2:
        raise CTOPlaqueInputError("centerline needs at least two points")
    if not 0.0 < step_mm <= 1.0:
        raise CTOPlaqueInputError("sampling step must be between 0 and 1 mm")
    spline, t_end = _spline_through(smoothed_control_points(control_points_ras))
    dense_t = np.linspace(0.0, t_end, max(int(t_end * DENSE_SAMPLES_PER_MM), 2) + 1)
    speed = np.linalg.norm(spline(dense_t, 1), axis=1)
    dense_arc = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(dense_t))])
    length = dense_arc[-1]
    count = max(int(np.ceil(length / step_mm)), 1) + 1
    arc = np.linspace(0.0, length, count)
    t = np.interp(arc, dense_arc, dense_t)
    points = spline(t)
    first = spline(t, 1)
    second = spline(t, 2) if len(control_points_ras) > 2 else np.zeros_like(points)
    speed = np.linalg.norm(first, axis=1)[:, None]
    tangents = first / speed
    curvature_vectors = (second - np.sum(second * tangents, axis=1)[:, None] * tangents) / speed ** 2
    normals_u, normals_v = rotation_minimizing_frames(points, tangents)
    return Centerline(points, arc, tangents, normals_u, normals_v, curvature_vectors)


def project_onto_centerline(centerline: Centerline, point_ras) -> tuple[float, float]:
    """Arc-length position (mm) of the closest point of the centerline polyline, and the distance (mm) to it."""
    point = np.asarray(point_ras, float)
    starts = centerline.points_ras[:-1]
    segments = np.diff(centerline.points_ras, axis=0)
    lengths_sq = np.sum(segments ** 2, axis=1)
    fraction = np.clip(np.sum((point - starts) * segments, axis=1) / lengths_sq, 0.0, 1.0)
    closest = starts + fraction[:, None] * segments
    distances = np.linalg.norm(point - closest, axis=1)
    best = int(np.argmin(distances))
    arc = centerline.arc_mm[best] + fraction[best] * (centerline.arc_mm[best + 1] - centerline.arc_mm[best])
    return float(arc), float(distances[best])
