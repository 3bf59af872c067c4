"""Plaque composition by Hounsfield unit, and the volume integral over the vessel wall.

HU bins of the seed paper (Xing et al. 2022, after Brodoefel/de Graaf): necrotic core -30..75,
fibrofatty 76..130, fibrous 131..350, dense calcium >= 351 HU. Wall below -30 HU is reported as
unclassified. The bins are configured by their lower bounds; each bin runs up to the next bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .centerline import Centerline
from .crosssection import PolarGrid
from .errors import CTOPlaqueInputError

COMPONENTS = ("necrotic_core", "fibrofatty", "fibrous", "dense_calcium")
COMPONENT_NAMES = {"necrotic_core": "Necrotic core", "fibrofatty": "Fibrofatty", "fibrous": "Fibrous",
                   "dense_calcium": "Dense calcium"}
# Colours of the seed paper's figures: NC red, FF light green, fibrous green, DC white.
COMPONENT_COLORS = {"necrotic_core": (0.85, 0.10, 0.10), "fibrofatty": (0.70, 0.95, 0.55),
                    "fibrous": (0.10, 0.60, 0.15), "dense_calcium": (1.0, 1.0, 1.0)}
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class HuThresholds:
    """Lower HU bound of each component, in the order of COMPONENTS (strictly increasing)."""

    lower_bounds_hu: tuple = (-30.0, 76.0, 131.0, 351.0)

    def __post_init__(self):
        bounds = np.asarray(self.lower_bounds_hu, float)
        if bounds.shape != (len(COMPONENTS),) or np.any(np.diff(bounds) <= 0):
            raise CTOPlaqueInputError(
                "HU thresholds must be four increasing lower bounds: necrotic core, fibrofatty, fibrous, dense calcium")

    @classmethod
    def parse(cls, text: str) -> "HuThresholds":
        """From "-30,76,131,351"."""
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise CTOPlaqueInputError(f"HU thresholds {text!r} are not four comma-separated numbers") from None
        return cls(values)

    def classify(self, hu: np.ndarray) -> np.ndarray:
        """Class per value: 0 unclassified (below the necrotic-core bound), 1..4 = COMPONENTS."""
        return np.searchsorted(np.asarray(self.lower_bounds_hu, float), hu, side="right").astype(np.uint8)

    def ranges_hu(self) -> dict:
        """Component -> [lower, upper] HU; upper is None for dense calcium (open-ended)."""
        bounds = list(self.lower_bounds_hu)
        uppers = [b - 1 for b in bounds[1:]] + [None]
        return {name: [lower, upper] for name, lower, upper in zip(COMPONENTS, bounds, uppers)}


def wall_sample_areas_mm2(grid: PolarGrid, lumen_radii_mm: np.ndarray, vessel_radii_mm: np.ndarray) -> np.ndarray:
    """In-plane area (mm^2) of each polar sample (S, A, R) that lies between lumen and vessel contours.

    Each sample stands for the annular cell [r - dr/2, r + dr/2] x dtheta; the cell counts with the
    fraction of its radial extent inside [r_lumen(theta), r_vessel(theta)].
    """
    half = 0.5 * grid.radial_step_mm
    radii = grid.radii_mm
    inner = np.maximum(radii - half, lumen_radii_mm[..., None])
    outer = np.minimum(radii + half, vessel_radii_mm[..., None])
    return np.clip(outer - inner, 0.0, None) * radii * grid.angle_step_rad


def tube_jacobian(grid: PolarGrid, centerline: Centerline, section_indices) -> np.ndarray:
    """Volume factor 1 - kappa . offset of each polar sample (S, A, R).

    Stacking planar sections along a curved centerline compresses the inner side of a bend and
    stretches the outer side: the volume element of the tube map c(s) + r(cos t U + sin t V) with
    rotation-minimizing (U, V) is (1 - r (cos t U + sin t V) . dT/ds) r dr dt ds.
    """
    index = np.asarray(section_indices)
    kappa_u = np.sum(centerline.curvature_vectors[index] * centerline.normals_u[index], axis=1)
    kappa_v = np.sum(centerline.curvature_vectors[index] * centerline.normals_v[index], axis=1)
    along_curvature = (np.cos(grid.angles_rad)[None, :] * kappa_u[:, None]
                       + np.sin(grid.angles_rad)[None, :] * kappa_v[:, None])
    return 1.0 - along_curvature[..., None] * grid.radii_mm[None, None, :]


def class_sums(classes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum of weights per class for each section: (S, 1 + len(COMPONENTS)), column 0 unclassified."""
    count = len(COMPONENTS) + 1
    sections = classes.shape[0]
    flat_index = (np.arange(sections)[:, None] * count + classes.reshape(sections, -1)).ravel()
    sums = np.bincount(flat_index, weights=weights.reshape(-1), minlength=sections * count)
    return sums.reshape(sections, count)


def percent_of(total: float, part: float) -> float:
    return 100.0 * part / total if total > 0 else 0.0
