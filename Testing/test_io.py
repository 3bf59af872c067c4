"""Volume and markups files: formats, geometry, HU rescaling and LPS/RAS conventions."""

import json
import os

import numpy as np
import pytest
import SimpleITK as sitk

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.markups_io import landmarks_by_label, markups_document, read_markups
from CTOPlaqueLib.volume_io import ijk_to_ras_from_geometry, read_volume, write_volume

OBLIQUE = np.array([[0.0, -1.0, 0.0], [0.8, 0.0, 0.6], [-0.6, 0.0, 0.8]])


def _test_volume():
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1500, size=(6, 7, 8)).astype(np.int16)
    return array, ijk_to_ras_from_geometry([-12.5, 30.0, 101.0], [0.4, 0.45, 0.6], OBLIQUE)


@pytest.mark.parametrize("extension", [".nrrd", ".nii.gz", ".mha"])
def test_volume_round_trip_keeps_values_and_ras_geometry(tmp_path, extension):
    array, ijk_to_ras = _test_volume()
    path = str(tmp_path / f"ct{extension}")
    write_volume(path, array, ijk_to_ras)
    volume = read_volume(path)
    np.testing.assert_array_equal(volume.hu, array.astype(np.float32))
    np.testing.assert_allclose(volume.ijk_to_ras, ijk_to_ras, atol=1e-5)


def test_nrrd_header_is_lps_as_slicer_writes_it(tmp_path):
    """RAS origin (-12.5, 30, 101) must be stored as LPS (12.5, -30, 101)."""
    array, ijk_to_ras = _test_volume()
    path = str(tmp_path / "ct.nrrd")
    write_volume(path, array, ijk_to_ras)
    assert sitk.ReadImage(path).GetOrigin() == pytest.approx((12.5, -30.0, 101.0))


def test_dicom_series_rescale_slope_and_intercept_give_hu(tmp_path):
    """Stored pixels are (HU + 1024) / 2 with slope 2 and intercept -1024; reading must give HU."""
    hu = (np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 40)
    folder = tmp_path / "dicom"
    folder.mkdir()
    for index, plane in enumerate(hu):
        image = sitk.GetImageFromArray(plane[None])
        image.SetSpacing((0.5, 0.5, 0.625))
        image.SetOrigin((0.0, 0.0, 0.625 * index))
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        for tag, value in {"0008|0060": "CT", "0020|000e": "1.2.826.0.1.3680043.2.1125.1.1",
                           "0020|000d": "1.2.826.0.1.3680043.2.1125.1.2", "0020|0013": str(index + 1),
                           "0020|0032": f"0\\0\\{0.625 * index}", "0020|0037": "1\\0\\0\\0\\1\\0",
                           "0008|0018": f"1.2.826.0.1.3680043.2.1125.1.3.{index}",
                           "0028|1052": "-1024", "0028|1053": "2", "0028|1054": "HU"}.items():
            image.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{index:03d}.dcm"))
        writer.Execute(image)
    stored = np.frombuffer((folder / "slice000.dcm").read_bytes()[-2 * 20:], "<u2")
    np.testing.assert_array_equal(stored, (hu[0].ravel() + 1024) // 2)  # pixel data ends the file
    volume = read_volume(str(folder))
    np.testing.assert_allclose(volume.hu, hu.astype(np.float32))
    assert volume.spacing_mm == pytest.approx([0.5, 0.5, 0.625])


def test_unreadable_volume_is_a_clear_input_error(tmp_path):
    path = tmp_path / "notes.nrrd"
    path.write_text("this is not an image")
    with pytest.raises(CTOPlaqueInputError, match="cannot read"):
        read_volume(str(path))
    with pytest.raises(CTOPlaqueInputError, match="not found"):
        read_volume(str(tmp_path / "missing.nrrd"))


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_markups_in_either_coordinate_system_read_as_ras(tmp_path, system):
    points_ras = np.array([[1.0, 2.0, 3.0], [-4.0, 5.5, -6.0]])
    path = tmp_path / "points.mrk.json"
    path.write_text(json.dumps(markups_document("Fiducial", points_ras, ["P", "D"], coordinate_system=system)))
    markups = read_markups(str(path))
    np.testing.assert_allclose(markups.points_ras, points_ras)
    stored = json.loads(path.read_text())["markups"][0]["controlPoints"][0]["position"]
    assert stored == ([-1.0, -2.0, 3.0] if system == "LPS" else [1.0, 2.0, 3.0])


def test_landmark_labels_required_and_unique():
    from CTOPlaqueLib.markups_io import Markups

    points = np.zeros((3, 3))
    assert set(landmarks_by_label(Markups("Fiducial", ["p", "D", "S"], points))) == {"P", "D", "S"}
    with pytest.raises(CTOPlaqueInputError, match="missing landmark D"):
        landmarks_by_label(Markups("Fiducial", ["P", "X", "S"], points))
    with pytest.raises(CTOPlaqueInputError, match="more than once"):
        landmarks_by_label(Markups("Fiducial", ["P", "D", "P"], points))


def test_markups_file_that_is_not_markups(tmp_path):
    path = tmp_path / "bad.mrk.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(CTOPlaqueInputError, match="not a Slicer markups"):
        read_markups(str(path))
    assert not os.path.exists(tmp_path / "missing.mrk.json")
    with pytest.raises(CTOPlaqueInputError, match="not found"):
        read_markups(str(tmp_path / "missing.mrk.json"))
