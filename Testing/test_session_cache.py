"""The test session's cache (conftest.cached): what a worker reads from it is what generating and analysing afresh
gives, bit for bit, and it is computed once for all workers."""

import dataclasses

import conftest
import numpy as np
import pytest
from conftest import analyze_from_two_seeds, generated_phantom

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline_extraction import extract_centerline
from CTOPlaqueLib.phantom import PhantomSpec, generate_phantom
from CTOPlaqueLib.volume_io import Volume

# A short vessel on a coarse grid: seconds to generate and to analyse.
SPEC = PhantomSpec(proximal_mm=7.0, occlusion_length_mm=8.0, distal_mm=7.0, spacing_mm=(0.6, 0.6, 0.6), margin_mm=5.0,
                   seed=5)


@pytest.fixture(scope="module")
def fresh():
    """The phantom of SPEC generated here, outside the cache."""
    return generate_phantom(SPEC)


@pytest.fixture()
def other_worker(monkeypatch, tmp_path):
    """The cache as a fresh xdist worker of the same session sees it: nothing in memory, the session's folder on
    disk (here an empty one)."""
    monkeypatch.setattr(conftest, "_cache", {})
    monkeypatch.setitem(conftest._disk_cache, "dir", str(tmp_path))
    return lambda: monkeypatch.setattr(conftest, "_cache", {})


def _assert_same(a, b):
    """Equal, arrays element for element, through dataclasses, dicts, lists and tuples."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b)
        for field in dataclasses.fields(a):
            _assert_same(getattr(a, field.name), getattr(b, field.name))
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, (np.ndarray, float)):
        np.testing.assert_array_equal(a, b)  # NaN equals NaN
    else:
        assert a == b


def test_cached_phantom_and_two_seed_analysis_equal_fresh_ones(other_worker, tmp_path, fresh):
    written = generated_phantom(SPEC)
    _, written_result = analyze_from_two_seeds(written)
    assert len(list(tmp_path.glob("*.pickle"))) == 2
    other_worker()
    phantom = generated_phantom(SPEC)
    points, result = analyze_from_two_seeds(phantom)
    assert phantom is not written and result is not written_result  # read from disk, not this process's memory

    _assert_same(phantom, fresh)
    volume = Volume(fresh.hu.astype(np.float32), fresh.ijk_to_ras)
    fresh_points = extract_centerline(volume, fresh.centerline_ras[[0, -1]])
    np.testing.assert_array_equal(points, fresh_points)
    fresh_result = analyze_lesion(volume, fresh_points, fresh.landmarks_ras)
    _assert_same(result, fresh_result)
    assert result.total_plaque_volume_mm3 == fresh_result.total_plaque_volume_mm3
    assert result.warnings == fresh_result.warnings


def test_each_key_is_computed_once_across_workers(other_worker):
    calls = []
    assert conftest.cached("k", lambda: calls.append(1) or 42) == 42
    other_worker()
    assert conftest.cached("k", lambda: calls.append(1) or 43) == 42
    assert conftest.cached("other", lambda: calls.append(1) or 7) == 7
    assert len(calls) == 2


def test_the_two_seed_key_is_the_image_not_the_spec(monkeypatch, fresh):
    """A phantom whose image differs from its spec's (a test that changed a copy) is analysed, not looked up; an
    equal copy is looked up."""
    keys = []
    monkeypatch.setattr(conftest, "cached", lambda key, compute: keys.append(key))
    changed = dataclasses.replace(fresh, hu=fresh.hu.copy())
    changed.hu[0, 0, 0] += 1
    for case in (fresh, changed, dataclasses.replace(fresh, hu=fresh.hu.copy())):
        analyze_from_two_seeds(case)
    assert keys[0] != keys[1] and keys[0] == keys[2]
