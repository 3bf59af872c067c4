"""The lesion analysis of the seed paper: contours along the vessel, occlusion length, plaque volume and composition.

Inputs are a CT volume (HU + IJK->RAS), centerline control points in RAS ordered proximal to
distal, and landmarks P, D (S, E) in RAS. Everything returned is in millimetres and HU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from . import contours
from .centerline import Centerline, sample_centerline
from .composition import (COMPONENTS, HuThresholds, class_sums, percent_of, tube_jacobian,
                          wall_sample_areas_mm2)
from .contours import contour_area_mm2, mean_diameter_mm
from .crosssection import PolarGrid, centerline_inside_fraction, sample_sections_orders
from .errors import CTOPlaqueInputError
from .landmarks import landmark_positions_mm, landmark_projections, reference_section_indices
from .misregistration import misregistration_step_measures
from .morphology import lesion_morphology
from .quality import (lumen_area_uncertainty_measures, lumen_beside_cap_measures, lumen_on_wall_measures,
                      proximal_lumen_end_measures, proximal_lumen_flags, quality_measures, quality_warnings,
                      wall_outward_measures, warning_kinds)
from .reconstruction_kernel import lumen_edge_undershoot_hu
from .scores import compute_scores, image_items
from .settings import RANGES, AnalysisSettings
from .volume_io import Volume, check_values_present

AIR_HU = -500.0
GRID_MARGIN_MM = 1.5
REFERENCE_LUMEN_HU_WINDOW_MM = 2.5


@dataclass
class VesselProfile:
    """Per cross-section along the whole centerline. component_areas_mm2: (S, 5), column 0 unclassified."""

    arc_mm: np.ndarray
    lumen_area_mm2: np.ndarray
    vessel_area_mm2: np.ndarray
    component_areas_mm2: np.ndarray


@dataclass
class LesionAnalysis:
    """Everything measured for one lesion."""

    centerline: Centerline
    grid: PolarGrid
    thresholds: HuThresholds
    landmarks_mm: dict
    lumen_radii_mm: np.ndarray
    vessel_radii_mm: np.ndarray
    profile: VesselProfile
    occlusion_length_mm: float
    vessel_volume_mm3: float
    volumes_mm3: dict
    unclassified_volume_mm3: float
    reference: dict
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    quality: dict = field(default_factory=dict)
    # the image-derived score items (morphology.lesion_morphology), the entered clinical items and the
    # difficulty scores from both (scores.compute_scores): computed once, here; the exporters only write them
    morphology: dict = field(default_factory=dict)
    clinical_items: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    # what the automatic detection found besides the contours (ContourDetection), to re-measure from edited ones
    detection: "ContourDetection" = None
    # [first, last] distance from the ostium (mm) of each run of sections whose contours the reader edited
    # (contour_review.edited_ranges_mm); empty for the automatic contours
    edited_ranges_mm: list = field(default_factory=list)
    # after an edit, the kinds of the warnings the automatic analysis raised (quality.warning_kinds): only those
    # can be marked reviewed
    automatic_warning_kinds: list = field(default_factory=list)

    @property
    def warnings(self) -> list:
        """Problems found by the quality measures, each with what to do; those lying where the reader edited the
        contours, and raised by the automatic analysis too, marked as reviewed (quality.quality_warnings)."""
        return quality_warnings(self.quality, self.landmarks_mm, self.edited_ranges_mm, self.settings.step_mm,
                                self.automatic_warning_kinds)

    @property
    def total_plaque_volume_mm3(self) -> float:
        """Vessel minus lumen volume between P and D, where a total occlusion has no lumen: every
        component plus the unclassified wall (< -30 HU)."""
        return float(sum(self.volumes_mm3.values()) + self.unclassified_volume_mm3)

    @property
    def pav_percent(self) -> dict:
        """Percent atheroma volume of each component: component / total plaque volume x 100."""
        total = self.total_plaque_volume_mm3
        return {name: percent_of(total, volume) for name, volume in self.volumes_mm3.items()}

    @property
    def noncalcified_volume_mm3(self) -> float:
        return float(self.volumes_mm3["necrotic_core"] + self.volumes_mm3["fibrofatty"]
                     + self.volumes_mm3["fibrous"])

    def occluded_sections(self) -> np.ndarray:
        """Mask of the cross-sections whose centre lies between P and D (both included)."""
        arc = self.centerline.arc_mm
        return (arc >= self.landmarks_mm["P"]) & (arc <= self.landmarks_mm["D"])

    def occlusion_slabs_mm(self) -> np.ndarray:
        """Length (mm) of centerline between P and D that each cross-section stands for."""
        return _slab_lengths_mm(self.centerline.arc_mm, self.landmarks_mm["P"], self.landmarks_mm["D"])


def _slab_lengths_mm(arc_mm: np.ndarray, start_mm: float, end_mm: float) -> np.ndarray:
    """Overlap of each section's slab [s - h/2, s + h/2] with [start, end]."""
    half = 0.5 * (arc_mm[1] - arc_mm[0])
    return np.clip(np.minimum(arc_mm + half, end_mm) - np.maximum(arc_mm - half, start_mm), 0.0, None)


def _check_vessel_in_volume(volume: Volume, centerline: Centerline, central_hu: np.ndarray) -> None:
    inside = centerline_inside_fraction(volume, centerline)
    if inside < 0.95:
        raise CTOPlaqueInputError(
            f"{100 * (1 - inside):.0f}% of the centerline lies outside the volume; "
            "the volume does not contain this vessel (wrong series or wrong centerline?)")
    if np.median(central_hu) < AIR_HU:
        raise CTOPlaqueInputError("the centerline runs through air, not through a vessel; "
                                  "check that centerline and volume belong together")


def _contours(samples_hu: np.ndarray, grid: PolarGrid, in_occlusion: np.ndarray, settings: AnalysisSettings):
    """(contrast lumen present per section, lumen radii (S, A), outer wall) of the sampled sections; no lumen
    between P and D. The epicardial fat level both tests are relative to is measured once."""
    fat_hu = contours.fat_level_hu(samples_hu, grid, settings.contour)
    contrast = contours.lumen_present(samples_hu, grid, settings.contour, ~in_occlusion, fat_hu)
    lumen_radii, wall = contours.detect_contours(samples_hu, grid, contrast & ~in_occlusion, settings.step_mm,
                                                 settings.contour, fat_hu)
    return contrast, lumen_radii, wall


def _grid_for_vessel(grid: PolarGrid, occluded_wall_radii_mm: np.ndarray, settings: AnalysisSettings):
    """A wider polar grid when the occluded vessel does not leave the epicardial-fat ring (``fat_ring_mm``)
    inside the grid, else None. The fat level is measured in that ring and every wall edge is tested against
    it; with a 4.2 mm vessel on the 4.5 mm default grid the ring held the wall (fat read at -3 HU) and the
    plaque volume came out 26% small with a false "myocardium" warning (-0.8% on a 7 mm grid). The new radius
    leaves the fat ring plus GRID_MARGIN_MM beyond the 99th percentile of the occluded wall's radius, within
    the settings' range."""
    outer_mm = float(np.percentile(occluded_wall_radii_mm, 99))
    if outer_mm <= grid.radii_mm[-1] - settings.contour.fat_ring_mm:
        return None
    radius_mm = min(outer_mm + settings.contour.fat_ring_mm + GRID_MARGIN_MM, RANGES["max_radius_mm"][1])
    return PolarGrid.make(radius_mm, settings.radial_step_mm, settings.angle_count)


@dataclass
class ContourDetection:
    """What the automatic contour detection found besides the contours, kept to re-measure from other contours.

    contrast: (S,) a contrast-filled lumen runs through the section (``contours.lumen_present``, before the
    occlusion is cleared); wall: the automatic outer wall with its fat-edge support (``contours.WallContour``);
    central_hu: (S,) median HU within 0.5 mm of the centerline; classes: (S, A, R) HU class of the voxel under
    each polar sample (``HuThresholds.classify``); landmark_distances_mm: label -> distance from the centerline;
    lumen_edge_undershoot_hu: ``reconstruction_kernel.lumen_edge_undershoot_hu`` of the automatic lumen;
    wall_outward: ``quality.wall_outward_measures`` of the automatic outer wall against the image (kept as they are
    when other contours are measured: they say where the automatic wall was pushed outward);
    misregistration: ``misregistration.misregistration_step_measures`` along the automatic outer wall (an image
    property, kept as it is too); lumen_uncertainty: ``quality.lumen_area_uncertainty_measures`` of the automatic
    lumen (the image's noise against its edge, kept as it is when other contours are measured)."""

    contrast: np.ndarray
    wall: contours.WallContour
    central_hu: np.ndarray
    classes: np.ndarray
    landmark_distances_mm: dict
    lumen_edge_undershoot_hu: float | None
    wall_outward: dict
    misregistration: dict
    lumen_uncertainty: dict


def analyze_lesion(volume: Volume, centerline_points_ras, landmarks_ras: dict,
                   settings: AnalysisSettings = AnalysisSettings(), clinical_items: dict = None) -> LesionAnalysis:
    """Measure one CTO lesion, with its morphology and difficulty scores.

    volume: HU and IJK->RAS. centerline_points_ras: (N, 3) control points, proximal first.
    landmarks_ras: {"P", "D"[, "S", "E"]} -> RAS point. clinical_items: entered score items
    (scores.CLINICAL_ITEMS, parsed by scores.parse_clinical_items); a score missing one is missing.
    Lumen is absent between P and D by definition of a total occlusion, so the plaque there is the
    whole vessel cross-section; elsewhere the lumen is the contrast-filled region of sections with a
    bright core (``contours.lumen_present``), for the profile and the reference sections.
    """
    centerline = sample_centerline(centerline_points_ras, settings.step_mm)
    grid = settings.grid()
    samples_hu, voxel_hu = sample_sections_orders(volume, centerline, grid, (1, 0))
    check_values_present(samples_hu, "in the cross-sections along the centerline")
    central_hu = contours.central_lumen_hu(samples_hu, grid)
    _check_vessel_in_volume(volume, centerline, central_hu)
    landmarks_mm = landmark_positions_mm(centerline, landmarks_ras)
    arc = centerline.arc_mm
    in_occlusion = (arc >= landmarks_mm["P"]) & (arc <= landmarks_mm["D"])
    contrast, lumen_radii, wall = _contours(samples_hu, grid, in_occlusion, settings)
    wider = _grid_for_vessel(grid, wall.radii_mm[in_occlusion], settings)
    if wider is not None:
        grid = wider
        samples_hu, voxel_hu = sample_sections_orders(volume, centerline, grid, (1, 0))
        contrast, lumen_radii, wall = _contours(samples_hu, grid, in_occlusion, settings)
    distances = {label: distance for label, (_, distance) in landmark_projections(centerline, landmarks_ras).items()}
    detection = ContourDetection(
        contrast=contrast, wall=wall, central_hu=central_hu,
        classes=settings.thresholds.classify(voxel_hu),
        landmark_distances_mm=distances,
        lumen_edge_undershoot_hu=lumen_edge_undershoot_hu(volume, centerline, lumen_radii, grid.radial_step_mm,
                                                          len(grid.angles_rad), settings.contour,
                                                          (samples_hu, grid)),
        wall_outward=wall_outward_measures(arc, landmarks_mm, samples_hu, grid, wall, settings.contour),
        misregistration=misregistration_step_measures(volume, centerline, wall.radii_mm, landmarks_mm),
        lumen_uncertainty=lumen_area_uncertainty_measures(arc, landmarks_mm, samples_hu, grid, lumen_radii, wall.fat_hu,
                                                          settings.contour))
    return measure_contours(centerline, grid, landmarks_mm, detection, lumen_radii, wall.radii_mm, settings,
                            clinical_items)


def remeasure_lesion(analysis: LesionAnalysis, lumen_radii_mm: np.ndarray, vessel_radii_mm: np.ndarray,
                     edited_ranges_mm=()):
    """The lesion measured again from other contours on the same sections (e.g. the reader's edited segments,
    ``contour_masks.contour_radii_mm``): centerline, landmarks, polar grid, HU classes and the automatic
    detection's image measures (fat edges, contrast, blur, fat level) are kept; every figure that depends on
    the contours is recomputed. analysis: the automatic one; lumen_radii_mm, vessel_radii_mm: (S, A) radii (mm) on
    ``analysis.grid``; edited_ranges_mm: where they differ from the automatic ones ([first, last] mm from the
    ostium), which marks the warnings lying there as reviewed where the automatic analysis raised them too."""
    remeasured = measure_contours(analysis.centerline, analysis.grid, analysis.landmarks_mm, analysis.detection,
                                  lumen_radii_mm, vessel_radii_mm, analysis.settings, analysis.clinical_items)
    remeasured.edited_ranges_mm = [list(run) for run in edited_ranges_mm]
    remeasured.automatic_warning_kinds = warning_kinds(analysis.quality)
    return remeasured


def measure_contours(centerline: Centerline, grid: PolarGrid, landmarks_mm: dict, detection: ContourDetection,
                     lumen_radii: np.ndarray, vessel_radii: np.ndarray, settings: AnalysisSettings,
                     clinical_items: dict = None) -> LesionAnalysis:
    """Every figure of a lesion from its lumen and outer-wall radii (S, A) in mm on ``grid``: profile, volumes
    and PAV (the HU class of each polar sample weighted by its wall area and the tube's volume factor),
    reference sections, quality, morphology and scores."""
    arc = centerline.arc_mm
    wall = dataclasses.replace(detection.wall, radii_mm=vessel_radii)
    quality = quality_measures(arc, landmarks_mm, detection.landmark_distances_mm, detection.contrast, lumen_radii,
                               wall, np.linalg.norm(centerline.curvature_vectors, axis=1))
    quality.update(lumen_on_wall_measures(arc, landmarks_mm, lumen_radii, wall))
    quality.update(lumen_beside_cap_measures(arc, landmarks_mm, lumen_radii))
    quality.update(proximal_lumen_end_measures(arc, landmarks_mm, lumen_radii))
    quality["polar_grid_radius_mm"] = float(grid.radii_mm[-1] + 0.5 * grid.radial_step_mm)
    quality["lumen_edge_undershoot_hu"] = detection.lumen_edge_undershoot_hu
    quality.update(detection.wall_outward)
    quality.update(detection.misregistration)
    quality.update(detection.lumen_uncertainty)

    classes = detection.classes
    wall_areas = wall_sample_areas_mm2(grid, lumen_radii, vessel_radii)
    profile = VesselProfile(arc, contour_area_mm2(lumen_radii), contour_area_mm2(vessel_radii),
                            class_sums(classes, wall_areas))

    slabs = _slab_lengths_mm(arc, landmarks_mm["P"], landmarks_mm["D"])
    lesion = np.flatnonzero(slabs > 0)
    jacobian = tube_jacobian(grid, centerline, lesion)
    occluded_wall_areas = wall_sample_areas_mm2(grid, np.zeros_like(vessel_radii[lesion]), vessel_radii[lesion])
    lesion_volumes = (class_sums(classes[lesion], occluded_wall_areas * jacobian) * slabs[lesion, None]).sum(axis=0)

    analysis = LesionAnalysis(
        centerline=centerline, grid=grid, thresholds=settings.thresholds, landmarks_mm=landmarks_mm,
        lumen_radii_mm=lumen_radii, vessel_radii_mm=vessel_radii, profile=profile,
        occlusion_length_mm=float(landmarks_mm["D"] - landmarks_mm["P"]),
        vessel_volume_mm3=float(lesion_volumes.sum()),
        volumes_mm3={name: float(v) for name, v in zip(COMPONENTS, lesion_volumes[1:])},
        unclassified_volume_mm3=float(lesion_volumes[0]),
        reference=_reference_sections(landmarks_mm, arc, lumen_radii, vessel_radii, detection.central_hu),
        settings=settings,
        quality=quality,
        clinical_items=dict(clinical_items or {}),
        detection=detection,
    )
    # a cap shape is not read from a lumen the quality measures flag next to it
    analysis.morphology = lesion_morphology(analysis, read_cap=not proximal_lumen_flags(quality))
    quality["proximal_cap_measured"] = analysis.morphology["proximal_cap"] is not None
    image = image_items(analysis.morphology, analysis.occlusion_length_mm, analysis.volumes_mm3["dense_calcium"])
    analysis.scores = compute_scores(image, analysis.clinical_items)
    return analysis


def _reference_sections(landmarks_mm: dict, arc_mm: np.ndarray, lumen_radii: np.ndarray,
                        vessel_radii: np.ndarray, central_hu: np.ndarray) -> dict:
    """Lumen area, vessel area, mean lumen diameter and lumen attenuation at the reference landmarks S and E;
    the lumen's are None where no lumen was found there (quality.reference_lumen_found, with a warning), never 0.

    central_hu: (S,) median HU within 0.5 mm of the centerline (contours.central_lumen_hu). The lumen
    attenuation is its median over the sections with a lumen within REFERENCE_LUMEN_HU_WINDOW_MM of the
    landmark: the contrast the plaque HU bins were read against, which moves plaque attenuation and so PAV
    (Maffei et al., Radiol Med 2012; Kidoh et al., Acad Radiol 2016), for a cohort to stratify or adjust by."""
    reference = {}
    has_lumen = np.any(lumen_radii > 0, axis=1)
    for label, index in reference_section_indices(arc_mm, landmarks_mm).items():
        found = bool(np.any(lumen_radii[index] > 0))
        near = has_lumen & (np.abs(arc_mm - arc_mm[index]) <= REFERENCE_LUMEN_HU_WINDOW_MM)
        reference[label] = {
            "position_mm": float(landmarks_mm[label]),
            "lumen_area_mm2": float(contour_area_mm2(lumen_radii[index])) if found else None,
            "vessel_area_mm2": float(contour_area_mm2(vessel_radii[index])),
            "mean_lumen_diameter_mm": float(mean_diameter_mm(lumen_radii[index])) if found else None,
            "lumen_hu": float(np.median(central_hu[near])) if found else None,
        }
    return reference
