"""Integer volumes are kept as int16 (half the memory of float32): every number computed from them equals the one
computed from the same HU held as float32, bit for bit (the independent implementation is the float32 path)."""

import hashlib

import numpy as np
import pytest
from conftest import analyze_from_two_seeds, phantom_for

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline_extraction import ExtractionParameters, SeedContrast, extract_centerline
from CTOPlaqueLib.export import array_provenance
from CTOPlaqueLib.straightening import straighten
from CTOPlaqueLib.volume_io import Volume, read_volume, write_volume


@pytest.mark.parametrize("dtype, read_as", [(np.int16, np.int16), (np.uint8, np.int16), (np.float32, np.float32),
                                            (np.int32, np.float32)])
def test_integer_hu_that_int16_holds_are_read_as_int16(tmp_path, dtype, read_as):
    """int8/uint8/int16 files are read as int16, every other type as float32, with the file's values."""
    array = (np.arange(4 * 5 * 6).reshape(4, 5, 6) * 7 % 250).astype(dtype)
    path = str(tmp_path / "volume.nrrd")
    write_volume(path, array, np.eye(4))
    volume = read_volume(path)
    assert volume.hu.dtype == read_as
    np.testing.assert_array_equal(volume.hu, array)


def test_a_volume_node_hashes_as_its_float32_values_whatever_type_holds_them():
    """The panel's provenance of a volume is the SHA-256 of its values as float32 (what it was before int16 volumes),
    for an int16 volume too; other arrays hash as they are."""
    hu = (np.arange(3 * 4 * 5).reshape(3, 4, 5) * 37 % 900 - 100).astype(np.int16)
    as_float32 = hashlib.sha256(hu.astype(np.float32).tobytes()).hexdigest()
    assert array_provenance("CT", hu, np.float32)["sha256_values"] == as_float32
    assert array_provenance("CT", hu.astype(np.float32), np.float32)["sha256_values"] == as_float32
    assert array_provenance("CT", hu)["sha256_values"] == hashlib.sha256(hu.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def curved_both():
    """The curved phantom as float32 and as int16 volumes, and the float32 path's centerline and analysis from two
    seeds (shared with the other test modules)."""
    phantom = phantom_for("curved")
    assert phantom.hu.dtype == np.int16
    as_float = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    as_int16 = Volume(phantom.hu, phantom.ijk_to_ras)
    return phantom, as_float, as_int16, analyze_from_two_seeds(phantom)


def test_seed_contrast_smoothing_is_the_same_on_int16(curved_both):
    """The smoothed HU the contrast regions are cut from are not rounded to integers on an int16 crop."""
    phantom, as_float, as_int16, _ = curved_both
    seeds_kji = np.round((phantom.centerline_ras[[0, -1]] @ np.linalg.inv(phantom.ijk_to_ras)[:3, :3].T
                          + np.linalg.inv(phantom.ijk_to_ras)[:3, 3])[:, ::-1]).astype(int)
    spacing_kji = as_float.spacing_mm[::-1]
    params = ExtractionParameters()
    from_float = SeedContrast.around(as_float.hu, seeds_kji, spacing_kji, params)
    from_int16 = SeedContrast.around(as_int16.hu, seeds_kji, spacing_kji, params)
    assert from_int16.smoothed.dtype == np.float32
    np.testing.assert_array_equal(from_int16.smoothed, from_float.smoothed)
    np.testing.assert_array_equal(from_int16.labels, from_float.labels)


def test_centerline_analysis_and_straightened_vessel_are_the_same_on_int16(curved_both):
    """Centerline from two seeds, every contour radius and volume, and the straightened image equal the float32
    path's exactly."""
    phantom, as_float, as_int16, (points_ras, analysis) = curved_both
    points_int16 = extract_centerline(as_int16, phantom.centerline_ras[[0, -1]])
    np.testing.assert_array_equal(points_int16, points_ras)
    from_int16 = analyze_lesion(as_int16, points_int16, phantom.landmarks_ras)
    np.testing.assert_array_equal(from_int16.lumen_radii_mm, analysis.lumen_radii_mm)
    np.testing.assert_array_equal(from_int16.vessel_radii_mm, analysis.vessel_radii_mm)
    assert from_int16.total_plaque_volume_mm3 == analysis.total_plaque_volume_mm3
    straight_float, straight_int16 = straighten(as_float, analysis), straighten(as_int16, analysis)
    assert straight_int16.hu.dtype == np.float32
    np.testing.assert_array_equal(straight_int16.hu, straight_float.hu)
