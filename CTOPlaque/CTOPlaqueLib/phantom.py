"""Synthetic CCTA of a coronary chronic total occlusion with known truth (tests, demo, benchmark).

The vessel runs in the local x-y plane along a straight, curved (35 mm radius) or tightly bent
(8 mm radius, 70 degrees, centred on the occlusion) path, in epicardial fat (-100 HU), 0.3 mm above
the myocardium (110 HU) and beside a contrast-filled vein (380 HU, 1 mm of fat away). Its lumen is
contrast-filled (450 HU fading to 350 HU at the proximal cap; 260 HU distal, retrograde filling) and
tapers to the proximal cap P (or ends bluntly). Between P and D there is no lumen; the wall holds
fibrous caps (230 HU, 3 mm at each end), a necrotic core (25 HU, inner 55% of the radius), a
fibrofatty rim (100 HU), a fibrous sector, a calcified nodule (900 HU) and, optionally, a 4 mm long
calcified sector of ``calcified_arc_deg`` degrees through the whole wall (a known calcium area
fraction of arc/360). The object is rendered with
2x2x2 supersampling (partial volume), blurred by a Gaussian point-spread function, given noise, and
stored as integer HU on an anisotropic, obliquely oriented grid with a non-identity origin.

Truth: the exact centerline, landmarks, the vessel volume between P and D (analytic, the integral of
pi r_V(s)^2) and the composition of the written image classified inside the true wall, both with and
without noise.
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
from .staging import staged_outputs, write_json
from .volume_io import ijk_to_ras_from_geometry, write_volume

FAT_HU, MYOCARDIUM_HU, VEIN_HU = -100.0, 110.0, 380.0
FIBROUS_HU, NECROTIC_HU, FIBROFATTY_HU, CALCIUM_HU, NORMAL_WALL_HU = 230.0, 25.0, 100.0, 900.0, 60.0
PATH_STEP_MM = 0.05
# Distance from the path (in plane, and from 2 mm above it along z) beyond which only fat and myocardium remain.
REACH_MM = 6.0


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


def _smooth_step(x: np.ndarray, start: float, width: float) -> np.ndarray:
    """0 before ``start``, 1 after ``start + width``, cosine ramp in between."""
    t = np.clip((x - start) / width, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def lumen_radius_mm(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """True lumen radius: tapering 1.6 -> 1.4 mm, none between P and D, tapered or blunt proximal cap."""
    arc = np.asarray(arc_mm, float)
    radius = spec.lumen_radius_mm - 0.2 * arc / spec.length_mm
    if spec.proximal_cap == "tapered":
        radius = np.where(arc < spec.p_mm, radius * np.clip((spec.p_mm - arc) / 2.0, 0.0, 1.0), radius)
    return np.where((arc >= spec.p_mm) & (arc <= spec.d_mm), 0.0, radius)


def vessel_radius_mm(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    """True outer wall radius: lumen + normal wall, remodelled to ``occlusion_radius_mm`` around the occlusion."""
    arc = np.asarray(arc_mm, float)
    normal = spec.lumen_radius_mm - 0.2 * arc / spec.length_mm + spec.normal_wall_mm
    rise = _smooth_step(arc, spec.p_mm - 2.0, 2.0) * (1.0 - _smooth_step(arc, spec.d_mm, 2.0))
    return normal + rise * (spec.occlusion_radius_mm - normal)


def lumen_hu(spec: PhantomSpec, arc_mm: np.ndarray) -> np.ndarray:
    arc = np.asarray(arc_mm, float)
    proximal = 450.0 - 100.0 * arc / spec.p_mm
    distal = 260.0 - 20.0 * (arc - spec.d_mm) / max(spec.distal_mm, 1e-6)
    return np.where(arc < spec.p_mm, proximal, distal)


def _wall_hu(spec: PhantomSpec, arc: np.ndarray, radius: np.ndarray, angle: np.ndarray,
             vessel_r: np.ndarray, offset_z: np.ndarray, offset_n: np.ndarray) -> np.ndarray:
    """HU of the wall material at (arc, radius, angle), before blur."""
    hu = np.full(arc.shape, NORMAL_WALL_HU)
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
    sheet_arc = spec.p_mm + 0.7 * spec.occlusion_length_mm
    half_arc = np.radians(spec.calcified_arc_deg) / 2.0
    in_sheet = body & (np.abs(arc - sheet_arc) < 2.0) & (np.abs(np.angle(np.exp(1j * (angle - 1.0)))) < half_arc)
    return np.where(in_sheet, CALCIUM_HU, hu)


def _render_local(spec: PhantomSpec, points_local: np.ndarray, path: "_Path") -> np.ndarray:
    """Noise-free, unblurred HU at points given in the local frame (M, 3)."""
    arc, offset_n, offset_z, within_path = path.local_coordinates(points_local)
    radius = np.hypot(offset_n, offset_z)
    angle = np.arctan2(offset_z, offset_n)
    hu = np.full(len(points_local), FAT_HU)
    top_of_myocardium = -(spec.occlusion_radius_mm + 0.3)
    hu = np.where(offset_z < top_of_myocardium, MYOCARDIUM_HU, hu)
    vein_radius, vein_height = 1.5, spec.occlusion_radius_mm + 1.0 + 1.5
    hu = np.where(within_path & (np.hypot(offset_n, offset_z - vein_height) < vein_radius), VEIN_HU, hu)
    vessel_r = vessel_radius_mm(spec, arc)
    in_vessel = within_path & (radius < vessel_r)
    wall = _wall_hu(spec, arc, radius, angle, vessel_r, offset_z, offset_n)
    hu = np.where(in_vessel, wall, hu)
    return np.where(within_path & (radius < lumen_radius_mm(spec, arc)), lumen_hu(spec, arc), hu)


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
    object_hu = _render_supersampled(spec, shape_kji, ijk_to_ras, rotation, offset, path)
    spacing_kji = np.asarray(spec.spacing_mm, float)[::-1]
    blurred = ndimage.gaussian_filter(object_hu, spec.blur_sigma_mm / spacing_kji, mode="nearest")
    rng = np.random.default_rng(spec.seed)
    noisy = blurred + rng.normal(0.0, spec.noise_sd_hu, blurred.shape).astype(np.float32)
    hu = np.round(noisy).astype(np.int16)

    control_arc = np.linspace(0.5, spec.length_mm - 0.5, int(round(spec.length_mm - 1.0)) + 1)
    centerline_ras = _path_local(spec, control_arc) @ rotation.T + offset
    landmark_arc = {"S": spec.p_mm - 5.0, "P": spec.p_mm, "D": spec.d_mm, "E": spec.d_mm + 5.0}
    landmarks_ras = {k: _path_local(spec, np.array([a]))[0] @ rotation.T + offset for k, a in landmark_arc.items()}
    phantom = Phantom(spec, hu, ijk_to_ras, centerline_ras, landmarks_ras)
    phantom.truth = _truth(spec, phantom, np.round(blurred), rotation, offset, path, landmark_arc, control_arc[0])
    return phantom


def _voxel_centres_local(shape_kji, ijk_to_ras, rotation, offset, sub_offset=(0.0, 0.0, 0.0)):
    k, j, i = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape_kji], indexing="ij")
    ijk = np.stack([i.ravel() + sub_offset[0], j.ravel() + sub_offset[1], k.ravel() + sub_offset[2]], axis=1)
    ras = ijk @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3]
    return (ras - offset) @ rotation


def _render_supersampled(spec, shape_kji, ijk_to_ras, rotation, offset, path):
    total = np.zeros(int(np.prod(shape_kji)), np.float64)
    subs = (-0.25, 0.25)
    for di in subs:
        for dj in subs:
            for dk in subs:
                local = _voxel_centres_local(shape_kji, ijk_to_ras, rotation, offset, (di, dj, dk))
                total += _render_local(spec, local, path)
    return (total / 8.0).reshape(shape_kji).astype(np.float32)


def _truth(spec, phantom, noise_free_hu, rotation, offset, path, landmark_arc, start_arc):
    """Truth values; arc lengths are relative to the first centerline control point (as the analysis measures)."""
    local = _voxel_centres_local(phantom.hu.shape, phantom.ijk_to_ras, rotation, offset)
    voxel_arc, offset_n, offset_z, _ = path.local_coordinates(local)
    radius = np.hypot(offset_n, offset_z)
    in_wall = (voxel_arc >= spec.p_mm) & (voxel_arc <= spec.d_mm) & (radius < vessel_radius_mm(spec, voxel_arc))
    voxel_mm3 = float(abs(np.linalg.det(phantom.ijk_to_ras[:3, :3])))
    thresholds = HuThresholds()
    fine = np.linspace(spec.p_mm, spec.d_mm, 20001)
    vessel_volume = float(trapezoid(np.pi * vessel_radius_mm(spec, fine) ** 2, fine))

    def composition(values):
        classes = thresholds.classify(values.ravel()[in_wall])
        volumes = {name: float(np.sum(classes == index + 1) * voxel_mm3) for index, name in enumerate(COMPONENTS)}
        unclassified = float(np.sum(classes == 0) * voxel_mm3)
        total = sum(volumes.values()) + unclassified
        return {"volumes_mm3": volumes, "unclassified_volume_mm3": unclassified, "total_mm3": total,
                "pav_percent": {k: 100.0 * v / total for k, v in volumes.items()}}

    return {
        "spec": asdict(spec),
        "occlusion_length_mm": spec.occlusion_length_mm,
        "landmarks_mm": {k: a - start_arc for k, a in landmark_arc.items()},
        "vessel_volume_mm3": vessel_volume,
        "total_plaque_volume_mm3": vessel_volume,
        "composition_written_image": composition(phantom.hu.astype(np.float32)),
        "composition_noise_free": composition(noise_free_hu),
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


def _bending_truth_deg(spec: PhantomSpec) -> float:
    """Total direction change of the path between P and D (the arcs are planar and monotone)."""
    arc = np.linspace(spec.p_mm, spec.d_mm, 2001)
    points = _path_local(spec, arc)
    tangents = np.gradient(points, arc, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1)[:, None]
    return float(np.degrees(np.arccos(np.clip(tangents @ tangents.T, -1.0, 1.0).min())))


def write_phantom(phantom: Phantom, out_dir: str) -> dict:
    """Write ccta.nrrd, centerline.mrk.json, seeds.mrk.json, landmarks.mrk.json and truth.json; return paths."""
    names = {"volume": "ccta.nrrd", "centerline": "centerline.mrk.json", "seeds": "seeds.mrk.json",
             "landmarks": "landmarks.mrk.json", "truth": "truth.json"}
    centerline = phantom.centerline_ras
    seeds = centerline[[0, len(centerline) // 2, -1]]
    labels = ["S", "P", "D", "E"]
    with staged_outputs(out_dir) as staging:
        write_volume(os.path.join(staging, names["volume"]), phantom.hu, phantom.ijk_to_ras)
        write_json(os.path.join(staging, names["centerline"]), markups_document("Curve", centerline))
        write_json(os.path.join(staging, names["seeds"]), markups_document("Fiducial", seeds))
        write_json(os.path.join(staging, names["landmarks"]),
                   markups_document("Fiducial", [phantom.landmarks_ras[k] for k in labels], labels))
        write_json(os.path.join(staging, names["truth"]), phantom.truth)
    return {key: os.path.join(out_dir, name) for key, name in names.items()}
