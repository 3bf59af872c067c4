"""Shared fixtures: phantom cases with known truth, and a real MRML scene built with slicer-core."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "CTOPlaque"))
sys.path.insert(0, os.path.join(ROOT, "CTOPlaqueStats"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from CTOPlaqueLib.analysis import analyze_lesion  # noqa: E402
from CTOPlaqueLib.centerline_extraction import extract_centerline  # noqa: E402
from CTOPlaqueLib.phantom import PRESETS, PhantomSpec, generate_phantom, write_phantom  # noqa: E402
from CTOPlaqueLib.volume_io import Volume  # noqa: E402

# Geometries, grid spacings and orientations covered by the accuracy tests.
PHANTOM_CASES = {
    "straight": PhantomSpec(shape="straight", spacing_mm=(0.35, 0.35, 0.5), grid_rotation_deg=(0, 0, 0), seed=11),
    "curved": PhantomSpec(shape="curved", seed=12),
    "bend": PhantomSpec(shape="bend", spacing_mm=(0.45, 0.45, 0.4), grid_rotation_deg=(-25.0, 15.0, 40.0),
                        vessel_rotation_deg=(-60.0, 10.0, 75.0), seed=13, proximal_cap="blunt"),
    "long": PhantomSpec(shape="curved", occlusion_length_mm=40.0, proximal_mm=12.0, distal_mm=10.0, seed=14,
                        calcified_arc_deg=240.0),
}

# Quality warnings that say the centerline or the landmarks are wrong (never on a correct extraction),
# as opposed to the reference-wall caveat, which depends on the scan's resolution.
CENTERLINE_WARNINGS = ("no fat around it", "through contrast", "no contrast-filled lumen", "from the centerline")
# The warnings of image artefacts (never on the clean phantoms): a sharp kernel, a contour closing in on calcium,
# a misregistration step.
KERNEL_WARNING = "edge-enhancing"
COLLAPSE_WARNING = "closes in to"
MISREGISTRATION_WARNING = "ECG-misregistration step"

_cache = {}


def read_json(path):
    """The JSON document at ``path`` (file closed after reading)."""
    import json

    with open(path) as handle:
        return json.load(handle)


def phantom_for(name: str):
    """The phantom of PHANTOM_CASES[name], generated once per test session."""
    if name not in _cache:
        _cache[name] = generate_phantom(PHANTOM_CASES[name])
    return _cache[name]


def distances_inside_occlusion_mm(phantom, points_ras):
    """Distance (mm) of each 0.25 mm sample of the centerline through ``points_ras`` from the phantom's true
    centerline, for the samples whose foot point lies between the true P and D."""
    import numpy as np

    from CTOPlaqueLib.centerline import project_onto_centerline, sample_centerline

    truth = sample_centerline(phantom.centerline_ras, 0.05)
    positions = np.array([project_onto_centerline(truth, p) for p in sample_centerline(points_ras, 0.25).points_ras])
    landmarks = phantom.truth["landmarks_mm"]
    return positions[(positions[:, 0] > landmarks["P"]) & (positions[:, 0] < landmarks["D"]), 1]


def analyze_from_two_seeds(phantom):
    """What a user does on a phantom: the centerline from two seeds (its ostium and distal end), then the analysis
    with the true landmarks. Returns (centerline points RAS, LesionAnalysis)."""
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    points = extract_centerline(volume, phantom.centerline_ras[[0, -1]])
    return points, analyze_lesion(volume, points, phantom.landmarks_ras)


def preset_phantom(name: str):
    """The phantom of phantom.PRESETS[name] (what ``ctoplaque phantom --shape NAME`` writes), generated once."""
    key = f"preset:{name}"
    if key not in _cache:
        _cache[key] = generate_phantom(PRESETS[name])
    return _cache[key]


@pytest.fixture(scope="session")
def curved_case_files(tmp_path_factory):
    """The curved phantom written to disk: {"volume", "centerline", "seeds", "landmarks", "truth"} paths."""
    return write_phantom(phantom_for("curved"), str(tmp_path_factory.mktemp("curved_case")))


@pytest.fixture(scope="session")
def mrml_scene():
    """A real MRML scene with the module logics that volumes, markups, segmentations, tables and plots need."""
    from mrml_app import make_scene

    return make_scene()
