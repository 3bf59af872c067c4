"""Synthetic CCTA of a coronary chronic total occlusion with known truth (tests, demo, benchmark).

The vessel runs in the local x-y plane along a straight, curved (35 mm radius) or tightly bent
(8 mm radius, 70 degrees, centred on the occlusion) path, in epicardial fat (-100 HU), 0.3 mm above
the myocardium (110 HU) and beside a contrast-filled vein (``vein_hu``, 380 HU, 1 mm of fat away). The "wrap"
shape instead bends with a constant radius around the heart: the myocardium is a cylinder on the
inner side of the bend, ``myocardium_gap_mm`` of fat away from the occluded wall, as an artery in
the atrioventricular groove or on the epicardial surface. Its lumen is
contrast-filled (450 HU fading to 350 HU at the proximal cap; 260 HU distal, retrograde filling) and
tapers to the proximal cap P over ``cap_taper_mm`` (or ends bluntly). The realistic anatomy of ``PRESETS`` adds,
alone or
combined: a vein beside the artery in the plane of the bend, contrast-filled side branches leaving
at both caps, a calcified nodule at the proximal cap blooming under a 0.5 mm blur, noise with CT
texture (white noise low-pass filtered, then scaled to ``noise_sd_hu``), thin normal walls
(0.4 mm), anisotropic 0.4 x 0.4 x 0.75 mm voxels and low lumen contrast (250 HU). ``kernel_boost`` models an
edge-enhancing (sharp) reconstruction kernel as an unsharp mask, image + boost (image - G(image)) with G a
Gaussian of ``kernel_sigma_mm``, applied after the blur: edges overshoot, and the fat beside them undershoots.
``edge_tissue_hu`` puts one tissue at the occluded wall's outer edge: over its outermost ``edge_tissue_mm`` (a
layered occlusion), or throughout (a homogeneous one, ``edge_tissue_mm`` 0).
``beam_hardening_hu`` models the hypodense rim beam hardening leaves beside dense calcium: that many HU less at
the calcium, fading as exp(-d / ``beam_hardening_mm``) with the distance d from it, before the blur.
Diseased segments next to the caps (``cap_lining_mm`` before P and after D): the open vessel's wall is
``cap_lining_hu`` (fibrous plaque, 150..300 HU, instead of the normal 60 HU) with an optional calcified sector of
``cap_lining_calcium_deg`` through it, and the lumen narrows by ``cap_stenosis_percent`` of its area (the plaque
grows inward, the outer wall stays), reached over STENOSIS_RAMP_MM at the segment's far end.
The "occluded-bend" and "s-curve" shapes run straight but for one turn (or two opposite turns) of
``course_bend_radius_mm`` and ``course_bend_deg`` centred on the occlusion, where the lumen on either side
does not show the course; with ``myocardium_side`` "inner" the heart lies on the inner side of the (first) turn
instead of below the vessel plane, ``myocardium_gap_mm`` of fat from the occluded wall; ``slab_step_mm`` shifts
every axial slice from the occlusion's middle on by that much along the grid's i axis (an ECG-misregistration
step between heartbeats).
Between P and D there is no lumen; the wall holds
fibrous caps (230 HU, 3 mm at each end), a necrotic core (25 HU, inner 55% of the radius), a
fibrofatty rim (100 HU), a fibrous sector, a calcified nodule (900 HU) and, optionally, a 4 mm long
calcified sector of ``calcified_arc_deg`` degrees through the whole wall (a known calcium area
fraction of arc/360). The object is rendered with
2x2x2 supersampling (partial volume), blurred by a Gaussian point-spread function, given noise, and
stored as integer HU on an anisotropic, obliquely oriented grid with a non-identity origin.

Truth: the exact centerline, landmarks, the vessel volume between P and D (analytic, the integral of
pi r_V(s)^2), the composition of the written image classified inside the true wall, both with and
without noise, and the tissue composition (the wall materials' own HU, before blur, classified alike).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage
from scipy.integrate import trapezoid
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from .composition import COMPONENTS, HuThresholds
from .markups_io import markups_document
from .morphology import BENDING_WINDOW_MM
from .staging import staged_outputs, write_json
from .volume_io import ijk_to_ras_from_geometry, write_volume

FAT_HU, MYOCARDIUM_HU, VEIN_HU = -100.0, 110.0, 380.0
FIBROUS_HU, NECROTIC_HU, FIBROFATTY_HU, CALCIUM_HU, NORMAL_WALL_HU = 230.0, 25.0, 100.0, 900.0, 60.0
PATH_STEP_MM = 0.05
# Distance from the path (in plane, and from 2 mm above it along z) beyond which only fat and myocardium remain.
REACH_MM = 8.0
# Low-pass filter of the CT noise texture (Gaussian sigma, mm): a noise power spectrum peaking below
# 1 cycle/mm, as in reconstructed cardiac CT, instead of independent voxels.
NOISE_TEXTURE_SIGMA_MM = 0.5
BRANCH_LUMEN_RADIUS_MM, BRANCH_WALL_MM, BRANCH_ANGLE_DEG, BRANCH_LENGTH_MM = 0.9, 0.4, 60.0, 12.0
VEIN_RADIUS_MM = 1.5
CAP_NODULE_RADIUS_MM = 0.9
# Length over which a stenosis next to a cap narrows the lumen, and the angle its calcified lining is centred on.
STENOSIS_RAMP_MM = 1.0
LINING_CALCIUM_ANGLE_RAD = -0.8
# Offsets (voxels, along each grid axis) of the 2 x 2 x 2 points per voxel whose HU the rendering averages, and
# the allowance (mm) for rounding in the distances that tell a voxel of one material from the others.
SUPERSAMPLE_OFFSETS = (-0.25, 0.25)
ROUNDING_MM = 1e-6
# Points per voxel axis at which the truth measures how much of a voxel on the wall's surface lies inside it.
WALL_FRACTION_SUBSAMPLES = 4


@dataclass
class PhantomSpec:
    """Parameters of one synthetic case (millimetres, degrees, HU)."""

    shape: str = "curved"
    proximal_mm: float = 14.0
    occlusion_length_mm: float = 22.0
    distal_mm: float = 12.0
    proximal_cap: str = "tapered"
    lumen_radius_mm: float = 1.6
    normal_wall_mm: float = 1.1
    occlusion_radius_mm: float = 2.6
    spacing_mm: tuple = (0.4, 0.4, 0.5)
    grid_rotation_deg: tuple = (12.0, -8.0, 20.0)
    vessel_rotation_deg: tuple = (30.0, 20.0, -40.0)
    vessel_offset_ras: tuple = (-35.0, 60.0, 110.0)
    blur_sigma_mm: float = 0.35
    noise_sd_hu: float = 20.0
    seed: int = 1
    margin_mm: float = 7.0
    calcified_arc_deg: float = 0.0
    bend_radius_mm: float = 18.0
    myocardium_gap_mm: float = 0.3
    vein_side: str = "above"
    vein_gap_mm: float = 1.0
    vein_hu: float = VEIN_HU
    side_branches: bool = False
    cap_calcium: bool = False
    noise_texture: str = "white"
    lumen_hu: tuple = (450.0, 350.0, 260.0, 240.0)
    fat_hu: float = FAT_HU
    kernel_boost: float = 0.0
    kernel_sigma_mm: float = 0.8
    beam_hardening_hu: float = 0.0
    beam_hardening_mm: float = 0.5
    cap_taper_mm: float = 2.0
    cap_lining_mm: float = 0.0
    cap_lining_hu: float = NORMAL_WALL_HU
    cap_lining_calcium_deg: float = 0.0
    cap_stenosis_percent: float = 0.0
    course_bend_radius_mm: float = 6.0
    course_bend_deg: float = 90.0
    slab_step_mm: float = 0.0
    myocardium_side: str = "below"
    edge_tissue_hu: float | None = None
    edge_tissue_mm: float = 0.0

    @property
    def length_mm(self) -> float:
        return self.proximal_mm + self.occlusion_length_mm + self.distal_mm

    @property
    def p_mm(self) -> float:
        return self.proximal_mm

    @property
    def d_mm(self) -> float:
        return self.proximal_mm + self.occlusion_length_mm


@dataclass
class Phantom:
    spec: PhantomSpec
    hu: np.ndarray
    ijk_to_ras: np.ndarray
    centerline_ras: np.ndarray
    landmarks_ras: dict
    truth: dict = field(default_factory=dict)


def _path_local(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """Centerline in the local frame (x-y plane), parameterized by arc length."""
    arc = np.asarray(arc_mm, float)
    if spec.shape == "straight":
        return np.stack([arc, np.zeros_like(arc), np.zeros_like(arc)], axis=-1)
    if spec.shape == "curved":
        radius = 35.0
        return np.stack([radius * np.sin(arc / radius), radius * (1 - np.cos(arc / radius)), np.zeros_like(arc)], -1)
    if spec.shape == "wrap":
        radius = spec.bend_radius_mm
        return np.stack([radius * np.sin(arc / radius), radius * (1 - np.cos(arc / radius)), np.zeros_like(arc)], -1)
    if spec.shape in ("occluded-bend", "s-curve"):
        return _course_inside_occlusion(spec, arc)
    if spec.shape == "bend":
        radius, angle = 8.0, np.radians(70.0)
        bend_length = radius * angle
        start = 0.5 * (spec.p_mm + spec.d_mm) - 0.5 * bend_length
        before = np.minimum(arc, start)
        within = np.clip(arc - start, 0.0, bend_length)
        after = np.maximum(arc - start - bend_length, 0.0)
        phi = within / radius
        x = before + radius * np.sin(phi) + after * np.cos(angle)
        y = radius * (1 - np.cos(phi)) + after * np.sin(angle)
        return np.stack([x, y, np.zeros_like(arc)], axis=-1)
    raise ValueError(f"unknown phantom shape {spec.shape!r}")


def _course_turn_count(spec: PhantomSpec) -> int:
    return 1 if spec.shape == "occluded-bend" else 2


def course_length_mm(spec: PhantomSpec) -> float:
    """Arc length (mm) of all the turns of an "occluded-bend" or "s-curve" shape, which must fit in the occlusion."""
    return _course_turn_count(spec) * spec.course_bend_radius_mm * float(np.radians(spec.course_bend_deg))


def _course_turns(spec: PhantomSpec) -> list:
    """(start arc mm, length mm, curvature 1/mm) of each circular turn of the "occluded-bend" (one turn of
    ``course_bend_deg`` at ``course_bend_radius_mm``) and "s-curve" (that turn, then the same turn the other
    way) shapes, centred on the occlusion; straight elsewhere."""
    count = _course_turn_count(spec)
    length = course_length_mm(spec) / count
    curvature = 1.0 / spec.course_bend_radius_mm
    start = 0.5 * (spec.p_mm + spec.d_mm) - 0.5 * count * length
    return [(start + index * length, length, curvature * (-1) ** index) for index in range(count)]


def _along_piece(heading: float, curvature: float, along: np.ndarray) -> np.ndarray:
    """In-plane offsets (N, 2) after ``along`` mm from a piece's start, leaving at ``heading`` (rad) with a
    constant ``curvature`` (1/mm; 0 straight), in closed form."""
    if curvature == 0.0:
        return np.stack([np.cos(heading) * along, np.sin(heading) * along], axis=1)
    turned = heading + curvature * along
    return np.stack([np.sin(turned) - np.sin(heading), np.cos(heading) - np.cos(turned)], axis=1) / curvature


def _course_inside_occlusion(spec: PhantomSpec, arc: np.ndarray) -> np.ndarray:
    """Planar path of straight pieces and the circular turns of ``_course_turns``, by arc length (exact)."""
    pieces, done = [], 0.0
    for start, length, curvature in _course_turns(spec):
        pieces += [(done, start - done, 0.0), (start, length, curvature)]
        done = start + length
    pieces.append((done, np.inf, 0.0))
    position, heading = np.zeros(2), 0.0
    points = np.zeros((len(arc), 3))
    for start, length, curvature in pieces:
        here = (arc >= start) & (arc < start + length)
        points[here, :2] = position + _along_piece(heading, curvature, arc[here] - start)
        if np.isfinite(length):
            position = position + _along_piece(heading, curvature, np.array([length]))[0]
            heading += curvature * length
    return points


def _smooth_step(x: np.ndarray, start: float, width: float) -> np.ndarray:
    """0 before ``start``, 1 after ``start + width``, cosine ramp in between."""
    t = np.clip((x - start) / width, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def lumen_radius_mm(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """True lumen radius: tapering 1.6 -> 1.4 mm, narrowed in the diseased segments next to the caps
    (``cap_stenosis_fraction``), none between P and D; a tapered proximal cap closes linearly over the last
    ``cap_taper_mm`` before P, a blunt one keeps its lumen to P."""
    arc = np.asarray(arc_mm, float)
    radius = (spec.lumen_radius_mm - 0.2 * arc / spec.length_mm) * np.sqrt(1.0 - cap_stenosis_fraction(spec, arc))
    if spec.proximal_cap == "tapered":
        radius = np.where(arc < spec.p_mm, radius * np.clip((spec.p_mm - arc) / spec.cap_taper_mm, 0.0, 1.0), radius)
    return np.where((arc >= spec.p_mm) & (arc <= spec.d_mm), 0.0, radius)


def in_diseased_segment(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """The open vessel next to the caps that plaque lines: ``cap_lining_mm`` before P and after D."""
    arc = np.asarray(arc_mm, float)
    return ((arc >= spec.p_mm - spec.cap_lining_mm) & (arc < spec.p_mm)) | (
        (arc > spec.d_mm) & (arc <= spec.d_mm + spec.cap_lining_mm))


def cap_stenosis_fraction(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """Lumen area lost to plaque in the diseased segments (``cap_stenosis_percent``), reached over the
    STENOSIS_RAMP_MM at each segment's far end (cosine ramp), zero elsewhere: the plaque grows inward, the outer
    wall stays (the lumen narrows, the wall thickens)."""
    arc = np.asarray(arc_mm, float)
    full = spec.cap_stenosis_percent / 100.0
    before = _smooth_step(arc, spec.p_mm - spec.cap_lining_mm, STENOSIS_RAMP_MM) * (arc < spec.p_mm)
    after = (1.0 - _smooth_step(arc, spec.d_mm + spec.cap_lining_mm - STENOSIS_RAMP_MM, STENOSIS_RAMP_MM)) * (
        arc > spec.d_mm)
    return full * (before + after) * (spec.cap_lining_mm > 0)


def vessel_radius_mm(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """True outer wall radius: lumen + normal wall, remodelled to ``occlusion_radius_mm`` around the occlusion."""
    arc = np.asarray(arc_mm, float)
    normal = spec.lumen_radius_mm - 0.2 * arc / spec.length_mm + spec.normal_wall_mm
    rise = _smooth_step(arc, spec.p_mm - 2.0, 2.0) * (1.0 - _smooth_step(arc, spec.d_mm, 2.0))
    return normal + rise * (spec.occlusion_radius_mm - normal)


def lumen_hu(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """Contrast HU along the lumen: linear from lumen_hu[0] at the ostium to lumen_hu[1] at P, and from
    lumen_hu[2] after D to lumen_hu[3] at the distal end."""
    arc = np.asarray(arc_mm, float)
    start, at_p, after_d, end = spec.lumen_hu
    proximal = start + (at_p - start) * arc / spec.p_mm
    distal = after_d + (end - after_d) * (arc - spec.d_mm) / max(spec.distal_mm, 1e-6)
    return np.where(arc < spec.p_mm, proximal, distal)


def _wall_hu(spec: PhantomSpec, arc: np.ndarray, radius: np.ndarray, angle: np.ndarray,
             vessel_r: np.ndarray, offset_z: np.ndarray, offset_n: np.ndarray) -> np.ndarray:
    """HU of the wall material at (arc, radius, angle), before blur."""
    hu = _cap_lining_hu(spec, arc, angle)
    occluded = (arc >= spec.p_mm) & (arc <= spec.d_mm)
    caps = occluded & ((arc < spec.p_mm + 3.0) | (arc > spec.d_mm - 3.0))
    body = occluded & ~caps
    hu = np.where(body, np.where(radius < 0.55 * vessel_r, NECROTIC_HU, FIBROFATTY_HU), hu)
    middle = 0.5 * (spec.p_mm + spec.d_mm)
    sector = body & (arc > middle) & (np.cos(angle - 2.2) > 0.5) & (radius >= 0.55 * vessel_r)
    hu = np.where(sector, FIBROUS_HU, hu)
    hu = np.where(caps, FIBROUS_HU, hu)
    nodule_arc = spec.p_mm + 0.4 * spec.occlusion_length_mm
    nodule_distance = np.sqrt((arc - nodule_arc) ** 2 + (offset_n - 1.2) ** 2 + offset_z ** 2)
    hu = np.where(occluded & (nodule_distance < 1.0), CALCIUM_HU, hu)
    if spec.cap_calcium:
        cap_distance = np.sqrt((arc - spec.p_mm - 1.0) ** 2 + (offset_n + 1.0) ** 2 + (offset_z - 0.6) ** 2)
        hu = np.where(occluded & (cap_distance < CAP_NODULE_RADIUS_MM), CALCIUM_HU, hu)
    sheet_arc = spec.p_mm + 0.7 * spec.occlusion_length_mm
    half_arc = np.radians(spec.calcified_arc_deg) / 2.0
    in_sheet = body & (np.abs(arc - sheet_arc) < 2.0) & (np.abs(np.angle(np.exp(1j * (angle - 1.0)))) < half_arc)
    return _edge_tissue_hu(spec, np.where(in_sheet, CALCIUM_HU, hu), occluded, radius, vessel_r)


def _edge_tissue_hu(spec: PhantomSpec, hu: np.ndarray, occluded: np.ndarray, radius: np.ndarray,
                    vessel_r: np.ndarray) -> np.ndarray:
    """The occluded wall's outermost ``edge_tissue_mm`` made of ``edge_tissue_hu`` (e.g. fibrous tissue or a
    calcified shell at the wall/fat edge, where the default composition puts a 100 HU fibrofatty rim); with
    ``edge_tissue_mm`` 0 the whole occluded wall, caps and nodule included, is that one tissue (a homogeneous
    occlusion). Unchanged without ``edge_tissue_hu``."""
    if spec.edge_tissue_hu is None:
        return hu
    inner_mm = vessel_r - spec.edge_tissue_mm if spec.edge_tissue_mm > 0 else 0.0
    return np.where(occluded & (radius >= inner_mm), spec.edge_tissue_hu, hu)


def _cap_lining_hu(spec: PhantomSpec, arc: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """HU of the open vessel's wall: normal, or in the diseased segments next to the caps ``cap_lining_hu``
    with a calcified sector of ``cap_lining_calcium_deg`` through the wall (centred on LINING_CALCIUM_ANGLE_RAD)."""
    diseased = in_diseased_segment(spec, arc)
    half_arc = np.radians(spec.cap_lining_calcium_deg) / 2.0
    calcified = diseased & (np.abs(np.angle(np.exp(1j * (angle - LINING_CALCIUM_ANGLE_RAD)))) < half_arc)
    return np.where(calcified, CALCIUM_HU, np.where(diseased, spec.cap_lining_hu, NORMAL_WALL_HU))


def _in_myocardium(spec: PhantomSpec, points_local: np.ndarray, offset_z: np.ndarray, path: "_Path") -> np.ndarray:
    """The heart muscle: a slab below the vessel plane, or (shape "wrap") a cylinder about the local z
    axis through the bend's centre (``_myocardium_depth_mm`` > 0), or (``myocardium_side`` "inner") the side of
    the vessel plane its turns bend towards (``_in_myocardium_inside_turn``); ``myocardium_gap_mm`` of fat from
    the occluded wall."""
    if _myocardium_inside_turn(spec):
        return _in_myocardium_inside_turn(spec, points_local, path)
    return _myocardium_depth_mm(spec, points_local[:, 0], points_local[:, 1], offset_z) > 0.0


def _myocardium_inside_turn(spec: PhantomSpec) -> bool:
    """Whether the heart lies on the inner side of the path's turns (``_in_myocardium_inside_turn``)."""
    return spec.shape != "wrap" and spec.myocardium_side == "inner"


def _myocardium_depth_mm(spec: PhantomSpec, x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
    """Signed distance (mm) of local points inside the surface of the heart muscle of a "wrap" shape (a cylinder
    about the local z axis through the bend's centre) or of ``myocardium_side`` "below" (the plane below the
    vessel): positive inside, negative outside. It changes by at most the distance a point moves."""
    if spec.shape == "wrap":
        heart_radius = spec.bend_radius_mm - spec.occlusion_radius_mm - spec.myocardium_gap_mm
        return heart_radius - np.hypot(x_mm, y_mm - spec.bend_radius_mm)
    if spec.myocardium_side != "below":
        raise ValueError(f"unknown myocardium side {spec.myocardium_side!r}")
    return -(spec.occlusion_radius_mm + spec.myocardium_gap_mm) - z_mm


def _in_myocardium_inside_turn(spec: PhantomSpec, points_local: np.ndarray, path: "_Path") -> np.ndarray:
    """For the "occluded-bend" and "s-curve" shapes: the heart on the inner side of the (first) turn, as for an
    artery turning around the heart's margin, its surface ``myocardium_gap_mm`` of fat from the occluded wall.
    The muscle is every point of the whole height whose in-plane offset from the nearest point of the path, along
    the path's left normal (the side a left turn bends to), exceeds ``occlusion_radius_mm`` + the gap: a wedge
    with a rounded corner concentric with the turn: tissue of plaque HU hugging the inside of the bend, which a
    path following plaque-dense tissue can cut through."""
    _, nearest = path.tree.query(points_local[:, :2], workers=-1)
    offset = points_local[:, :2] - path.points[nearest, :2]
    return np.sum(offset * path.normals[nearest], axis=1) > spec.occlusion_radius_mm + spec.myocardium_gap_mm


def _in_vein(spec: PhantomSpec, offset_n: np.ndarray, offset_z: np.ndarray) -> np.ndarray:
    """A contrast-filled vein parallel to the artery, ``vein_gap_mm`` of fat from the occluded wall:
    above the vessel plane, or beside the artery in the plane, on the outer side of the bend (at points whose
    foot lies on the path)."""
    distance = spec.occlusion_radius_mm + spec.vein_gap_mm + VEIN_RADIUS_MM
    if spec.vein_side == "beside":
        return np.hypot(offset_n + distance, offset_z) < VEIN_RADIUS_MM
    return np.hypot(offset_n, offset_z - distance) < VEIN_RADIUS_MM


def side_branch_axes(spec: PhantomSpec) -> list:
    """(arc of origin mm, origin, unit direction), local frame, of each side branch: leaving the lumen 1 mm
    before P and 1 mm after D, ``BRANCH_ANGLE_DEG`` from the vessel's direction, tilted away from the vein
    and the myocardium (up out of the vessel plane, or in the plane to the outer side when the vein is above)."""
    if not spec.side_branches:
        return []
    axes = []
    for arc in (spec.p_mm - 1.0, spec.d_mm + 1.0):
        points = _path_local(spec, np.array([arc - 0.01, arc, arc + 0.01]))
        tangent = (points[2] - points[0]) / np.linalg.norm(points[2] - points[0])
        away = np.array([0.0, 0.0, 1.0]) if spec.vein_side == "beside" else np.array([tangent[1], -tangent[0], 0.0])
        angle = np.radians(BRANCH_ANGLE_DEG)
        axes.append((arc, points[1], np.cos(angle) * tangent + np.sin(angle) * away))
    return axes


def _branch_coordinates(points_local: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> tuple:
    """Distance (mm) of points (M, 3, local frame) along a side branch's axis from its origin, and from its axis."""
    relative = points_local - origin
    along = relative @ direction
    return along, np.linalg.norm(relative - along[:, None] * direction, axis=1)


def _near_branch(spec: PhantomSpec, points_local: np.ndarray, reach_mm: float) -> np.ndarray:
    """Whether a side branch's wall or lumen may lie within ``reach_mm`` of each point (M, 3, local frame)."""
    near = np.zeros(len(points_local), bool)
    for _, origin, direction in side_branch_axes(spec):
        along, across = _branch_coordinates(points_local, origin, direction)
        near |= (along > -reach_mm) & (along < BRANCH_LENGTH_MM + reach_mm) & (
            across < BRANCH_LUMEN_RADIUS_MM + BRANCH_WALL_MM + reach_mm)
    return near


def _branch_hu(spec: PhantomSpec, points_local: np.ndarray, hu: np.ndarray, occluded_wall: np.ndarray) -> np.ndarray:
    """Side branches painted over fat and normal wall, never into the occluded wall (whose truth is analytic)."""
    for arc_of_origin, origin, direction in side_branch_axes(spec):
        along, across = _branch_coordinates(points_local, origin, direction)
        on_axis = (along >= 0.0) & (along <= BRANCH_LENGTH_MM) & ~occluded_wall
        contrast = float(lumen_hu(spec, np.array([arc_of_origin]))[0])
        hu = np.where(on_axis & (across < BRANCH_LUMEN_RADIUS_MM + BRANCH_WALL_MM) & (hu == spec.fat_hu),
                      NORMAL_WALL_HU, hu)
        hu = np.where(on_axis & (across < BRANCH_LUMEN_RADIUS_MM), contrast, hu)
    return hu


def _background_hu(spec: PhantomSpec, points_local: np.ndarray, path: "_Path") -> np.ndarray:
    """Fat, or myocardium in the heart muscle (``_in_myocardium``), at points given in the local frame (M, 3)."""
    return np.where(_in_myocardium(spec, points_local, points_local[:, 2], path), MYOCARDIUM_HU, spec.fat_hu)


def _render_local(spec: PhantomSpec, points_local: np.ndarray, path: "_Path") -> np.ndarray:
    """Noise-free, unblurred HU at points given in the local frame (M, 3): the background, then the vein, the
    vessel and its lumen (``_vessel_hu``) at the points whose foot lies on the path, then the side branches."""
    arc, offset_n, offset_z, within_path = path.local_coordinates(points_local)
    hu = _background_hu(spec, points_local, path)
    occluded_wall = np.zeros(len(points_local), bool)
    on_path = np.flatnonzero(within_path)
    hu[on_path], occluded_wall[on_path] = _vessel_hu(spec, hu[on_path], arc[on_path], offset_n[on_path],
                                                     offset_z[on_path])
    return _branch_hu(spec, points_local, hu, occluded_wall)


def _vessel_hu(spec: PhantomSpec, hu: np.ndarray, arc: np.ndarray, offset_n: np.ndarray,
               offset_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``hu`` with the vein, the vessel's wall (``_wall_hu``) and its lumen painted over it, at points whose foot
    lies on the path (arc length, offsets along the in-plane normal and z, mm); and whether each point lies in
    the occluded wall."""
    radius = np.hypot(offset_n, offset_z)
    hu = np.where(_in_vein(spec, offset_n, offset_z), spec.vein_hu, hu)
    vessel_r = vessel_radius_mm(spec, arc)
    in_vessel = radius < vessel_r
    wall = np.flatnonzero(in_vessel)
    hu[wall] = _wall_hu(spec, arc[wall], radius[wall], np.arctan2(offset_z[wall], offset_n[wall]), vessel_r[wall],
                        offset_z[wall], offset_n[wall])
    hu = np.where(radius < lumen_radius_mm(spec, arc), lumen_hu(spec, arc), hu)
    return hu, in_vessel & (arc >= spec.p_mm) & (arc <= spec.d_mm)


@dataclass
class _Path:
    """Densely sampled planar path (local frame) with its in-plane tangents and normals."""

    arc_mm: np.ndarray
    points: np.ndarray
    tangents: np.ndarray
    normals: np.ndarray

    @classmethod
    def make(cls, spec: PhantomSpec) -> "_Path":
        arc = np.arange(0.0, spec.length_mm + PATH_STEP_MM, PATH_STEP_MM)
        points = _path_local(spec, arc)
        tangents = np.gradient(points[:, :2], arc, axis=0)
        tangents /= np.linalg.norm(tangents, axis=1)[:, None]
        path = cls(arc, points, tangents, np.stack([-tangents[:, 1], tangents[:, 0]], axis=1))
        path.tree = cKDTree(points[:, :2])
        return path

    def local_coordinates(self, points_local: np.ndarray):
        """Arc length of the foot point, offsets along the in-plane normal and along z, and whether the
        foot lies on the path (not beyond its ends). The nearest path sample is refined by projecting
        onto its tangent (error of order step^2 / curvature radius, below 1e-4 mm here)."""
        near_plane = np.abs(points_local[:, 2] - 2.0) < REACH_MM
        distance = np.full(len(points_local), np.inf)
        nearest = np.zeros(len(points_local), np.int64)
        distance[near_plane], nearest[near_plane] = self.tree.query(
            points_local[near_plane, :2], distance_upper_bound=REACH_MM, workers=-1)
        found = np.isfinite(distance)
        nearest = np.where(found, nearest, 0)
        offset = points_local[:, :2] - self.points[nearest, :2]
        along = np.sum(offset * self.tangents[nearest], axis=1)
        arc = self.arc_mm[nearest] + along
        offset_n = np.where(found, np.sum(offset * self.normals[nearest], axis=1), REACH_MM)
        return arc, offset_n, points_local[:, 2], found & (arc >= 0.0) & (arc <= self.arc_mm[-1])

    def beyond_reach(self, points_local: np.ndarray, margin_mm: float) -> np.ndarray:
        """Whether each point (M, 3, local frame) lies more than ``margin_mm`` beyond the reach of
        ``local_coordinates`` (REACH_MM from the path's samples in the plane, or from 2 mm above the plane along
        z), so that no point within ``margin_mm`` of it has a foot on the path."""
        beyond = np.abs(points_local[:, 2] - 2.0) > REACH_MM + margin_mm
        rest = np.flatnonzero(~beyond)
        distance, _ = self.tree.query(points_local[rest, :2], distance_upper_bound=REACH_MM + margin_mm, workers=-1)
        beyond[rest] = np.isinf(distance)
        return beyond


def _vessel_transform(spec: PhantomSpec) -> tuple[np.ndarray, np.ndarray]:
    rotation = Rotation.from_euler("xyz", spec.vessel_rotation_deg, degrees=True).as_matrix()
    return rotation, np.asarray(spec.vessel_offset_ras, float)


def _grid_geometry(spec: PhantomSpec, path_ras: np.ndarray) -> tuple[np.ndarray, tuple]:
    direction = Rotation.from_euler("xyz", spec.grid_rotation_deg, degrees=True).as_matrix()
    in_grid_axes = path_ras @ direction
    reach = spec.occlusion_radius_mm + 5.0 + spec.margin_mm
    low, high = in_grid_axes.min(axis=0) - reach, in_grid_axes.max(axis=0) + reach
    spacing = np.asarray(spec.spacing_mm, float)
    size_ijk = np.ceil((high - low) / spacing).astype(int) + 1
    return ijk_to_ras_from_geometry(direction @ low, spacing, direction), tuple(size_ijk[::-1])


def generate_phantom(spec: PhantomSpec = PhantomSpec()) -> Phantom:
    """Render the phantom and compute its truth (see module docstring)."""
    path = _Path.make(spec)
    rotation, offset = _vessel_transform(spec)
    ijk_to_ras, shape_kji = _grid_geometry(spec, path.points @ rotation.T + offset)
    centres_local = _voxel_points_local(np.arange(np.prod(shape_kji)), shape_kji, ijk_to_ras, rotation, offset)
    object_hu = _render_supersampled(spec, shape_kji, ijk_to_ras, rotation, offset, path, centres_local)
    spacing_kji = np.asarray(spec.spacing_mm, float)[::-1]
    if spec.beam_hardening_hu:
        object_hu = object_hu - _beam_hardening_rim_hu(spec, object_hu, spacing_kji)
    blurred = ndimage.gaussian_filter(object_hu, spec.blur_sigma_mm / spacing_kji, mode="nearest")
    if spec.kernel_boost:
        smoothed = ndimage.gaussian_filter(blurred, spec.kernel_sigma_mm / spacing_kji, mode="nearest")
        blurred = blurred + spec.kernel_boost * (blurred - smoothed)
    if spec.slab_step_mm:
        blurred = _misregistered(spec, blurred, ijk_to_ras, rotation, offset)
    noisy = blurred + _noise_hu(spec, blurred.shape)
    hu = np.round(noisy).astype(np.int16)

    control_arc = np.linspace(0.5, spec.length_mm - 0.5, int(round(spec.length_mm - 1.0)) + 1)
    centerline_ras = _path_local(spec, control_arc) @ rotation.T + offset
    landmark_arc = {"S": spec.p_mm - 5.0, "P": spec.p_mm, "D": spec.d_mm, "E": spec.d_mm + 5.0}
    landmarks_ras = {k: _path_local(spec, np.array([a]))[0] @ rotation.T + offset for k, a in landmark_arc.items()}
    phantom = Phantom(spec, hu, ijk_to_ras, centerline_ras, landmarks_ras)
    phantom.truth = _truth(spec, phantom, np.round(blurred), rotation, offset, centres_local, path, landmark_arc,
                           control_arc[0])
    return phantom


def slab_step_k(spec: PhantomSpec, ijk_to_ras: np.ndarray, rotation: np.ndarray, offset: np.ndarray) -> int:
    """The first axial slice (k) of the misregistered slab: the slice through the occlusion's middle."""
    middle_ras = _path_local(spec, np.array([0.5 * (spec.p_mm + spec.d_mm)]))[0] @ rotation.T + offset
    return int(round((np.linalg.inv(ijk_to_ras) @ np.append(middle_ras, 1.0))[2]))


def _misregistered(spec: PhantomSpec, hu_kji: np.ndarray, ijk_to_ras, rotation, offset) -> np.ndarray:
    """An ECG-misregistration step: every axial slice from ``slab_step_k`` on shifted by ``slab_step_mm`` along
    the grid's i axis (linear interpolation), as when the slabs of a prospectively triggered scan come from
    different heartbeats; applied to the blurred image, before the noise."""
    first = slab_step_k(spec, ijk_to_ras, rotation, offset)
    shifted = hu_kji.copy()
    shifted[first:] = ndimage.shift(hu_kji[first:], (0.0, 0.0, spec.slab_step_mm / spec.spacing_mm[0]), order=1,
                                    mode="nearest")
    return shifted


def _beam_hardening_rim_hu(spec: PhantomSpec, object_hu: np.ndarray, spacing_kji: np.ndarray) -> np.ndarray:
    """The hypodense rim that beam hardening leaves beside dense calcium: ``beam_hardening_hu`` times
    exp(-d / ``beam_hardening_mm``), d the distance (mm) from the nearest voxel that is mostly calcium; zero
    in the calcium itself."""
    calcium = object_hu >= 0.5 * (CALCIUM_HU + FIBROUS_HU)
    if not np.any(calcium):
        return np.zeros_like(object_hu)
    distance_mm = ndimage.distance_transform_edt(~calcium, sampling=spacing_kji)
    return np.where(calcium, 0.0, spec.beam_hardening_hu * np.exp(-distance_mm / spec.beam_hardening_mm))


def _noise_hu(spec: PhantomSpec, shape_kji: tuple) -> np.ndarray:
    """Zero-mean noise of standard deviation ``noise_sd_hu``: independent per voxel ("white"), or with
    CT texture ("ct"): white noise low-pass filtered by a Gaussian of NOISE_TEXTURE_SIGMA_MM, rescaled
    to the requested SD, so that neighbouring voxels are correlated as after CT reconstruction."""
    rng = np.random.default_rng(spec.seed)
    white = rng.normal(0.0, 1.0, shape_kji).astype(np.float32)
    if spec.noise_texture == "ct":
        sigma_kji = NOISE_TEXTURE_SIGMA_MM / np.asarray(spec.spacing_mm, float)[::-1]
        white = ndimage.gaussian_filter(white, sigma_kji, mode="wrap")
        white /= white.std()
    elif spec.noise_texture != "white":
        raise ValueError(f"unknown noise texture {spec.noise_texture!r}")
    return spec.noise_sd_hu * white


def _voxel_points_local(voxels: np.ndarray, shape_kji: tuple, ijk_to_ras: np.ndarray, rotation: np.ndarray,
                        offset: np.ndarray, sub_offset: tuple = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Local-frame points (M, 3, mm) at ``sub_offset`` (voxels along i, j, k) from the centres of the voxels with
    flat indices ``voxels`` (C order of ``shape_kji``)."""
    k, j, i = np.unravel_index(voxels, shape_kji)
    ijk = np.stack([i + sub_offset[0], j + sub_offset[1], k + sub_offset[2]], axis=1)
    ras = ijk @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3]
    return (ras - offset) @ rotation


def _one_material(spec: PhantomSpec, points_local: np.ndarray, path: "_Path", reach_mm: float) -> np.ndarray:
    """Whether every point within ``reach_mm`` of each point (M, 3, local frame) renders as its background
    (``_background_hu``): beyond the path's reach (no vessel, no vein), and farther than ``reach_mm`` from the
    myocardium's surface and from the side branches, as each of these distances changes by at most the distance
    a point moves. The myocardium inside a turn, whose surface follows the nearest path sample, is never taken
    as one material."""
    if _myocardium_inside_turn(spec):
        return np.zeros(len(points_local), bool)
    depth_mm = _myocardium_depth_mm(spec, points_local[:, 0], points_local[:, 1], points_local[:, 2])
    return (path.beyond_reach(points_local, reach_mm) & (np.abs(depth_mm) > reach_mm)
            & ~_near_branch(spec, points_local, reach_mm))


def _render_supersampled(spec: PhantomSpec, shape_kji: tuple, ijk_to_ras: np.ndarray, rotation: np.ndarray,
                         offset: np.ndarray, path: "_Path", centres_local: np.ndarray) -> np.ndarray:
    """The object's HU averaged over 2 x 2 x 2 points spread evenly over each voxel (partial volume), float32 of
    ``shape_kji``; ``centres_local`` are the voxel centres (``_voxel_points_local``). A voxel whose points are
    all one material (``_one_material`` at its centre, within the points' largest distance from it) takes its
    background HU at every point unrendered; the others (near the vessel, the myocardium's surface or a branch)
    are rendered point by point. Each voxel's 8 values are summed in the same order either way, so the image is
    the one that rendering every point gives."""
    subs = [(di, dj, dk) for di in SUPERSAMPLE_OFFSETS for dj in SUPERSAMPLE_OFFSETS for dk in SUPERSAMPLE_OFFSETS]
    reach_mm = max(float(np.linalg.norm(ijk_to_ras[:3, :3] @ sub)) for sub in subs) + ROUNDING_MM
    one_material = _one_material(spec, centres_local, path, reach_mm)
    background = np.full(len(centres_local), np.nan)
    background[one_material] = _background_hu(spec, centres_local[one_material], path)
    mixed = np.flatnonzero(~one_material)
    total = np.zeros(len(centres_local))
    for sub in subs:
        values = background.copy()
        values[mixed] = _render_local(spec, _voxel_points_local(mixed, shape_kji, ijk_to_ras, rotation, offset, sub),
                                      path)
        total += values
    return (total / 8.0).reshape(shape_kji).astype(np.float32)


def _truth(spec, phantom, noise_free_hu, rotation, offset, centres_local, path, landmark_arc, start_arc):
    """Truth values; arc lengths are relative to the first centerline control point (as the analysis measures)."""
    voxel_arc, offset_n, offset_z, _ = path.local_coordinates(centres_local)
    radius = np.hypot(offset_n, offset_z)
    in_wall = _wall_fractions(spec, phantom.hu.shape, phantom.ijk_to_ras, rotation, offset, path, voxel_arc, radius)
    wall = np.flatnonzero(in_wall > 0)
    voxel_mm3 = float(abs(np.linalg.det(phantom.ijk_to_ras[:3, :3])))
    thresholds = HuThresholds()
    fine = np.linspace(spec.p_mm, spec.d_mm, 20001)
    vessel_volume = float(trapezoid(np.pi * vessel_radius_mm(spec, fine) ** 2, fine))

    def composition(values_in_wall):
        classes = thresholds.classify(values_in_wall)
        weights = in_wall[wall] * voxel_mm3
        volumes = {name: float(np.sum(weights[classes == index + 1])) for index, name in enumerate(COMPONENTS)}
        unclassified = float(np.sum(weights[classes == 0]))
        total = sum(volumes.values()) + unclassified
        return {"volumes_mm3": volumes, "unclassified_volume_mm3": unclassified, "total_mm3": total,
                "pav_percent": {k: 100.0 * v / total for k, v in volumes.items()}}

    return {
        "spec": asdict(spec),
        "occlusion_length_mm": spec.occlusion_length_mm,
        "landmarks_mm": {k: a - start_arc for k, a in landmark_arc.items()},
        "vessel_volume_mm3": vessel_volume,
        "total_plaque_volume_mm3": vessel_volume,
        "composition_written_image": composition(phantom.hu.ravel()[wall].astype(np.float32)),
        "composition_noise_free": composition(noise_free_hu.ravel()[wall]),
        "composition_tissue": composition(_tissue_hu(spec, voxel_arc[wall], offset_n[wall], offset_z[wall])),
        "proposal_landmarks_mm": {
            "P": spec.p_mm - start_arc, "D": spec.d_mm - start_arc,
            "S": spec.p_mm - (2.0 if spec.proximal_cap == "tapered" else 1.0) - start_arc,
            "E": spec.d_mm + 1.0 - start_arc},
        "morphology": {"max_bending_deg": _bending_truth_deg(spec),
                       "calcium_area_fraction_of_sector": spec.calcified_arc_deg / 360.0,
                       "proximal_cap": spec.proximal_cap},
        "reference": {label: {"lumen_area_mm2": float(np.pi * lumen_radius_mm(spec, a) ** 2),
                              "vessel_area_mm2": float(np.pi * vessel_radius_mm(spec, a) ** 2)}
                      for label, a in landmark_arc.items() if label in ("S", "E")},
    }


def _in_occluded_wall(spec: PhantomSpec, arc: np.ndarray, radius: np.ndarray) -> np.ndarray:
    return (arc >= spec.p_mm) & (arc <= spec.d_mm) & (radius < vessel_radius_mm(spec, arc))


def _wall_fractions(spec: PhantomSpec, shape_kji: tuple, ijk_to_ras: np.ndarray, rotation: np.ndarray,
                    offset: np.ndarray, path: "_Path", voxel_arc: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of each voxel's volume inside the true occluded wall (between P and D, within r_V): 1 or 0 by
    the voxel's centre farther than half its diagonal from the wall's surface, else the fraction of
    WALL_FRACTION_SUBSAMPLES^3 points spread evenly over the voxel. The analysis weights each voxel's class by
    the fraction of it inside the wall contour (composition.wall_sample_areas_mm2), so the truth does too:
    counting boundary voxels by their centre alone keeps the brighter ones inside a bright wall and leaves out
    the darker ones just outside, and reads the necrotic core of a 300 HU wall 2 percentage points low."""
    fractions = _in_occluded_wall(spec, voxel_arc, radius).astype(float)
    reach_mm = 0.5 * float(np.linalg.norm(np.linalg.norm(ijk_to_ras[:3, :3], axis=0)))
    surface_r = vessel_radius_mm(spec, voxel_arc)
    within_arc = (voxel_arc >= spec.p_mm - reach_mm) & (voxel_arc <= spec.d_mm + reach_mm)
    near_side = within_arc & (np.abs(radius - surface_r) < reach_mm)
    near_end = (np.minimum(np.abs(voxel_arc - spec.p_mm), np.abs(voxel_arc - spec.d_mm)) < reach_mm) & (
        radius < surface_r + reach_mm)
    near = np.flatnonzero(near_side | near_end)
    count = WALL_FRACTION_SUBSAMPLES
    steps = (np.arange(count) + 0.5) / count - 0.5
    inside = np.zeros(len(near))
    for di in steps:
        for dj in steps:
            for dk in steps:
                local = _voxel_points_local(near, shape_kji, ijk_to_ras, rotation, offset, (di, dj, dk))
                arc, offset_n, offset_z, _ = path.local_coordinates(local)
                inside += _in_occluded_wall(spec, arc, np.hypot(offset_n, offset_z))
    fractions[near] = inside / count ** 3
    return fractions


def _tissue_hu(spec: PhantomSpec, arc: np.ndarray, offset_n: np.ndarray, offset_z: np.ndarray) -> np.ndarray:
    """The wall material's own HU at the voxel centres (no blur, no partial volume, no noise): classified
    inside the true wall, the tissue truth that blur spills intensity away from."""
    radius = np.hypot(offset_n, offset_z)
    return _wall_hu(spec, arc, radius, np.arctan2(offset_z, offset_n), vessel_radius_mm(spec, arc), offset_z,
                    offset_n)


def _bending_truth_deg(spec: PhantomSpec, window_mm: float = BENDING_WINDOW_MM) -> float:
    """Largest direction change (degrees) of the path over ``window_mm`` (the whole occlusion if shorter)
    between P and D, from the geometry: a circular arc of radius R turns by length / R."""
    span = min(window_mm, spec.occlusion_length_mm)
    if spec.shape == "straight":
        return 0.0
    if spec.shape in ("occluded-bend", "s-curve"):  # planar: the change of heading over the span, largest
        arc = np.arange(spec.p_mm, spec.d_mm + PATH_STEP_MM, PATH_STEP_MM)
        step = np.diff(_path_local(spec, arc)[:, :2], axis=0)
        heading = np.unwrap(np.arctan2(step[:, 1], step[:, 0]))
        lag = int(round(span / PATH_STEP_MM))
        return float(np.degrees(np.abs(heading[lag:] - heading[:-lag]).max()))
    if spec.shape in ("curved", "wrap"):
        return float(np.degrees(span / (35.0 if spec.shape == "curved" else spec.bend_radius_mm)))
    radius, angle = 8.0, np.radians(70.0)  # "bend": the arc, centred on the occlusion, then straight
    return float(np.degrees(min(span, radius * angle, spec.occlusion_length_mm) / radius))


# Named cases of ``ctoplaque phantom --shape``: the plain geometries, each hard condition of real CCTA
# alone (on the curved vessel unless the condition is a geometry), and their combinations.
_REALISTIC = dict(normal_wall_mm=0.4, noise_texture="ct", noise_sd_hu=30.0)
PRESETS = {
    "straight": PhantomSpec(shape="straight"),
    "curved": PhantomSpec(shape="curved"),
    "bend": PhantomSpec(shape="bend"),
    "wrap": PhantomSpec(shape="wrap", bend_radius_mm=18.0, myocardium_gap_mm=1.0),
    "wrap-contact": PhantomSpec(shape="wrap", bend_radius_mm=15.0, myocardium_gap_mm=0.0),
    "wrap-wide": PhantomSpec(shape="wrap", bend_radius_mm=25.0, myocardium_gap_mm=1.5),
    "vein": PhantomSpec(vein_side="beside", vein_gap_mm=1.0, noise_texture="ct", noise_sd_hu=25.0),
    "vein-along": PhantomSpec(proximal_mm=24.0, occlusion_length_mm=26.0, distal_mm=20.0),
    "branches": PhantomSpec(side_branches=True),
    "cap-calcium": PhantomSpec(cap_calcium=True, blur_sigma_mm=0.5),
    "ct-noise": PhantomSpec(noise_texture="ct", noise_sd_hu=35.0),
    "thin-wall": PhantomSpec(normal_wall_mm=0.4, lumen_radius_mm=1.3, occlusion_radius_mm=2.2),
    "anisotropic": PhantomSpec(spacing_mm=(0.4, 0.4, 0.75)),
    "low-contrast": PhantomSpec(lumen_hu=(250.0, 250.0, 250.0, 250.0)),
    "long-bend": PhantomSpec(shape="wrap", bend_radius_mm=25.0, myocardium_gap_mm=1.0, occlusion_length_mm=40.0,
                             proximal_mm=12.0, distal_mm=10.0),
    "wrap-vein": PhantomSpec(shape="wrap", bend_radius_mm=18.0, myocardium_gap_mm=1.0, vein_side="beside",
                             **_REALISTIC),
    "heart": PhantomSpec(shape="wrap", bend_radius_mm=18.0, myocardium_gap_mm=0.5, vein_side="beside",
                         side_branches=True, cap_calcium=True, blur_sigma_mm=0.5, spacing_mm=(0.4, 0.4, 0.75),
                         **_REALISTIC),
    "heart-long-low-contrast": PhantomSpec(
        shape="wrap", bend_radius_mm=25.0, myocardium_gap_mm=1.0, occlusion_length_mm=40.0, proximal_mm=12.0,
        distal_mm=10.0, vein_side="beside", side_branches=True, lumen_hu=(250.0, 250.0, 250.0, 250.0),
        spacing_mm=(0.4, 0.4, 0.75), **_REALISTIC),
}


# Occlusions whose course inside the occlusion is not the lumen's: a tight bend or an S-curve between the caps
# (issue 22), and an ECG-misregistration step through the occlusion's middle. Not in PRESETS: docs/accuracy.md
# gives what the analysis reads on them.
COURSE_PRESETS = {
    "occluded-bend-90": PhantomSpec(shape="occluded-bend", occlusion_length_mm=20.0, course_bend_radius_mm=5.0,
                                    course_bend_deg=90.0),
    "occluded-bend-45": PhantomSpec(shape="occluded-bend", occlusion_length_mm=20.0, course_bend_radius_mm=10.0,
                                    course_bend_deg=45.0),
    "s-curve": PhantomSpec(shape="s-curve", occlusion_length_mm=60.0, proximal_mm=12.0, distal_mm=10.0,
                           course_bend_radius_mm=8.0, course_bend_deg=40.0),
    "occluded-bend-90-heart": PhantomSpec(shape="occluded-bend", occlusion_length_mm=20.0, course_bend_radius_mm=5.0,
                                          course_bend_deg=90.0, myocardium_side="inner", myocardium_gap_mm=0.5),
    "occluded-bend-90-long-heart": PhantomSpec(shape="occluded-bend", occlusion_length_mm=30.0, proximal_mm=10.0,
                                               distal_mm=10.0, course_bend_radius_mm=5.0, course_bend_deg=90.0,
                                               myocardium_side="inner", myocardium_gap_mm=0.5),
    "occluded-bend-60-heart": PhantomSpec(shape="occluded-bend", occlusion_length_mm=20.0, course_bend_radius_mm=7.0,
                                          course_bend_deg=60.0, myocardium_side="inner", myocardium_gap_mm=0.5),
    "occluded-bend-45-heart": PhantomSpec(shape="occluded-bend", occlusion_length_mm=20.0,
                                          course_bend_radius_mm=10.0, course_bend_deg=45.0, myocardium_side="inner",
                                          myocardium_gap_mm=0.5),
    "slab-step-1": PhantomSpec(slab_step_mm=1.0),
    "slab-step-2": PhantomSpec(slab_step_mm=2.0),
}

def write_phantom(phantom: Phantom, out_dir: str) -> dict:
    """Write ccta.nrrd, centerline.mrk.json, seeds.mrk.json (ostium, distal end), landmarks.mrk.json and
    truth.json; return their paths."""
    names = {"volume": "ccta.nrrd", "centerline": "centerline.mrk.json", "seeds": "seeds.mrk.json",
             "landmarks": "landmarks.mrk.json", "truth": "truth.json"}
    centerline = phantom.centerline_ras
    seeds = centerline[[0, -1]]  # what a user clicks: the ostium and a distal point
    labels = ["S", "P", "D", "E"]
    with staged_outputs(out_dir) as staging:
        write_volume(os.path.join(staging, names["volume"]), phantom.hu, phantom.ijk_to_ras)
        write_json(os.path.join(staging, names["centerline"]), markups_document("Curve", centerline))
        write_json(os.path.join(staging, names["seeds"]), markups_document("Fiducial", seeds))
        write_json(os.path.join(staging, names["landmarks"]),
                   markups_document("Fiducial", [phantom.landmarks_ras[k] for k in labels], labels))
        write_json(os.path.join(staging, names["truth"]), phantom.truth)
    return {key: os.path.join(out_dir, name) for key, name in names.items()}
