"""Shared fixtures: phantom cases with known truth, and a real MRML scene built with slicer-core."""

from __future__ import annotations

import hashlib
import os
import pickle
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
# The warning that the proximal cap's shape is not measured (quality.cap_shape_site).
CAP_SHAPE_WARNING = "the proximal cap's shape (tapered or blunt) is not measured"

_cache = {}
# The session's folder shared by its xdist workers (set by the _session_cache_dir fixture before any test runs).
_disk_cache = {"dir": None}


def cached(key: str, compute):
    """``compute()``, once per test session: kept in this process's memory and, once the session has begun, in a
    pickle under the session's temporary folder, which every xdist worker of the session shares. A file lock per key
    makes a second worker wait for the first one's result instead of computing it again; the pickle is written to a
    temporary name and renamed, so no worker reads a half-written one. The folder is the session's own, so a result
    never outlives the code that computed it."""
    if key not in _cache:
        _cache[key] = compute() if _disk_cache["dir"] is None else _from_disk(key, compute)
    return _cache[key]


def _from_disk(key: str, compute):
    from filelock import FileLock

    path = os.path.join(_disk_cache["dir"], hashlib.sha256(key.encode()).hexdigest() + ".pickle")
    with FileLock(path + ".lock"):
        if os.path.exists(path):
            with open(path, "rb") as handle:
                return pickle.load(handle)
        value = compute()
        with open(path + ".part", "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(path + ".part", path)
        return value


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory, worker_id):
    """The folder of ``cached``: the session's base temporary folder, the parent of the workers' own under xdist."""
    base = tmp_path_factory.getbasetemp()
    folder = (base if worker_id == "master" else base.parent) / "shared-cache"
    folder.mkdir(exist_ok=True)
    _disk_cache["dir"] = str(folder)
    yield
    _disk_cache["dir"] = None


def read_json(path):
    """The JSON document at ``path`` (file closed after reading)."""
    import json

    with open(path) as handle:
        return json.load(handle)


def generated_phantom(spec: PhantomSpec):
    """``generate_phantom(spec)``, generated once per test session (``cached``, keyed by every field of the spec).
    The phantom is shared: a test must not change its arrays in place."""
    return cached(f"phantom:{spec!r}", lambda: generate_phantom(spec))


def phantom_for(name: str):
    """The phantom of PHANTOM_CASES[name], generated once per test session."""
    return generated_phantom(PHANTOM_CASES[name])


def distances_inside_occlusion_mm(phantom, points_ras):
    """Distance (mm) of each 0.25 mm sample of the centerline through ``points_ras`` from the phantom's true
    centerline, for the samples whose foot point lies between the true P and D."""
    import numpy as np

    from CTOPlaqueLib.centerline import project_onto_centerline, sample_centerline

    truth = sample_centerline(phantom.centerline_ras, 0.05)
    positions = np.array([project_onto_centerline(truth, p) for p in sample_centerline(points_ras, 0.25).points_ras])
    landmarks = phantom.truth["landmarks_mm"]
    return positions[(positions[:, 0] > landmarks["P"]) & (positions[:, 0] < landmarks["D"]), 1]


def _phantom_digest(phantom, points_ras) -> str:
    """A hash of the phantom's image, its landmarks and ``points_ras`` (the seeds or centerline an analysis uses)."""
    landmarks = sorted(phantom.landmarks_ras)
    digest = hashlib.sha256(repr((phantom.hu.shape, phantom.hu.dtype.str, landmarks)).encode())
    for array in (phantom.hu, phantom.ijk_to_ras, points_ras, *(phantom.landmarks_ras[k] for k in landmarks)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def analyze_from_two_seeds(phantom):
    """What a user does on a phantom: the centerline from two seeds (its ostium and distal end), then the analysis
    with the true landmarks. Returns (centerline points RAS, LesionAnalysis), computed once per test session for
    the same image, seeds and landmarks (``cached``, keyed by a hash of them)."""
    seeds_ras = phantom.centerline_ras[[0, -1]]

    def compute():
        volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
        points = extract_centerline(volume, seeds_ras)
        return points, analyze_lesion(volume, points, phantom.landmarks_ras)

    return cached(f"two-seeds:{_phantom_digest(phantom, seeds_ras)}", compute)


def analyze_on_true_centerline(phantom):
    """The LesionAnalysis of the phantom on its true centerline and landmarks, computed once per test session for
    the same image, centerline and landmarks (``cached``, keyed by a hash of them). Shared: a test must not change
    it."""

    def compute():
        volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
        return analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)

    return cached(f"true-centerline:{_phantom_digest(phantom, phantom.centerline_ras)}", compute)


def write_two_lumens_segmentation(path: str) -> str:
    """A 3x3x3 contours .seg.nrrd (identity IJK->RAS) with a "lumen", a "vessel wall" and a second lumen named
    "Lumen" (a segment added in the Segment Editor under another's name), one voxel each; returns ``path``."""
    from CTOPlaqueLib.segmentation_file import write_labelled_segmentation

    labels = np.zeros((3, 3, 3), np.uint8)
    labels[1, 1, 1], labels[0, 0, 0], labels[2, 2, 2] = 1, 2, 3
    write_labelled_segmentation(path, labels, np.eye(4), [("lumen", "lumen", 1, (1, 0, 0)),
                                                          ("vessel_wall", "vessel wall", 2, (1, 1, 0)),
                                                          ("lumen_1", "Lumen", 3, (1, 0, 0))])
    return path


def preset_phantom(name: str):
    """The phantom of phantom.PRESETS[name] (what ``ctoplaque phantom --shape NAME`` writes), generated once."""
    return generated_phantom(PRESETS[name])


@pytest.fixture(scope="session")
def curved_case_files(tmp_path_factory):
    """The curved phantom written to disk: {"volume", "centerline", "seeds", "landmarks", "truth"} paths."""
    return write_phantom(phantom_for("curved"), str(tmp_path_factory.mktemp("curved_case")))


@pytest.fixture(scope="session")
def mrml_scene():
    """A real MRML scene with the module logics that volumes, markups, segmentations, tables and plots need."""
    from mrml_app import make_scene

    return make_scene()
