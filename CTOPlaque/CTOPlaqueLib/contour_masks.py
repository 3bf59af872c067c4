"""Editable contours: the lumen and the outer vessel wall as two segments of one segmentation, and back.

The automatic contours are radii per (section, angle) on the polar grid (contours.py). For a reader to
correct them with Slicer's Segment Editor they are written as voxel masks, the way every plaque workstation
lets the reader fix a contour: segment "lumen" (label 1) and segment "vessel wall" (label 2, the wall between
the lumen and the outer wall; the vessel is lumen + wall). The masks lie on a grid with the CT's axes,
oversampled to at most CONTOUR_GRID_MM per voxel (a 0.4 mm CT voxel is split in 3), over the box around the
vessel: fine enough that the round trip, contours -> masks -> contours, keeps areas within 2% (docs/accuracy.md).

Back from masks (possibly edited) to contours: each mask is sampled on the polar grid of every section by
trilinear interpolation of its 0/1 values. Along each ray, the part of the mask that runs unbroken from the centre
(up to where the ray has left it) gives the radius by its length, r = integral of it from the centre outward:
the edge of a star-shaped region at sub-voxel precision, since the interpolated mask falls from 1 to 0 across its
boundary symmetrically about the 0.5 crossing. What the ray meets after leaving it (the wall beyond a hole the
reader erased, a second piece painted beside it) adds its area, r^2 / 2 growing by the integral of it times rho
d rho: the radius is that of the disc sector holding the mask's area along the ray, so that areas and volumes are
those of the segments, as Segment Statistics measures them. ``analysis.remeasure_lesion`` then measures everything
from these radii.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .analysis import LesionAnalysis
from .centerline import Centerline
from .contours import contour_area_mm2
from .crosssection import PolarGrid, sample_sections, sample_sections_orders
from .errors import CTOPlaqueInputError
from .labelmap import box_voxels_near, inside_contours, lesion_box_ijk, polar_in_section
from .segmentation_file import read_segment_masks, write_labelled_segmentation
from .volume_io import Volume

CONTOUR_GRID_MM = 0.15
RAY_STEP_MM = 0.1
# An interpolated mask at or below this has been left along a ray: only between voxels all outside it.
LEFT_MASK = 0.01
END_MARGIN_MM = 0.5
LUMEN_LABEL = 1
WALL_LABEL = 2
# (segment ID, name, label, colour): Slicer shows the names; the colours of vessel-analysis tools (red lumen,
# yellow wall).
CONTOUR_SEGMENTS = (("lumen", "lumen", LUMEN_LABEL, (0.85, 0.2, 0.2)),
                    ("vessel_wall", "vessel wall", WALL_LABEL, (0.95, 0.85, 0.2)))
# Fine voxels of the masks handled at once: the nearest-section search holds a few float64 arrays of 9 candidates
# per fine voxel, ~70 MiB at 250 000 (325 MiB at 2 000 000, and no faster: the smaller chunk stays in cache).
_CHUNK_VOXELS = 250_000
# Of the sections, the fraction whose centre the vessel mask must hold for the masks to belong to the centerline:
# a reader may erase the wall of whole sections (5 mm of a 48 mm vessel leaves 89%), contours of another vessel
# hold next to none.
MIN_CENTRE_INSIDE_FRACTION = 0.5
# Below this area (mm2; a disc of 0.56 mm radius) in every section from P to D, the occluded vessel has been erased:
# an occluded coronary artery is some 3 mm across or more.
MIN_OCCLUDED_VESSEL_AREA_MM2 = 1.0
# Sections searched either side of a CT voxel's nearest for its fine voxels' nearest (_nearest_section_around).
SECTION_SEARCH = 4
# A CT voxel's label is given to all its fine voxels only with this much to spare (mm) in every test
# (_settled_labels): far above the rounding of the distances compared, far below a fine voxel.
SETTLED_SLACK_MM = 1e-6
# _settled_labels' value of a CT voxel whose fine voxels are labelled one by one.
UNSETTLED = 255


@dataclass
class ContourMasks:
    """labels [k, j, i]: 0 outside the vessel, LUMEN_LABEL, WALL_LABEL; ijk_to_ras: the grid's 4x4 matrix."""

    labels: np.ndarray
    ijk_to_ras: np.ndarray

    def lumen(self) -> Volume:
        """The lumen as a 0/1 uint8 volume on the masks' grid (no float copy of a large grid)."""
        return Volume((self.labels == LUMEN_LABEL).view(np.uint8), self.ijk_to_ras)

    def vessel(self) -> Volume:
        """The vessel (lumen and wall) as a 0/1 uint8 volume on the masks' grid."""
        return Volume((self.labels > 0).view(np.uint8), self.ijk_to_ras)


def oversampled_grid(volume: Volume, low_ijk: np.ndarray, high_ijk: np.ndarray,
                     max_spacing_mm: float = CONTOUR_GRID_MM) -> tuple[np.ndarray, tuple]:
    """IJK->RAS and shape (k, j, i) of a grid over the CT voxels low..high (i, j, k, inclusive), each CT voxel
    split into ceil(spacing / max_spacing_mm) along each axis: the same axes and outer bounds, finer voxels."""
    factors = np.ceil(volume.spacing_mm / max_spacing_mm - 1e-9).astype(int)
    matrix = volume.ijk_to_ras.copy()
    matrix[:3, :3] = volume.ijk_to_ras[:3, :3] / factors
    matrix[:3, 3] = volume.ijk_to_ras[:3, :3] @ (low_ijk - 0.5 + 0.5 / factors) + volume.ijk_to_ras[:3, 3]
    shape_ijk = (np.asarray(high_ijk) - low_ijk + 1) * factors
    return matrix, tuple(int(n) for n in shape_ijk[::-1])


def contour_masks(volume: Volume, analysis: LesionAnalysis, max_spacing_mm: float = CONTOUR_GRID_MM) -> ContourMasks:
    """The analysis's lumen and outer-wall contours as voxel masks (module doc), along the whole centerline.

    Each voxel belongs to the section whose centre is nearest; it is lumen when its distance from the centerline
    is below the lumen radius at its angle, wall when below the outer wall's. The first and last sections' contours
    reach END_MARGIN_MM beyond them (so that the interpolated masks are whole on their planes); farther nothing
    is labelled. Only the fine voxels of the CT voxels within reach of the outer wall are looked at
    (_reach_mm; a tenth of the box around a curved vessel), and one by one only those of the CT voxels whose
    fine voxels the contours do not all label alike (_settled_labels: about half of them on the bench cases)."""
    centerline = analysis.centerline
    reach_mm = _reach_mm(analysis.vessel_radii_mm)
    low, high = lesion_box_ijk(volume, centerline.points_ras, float(reach_mm.max()))
    ijk_to_ras, shape = oversampled_grid(volume, low, high, max_spacing_mm)
    factors = np.round(np.linalg.norm(volume.ijk_to_ras[:3, :3], axis=0)
                       / np.linalg.norm(ijk_to_ras[:3, :3], axis=0)).astype(int)
    near, nearest_section = _voxels_near(volume.ijk_to_ras, low, high, cKDTree(centerline.points_ras),
                                         reach_mm + 0.5 * float(np.linalg.norm(volume.spacing_mm)))
    labels = np.zeros(shape, np.uint8)
    settled = _settled_labels(volume.ijk_to_ras, factors, analysis, near, nearest_section)
    by_ct_voxel = labels.reshape(shape[0] // factors[2], factors[2], shape[1] // factors[1], factors[1],
                                 shape[2] // factors[0], factors[0]).transpose(0, 2, 4, 1, 3, 5)
    alike = (settled != UNSETTLED) & (settled > 0)
    box_ijk = near[alike] - low
    by_ct_voxel[box_ijk[:, 2], box_ijk[:, 1], box_ijk[:, 0]] = settled[alike, None, None, None]
    near, nearest_section = near[settled == UNSETTLED], nearest_section[settled == UNSETTLED]
    subvoxels = _box_indices(np.zeros(3, int), factors - 1)
    per_chunk = max(1, _CHUNK_VOXELS // len(subvoxels))
    for start in range(0, len(near), per_chunk):
        chunk = slice(start, start + per_chunk)
        fine = (near[chunk, None, :] - low) * factors + subvoxels[None]
        ras = fine @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3]
        section = _nearest_section_around(centerline, nearest_section[chunk], ras).ravel()
        fine = fine.reshape(-1, 3)
        labels[fine[:, 2], fine[:, 1], fine[:, 0]] = _labels_of(centerline, analysis, section, ras.reshape(-1, 3))
    return ContourMasks(labels, ijk_to_ras)


def _settled_labels(ct_ijk_to_ras: np.ndarray, factors: np.ndarray, analysis: LesionAnalysis, ijk: np.ndarray,
                    nearest_section: np.ndarray) -> np.ndarray:
    """Per CT voxel (rows of ijk, with the index of its nearest section), the label _labels_of gives every one of
    its fine voxels (``factors`` per axis) where the contours leave no doubt, else UNSETTLED.

    A fine voxel lies within h of its CT voxel's centre c (h: half the diagonal of the CT voxel less a fine voxel)
    and is measured in the frame of one of the sections within SECTION_SEARCH of c's nearest
    (_nearest_section_around). In each section's frame its radius and its arc position differ from c's by at most
    h (both are lengths of projections of x - c). So the label is settled, whichever of those sections is the fine
    voxel's, where for every one of them, with h + SETTLED_SLACK_MM to spare: 0 where c's radius exceeds the
    section's largest lumen and outer-wall radius; otherwise, with its arc position within END_MARGIN_MM of the
    centerline's ends, LUMEN_LABEL where the radius is below the section's smallest lumen radius, WALL_LABEL where it
    is below the smallest outer-wall radius and above the largest lumen radius (or the section has no lumen)."""
    centerline = analysis.centerline
    corners = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]) * (0.5 - 0.5 / factors)
    spread_mm = float(np.linalg.norm(corners @ ct_ijk_to_ras[:3, :3].T, axis=1).max()) + SETTLED_SLACK_MM  # h + slack
    candidates = np.clip(nearest_section[:, None] + np.arange(-SECTION_SEARCH, SECTION_SEARCH + 1), 0,
                         len(centerline.arc_mm) - 1)
    ras = ijk @ ct_ijk_to_ras[:3, :3].T + ct_ijk_to_ras[:3, 3]
    _, arc, radius, _ = polar_in_section(centerline, candidates.ravel(), np.repeat(ras, candidates.shape[1], axis=0))
    arc, radius = arc.reshape(candidates.shape), radius.reshape(candidates.shape)
    lumen_mm, vessel_mm = analysis.lumen_radii_mm, analysis.vessel_radii_mm
    largest_lumen_mm = lumen_mm.max(axis=1)[candidates]
    outside = np.all(radius - spread_mm > np.maximum(largest_lumen_mm, vessel_mm.max(axis=1)[candidates]), axis=1)
    along = np.all((arc - spread_mm >= centerline.arc_mm[0] - END_MARGIN_MM)
                   & (arc + spread_mm <= centerline.arc_mm[-1] + END_MARGIN_MM), axis=1)
    lumen = along & np.all(radius + spread_mm < lumen_mm.min(axis=1)[candidates], axis=1)
    wall = along & np.all((radius + spread_mm < vessel_mm.min(axis=1)[candidates])
                          & ((radius - spread_mm > largest_lumen_mm) | (largest_lumen_mm <= 0)), axis=1)
    settled = np.full(len(ijk), UNSETTLED, np.uint8)
    settled[outside] = 0
    settled[lumen] = LUMEN_LABEL
    settled[wall] = WALL_LABEL
    return settled


def _box_indices(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Every (i, j, k) from low to high inclusive, (N, 3)."""
    axes = [np.arange(a, b + 1) for a, b in zip(low, high)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _reach_mm(vessel_radii_mm: np.ndarray) -> np.ndarray:
    """Per section (S,), the largest outer-wall radius (mm) of the sections within SECTION_SEARCH of it, plus
    END_MARGIN_MM: a fine voxel farther than that plus half a CT voxel diagonal from the centre of its CT voxel's
    nearest section is outside the wall of every section _nearest_section_around may give it: its distance from
    that section's centre exceeds the wall's radius r by END_MARGIN_MM, so it would lie inside the wall only
    with an offset along the centerline above sqrt(r + 0.25) > 0.5 mm, two section steps from its nearest
    section. The same masks as with the largest radius of all sections, on fewer voxels (28% fewer on the bench's
    heart case, 6% on the plain curved one)."""
    return ndimage.maximum_filter1d(vessel_radii_mm.max(axis=1), 2 * SECTION_SEARCH + 1, mode="nearest") + END_MARGIN_MM


def _voxels_near(ijk_to_ras: np.ndarray, low: np.ndarray, high: np.ndarray, tree: cKDTree, distance_mm: np.ndarray):
    """The voxels (i, j, k; (N, 3)) of the box low..high (inclusive) whose centre lies within ``distance_mm`` (one per
    point of ``tree``) of its nearest point of ``tree``, and the index of that nearest point for each; only the
    voxels box_voxels_near leaves are placed in RAS and looked up."""
    searched = box_voxels_near(ijk_to_ras, low, high, tree, float(distance_mm.max())).transpose(2, 1, 0).ravel()
    ijk = _box_indices(low, high)[searched]
    ras = ijk @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3]
    distance, nearest = tree.query(ras, distance_upper_bound=float(distance_mm.max()), workers=-1)
    found = np.isfinite(distance)
    found[found] = distance[found] <= distance_mm[nearest[found]]
    return ijk[found], nearest[found]


def _nearest_section_around(centerline: Centerline, guess: np.ndarray, ras: np.ndarray) -> np.ndarray:
    """For the fine voxels (RAS, (N, V, 3)) of N CT voxels, the section nearest to each among the SECTION_SEARCH
    sections either side of ``guess`` (N,), the section nearest to the centre of their CT voxel; (N, V). A fine
    voxel lies within half a CT voxel diagonal (0.38 mm for 0.4 x 0.4 x 0.5 mm) of that centre, so its own
    nearest section is a few 0.25 mm steps away. The same as a search over all sections wherever half that
    diagonal moves the foot point on the centerline by less than SECTION_SEARCH steps (1 mm): within 2.5 mm of
    the axis on the inside of a bend of 5 mm radius, 6 mm of one of 10 mm; at a fraction of the cost of a k-d
    tree query per fine voxel."""
    candidates = np.clip(guess[:, None] + np.arange(-SECTION_SEARCH, SECTION_SEARCH + 1), 0,
                         len(centerline.arc_mm) - 1)
    origin = ras[:, :1, :]  # distances compared from a point nearby, so that |p - x|^2 - |x|^2 loses no precision
    points = centerline.points_ras[candidates] - origin
    fine = ras - origin
    squared_less_own = np.sum(points ** 2, axis=2)[:, None, :] - 2.0 * np.matmul(fine, points.transpose(0, 2, 1))
    return np.take_along_axis(candidates, np.argmin(squared_less_own, axis=2), axis=1)


def _labels_of(centerline: Centerline, analysis: LesionAnalysis, section: np.ndarray, ras: np.ndarray) -> np.ndarray:
    section, arc, radius, angle = polar_in_section(centerline, section, ras)
    along = (arc >= centerline.arc_mm[0] - END_MARGIN_MM) & (arc <= centerline.arc_mm[-1] + END_MARGIN_MM)
    in_vessel, in_lumen = inside_contours((analysis.vessel_radii_mm, analysis.lumen_radii_mm), section, radius, angle)
    return np.where(along & in_lumen, LUMEN_LABEL, np.where(along & in_vessel, WALL_LABEL, 0)).astype(np.uint8)


def contour_radii_mm(masks: ContourMasks, centerline: Centerline, grid: PolarGrid) -> tuple[np.ndarray, np.ndarray]:
    """Lumen and outer-wall radii (S, A) in mm of the masks on the sections of ``grid`` (its angles, out to its
    outer radius), from the trilinearly interpolated 0/1 mask along each ray (module doc): r^2 = L^2 + 2 B, with L
    the integral of the mask's run from the centre up to where it first falls to LEFT_MASK (a run the ray has left:
    the dips between the voxels of neighbouring sections stay within it) and B the integral of the rest times
    rho d rho, both by the midpoint rule every RAY_STEP_MM (the interpolated mask is linear between the mask's voxel
    centres, at most CONTOUR_GRID_MM apart); the vessel is lumen + wall."""
    outer_mm = grid.radii_mm[-1] + 0.5 * grid.radial_step_mm
    rays = PolarGrid.make(outer_mm, outer_mm / np.ceil(outer_mm / RAY_STEP_MM), len(grid.angles_rad))

    def ray_integral(samples: np.ndarray) -> np.ndarray:
        outside = samples <= LEFT_MASK
        first_outside = np.where(outside.any(axis=-1), np.argmax(outside, axis=-1), samples.shape[-1])
        run = np.arange(samples.shape[-1]) < first_outside[..., None]
        length_mm = np.sum(samples * run, axis=-1) * rays.radial_step_mm
        beyond_mm2 = ((samples * ~run) @ rays.radii_mm) * rays.radial_step_mm
        return np.sqrt(length_mm ** 2 + 2.0 * beyond_mm2)

    lumen, vessel = masks.lumen(), masks.vessel()
    lumen_samples, vessel_samples = sample_sections_orders(lumen, centerline, rays, (1, 1), outside_value=0.0,
                                                           arrays=(lumen.hu, vessel.hu))
    return ray_integral(lumen_samples), ray_integral(vessel_samples)


def check_masks_fit(masks: ContourMasks, volume: Volume, analysis: LesionAnalysis, source: str) -> None:
    """CTOPlaqueInputError unless the masks belong to this volume and centerline: their labelled voxels lie within
    the volume's bounds (half a CT voxel of tolerance; the grid around them may be larger, a reader's file need not
    share the CT's grid), the vessel mask holds the centre of at least MIN_CENTRE_INSIDE_FRACTION of the sections,
    and the lumen mask the centre of at least one section outside the occlusion (where it holds none, it is not
    the lumen around this centerline: the segments swapped, whose "lumen" is the wall's ring there and the occluded
    vessel between P and D, or another vessel's), and hold any labelled voxel at all. source: the file named in the
    message."""
    if not masks.labels.any():  # ContourMasks given through the API (the file and node readers refuse empty segments)
        raise CTOPlaqueInputError(f"{source}: the contours hold no lumen or vessel-wall voxel")
    i, j, k = (np.flatnonzero(np.any(masks.labels, axis=other)) for other in ((0, 1), (0, 2), (1, 2)))
    corners = np.array([[a, b, c] for a in (i[0] - 0.5, i[-1] + 0.5) for b in (j[0] - 0.5, j[-1] + 0.5)
                        for c in (k[0] - 0.5, k[-1] + 0.5)])
    corners_ras = corners @ masks.ijk_to_ras[:3, :3].T + masks.ijk_to_ras[:3, 3]
    ras_to_ijk = volume.ras_to_ijk()
    corners_ijk = corners_ras @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    upper = np.array(volume.hu.shape[::-1]) - 0.5
    if np.any(corners_ijk < -1.0) or np.any(corners_ijk > upper + 0.5):
        raise CTOPlaqueInputError(f"{source}: the contours lie outside this volume (contours of another series?)")
    centre = sample_sections(Volume(masks.labels, masks.ijk_to_ras), analysis.centerline,
                             PolarGrid.make(0.05, 0.05, 1), order=0, outside_value=0.0)[:, 0, 0]
    if np.mean(centre > 0) < MIN_CENTRE_INSIDE_FRACTION:
        raise CTOPlaqueInputError(
            f"{source}: the vessel segments hold only {100 * np.mean(centre > 0):.0f}% of this centerline "
            "(contours of another vessel or lesion?)")
    open_sections = ~analysis.occluded_sections()
    if open_sections.any() and not np.any(centre[open_sections] == LUMEN_LABEL):
        raise CTOPlaqueInputError(f"{source}: the lumen segment holds this centerline nowhere before P or after D "
                                  "(are the lumen and vessel-wall segments swapped, or the lumen of another vessel?)")


def check_vessel_in_occlusion(vessel_radii_mm: np.ndarray, analysis: LesionAnalysis, source: str) -> None:
    """CTOPlaqueInputError when the vessel (outer-wall radii (S, A) in mm from the masks) covers less than
    MIN_OCCLUDED_VESSEL_AREA_MM2 in every section from P to D: the wall erased over the whole occlusion leaves no
    plaque to measure (a volume of nothing and its composition would be reported as figures)."""
    occluded = contour_area_mm2(vessel_radii_mm[analysis.occluded_sections()])
    if not np.any(occluded >= MIN_OCCLUDED_VESSEL_AREA_MM2):
        raise CTOPlaqueInputError(f"{source}: the vessel-wall segment is erased over the whole occlusion (P to D), "
                                  "so there is no plaque to measure: paint the occluded vessel's wall there")


# Segment names read as the lumen and as the wall (lower case): ours, and what a reader may rename them to.
LUMEN_NAMES = ("lumen",)
WALL_NAMES = ("vessel wall", "vessel_wall", "outer wall", "wall")


def write_contour_segmentation(path: str, masks: ContourMasks) -> None:
    """Write the masks as a Slicer .seg.nrrd with the segments of CONTOUR_SEGMENTS."""
    write_labelled_segmentation(path, masks.labels, masks.ijk_to_ras, CONTOUR_SEGMENTS)


def read_contour_segmentation(path: str) -> ContourMasks:
    """ContourMasks from a .seg.nrrd holding a lumen and a vessel-wall segment (``contour_masks_from_segments``),
    as written by ``write_contour_segmentation`` or saved by Slicer after editing."""
    segments, ijk_to_ras = read_segment_masks(path)
    return contour_masks_from_segments(segments, ijk_to_ras, path)


def contour_masks_from_segments(segments: dict, ijk_to_ras: np.ndarray, source: str) -> ContourMasks:
    """ContourMasks from {segment name (lower case): bool mask [k, j, i]} on one grid, the lumen and wall found by
    name (LUMEN_NAMES, WALL_NAMES). Where a reader's edit leaves the two overlapping, the voxel is lumen.
    CTOPlaqueInputError naming ``source`` when a segment is missing or empty, or two names of one segment are both
    present (a "wall" beside the "vessel wall": which one the reader edited cannot be told)."""
    def segment(names, what):
        found = [name for name in names if name in segments]
        if not found:
            raise CTOPlaqueInputError(f"{source} has no {what} segment (named {' or '.join(repr(n) for n in names)}; "
                                      f"it has {', '.join(repr(n) for n in segments) or 'none'})")
        if len(found) > 1:
            raise CTOPlaqueInputError(f"{source} has {len(found)} {what} segments ({', '.join(map(repr, found))}): "
                                      "delete or rename all but the one to measure with")
        return segments[found[0]]

    lumen, wall = segment(LUMEN_NAMES, "lumen"), segment(WALL_NAMES, "vessel wall")
    for mask, what in ((lumen, "lumen"), (wall, "vessel wall")):
        if not mask.any():
            raise CTOPlaqueInputError(f"{source}: the {what} segment is empty")
    labels = np.where(lumen, LUMEN_LABEL, np.where(wall, WALL_LABEL, 0)).astype(np.uint8)
    return ContourMasks(labels, ijk_to_ras)
