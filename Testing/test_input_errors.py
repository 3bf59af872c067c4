"""Real-world input that is not what the analysis needs: each gives a CTOPlaqueInputError from the API and, on the
command line, one ``error: ...`` line, exit status 2 and no output file. Small inputs only (no phantom)."""

import json

import numpy as np
import pytest

from CTOPlaqueLib.centerline_extraction import extract_centerline
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.markups_io import markups_document, read_markups
from CTOPlaqueLib.volume_io import Volume, ijk_to_ras_from_geometry, read_volume, write_volume
from CTOPlaqueStatsLib.command import main

SEEDS_RAS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def _one_error_line(capsys) -> str:
    """The command's stderr, asserted to be one ``error:`` line without a traceback."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _markups_file(tmp_path, edit) -> str:
    """A Slicer point list of two seeds (LPS) changed by ``edit(document)``."""
    document = markups_document("Fiducial", SEEDS_RAS)
    edit(document)
    path = tmp_path / "seeds.mrk.json"
    path.write_text(json.dumps(document))
    return str(path)


def _two_nodes(document):
    document["markups"].append(dict(document["markups"][0], type="Curve"))


def _nan_position(document):
    document["markups"][0]["controlPoints"][1]["position"] = [float("nan"), 0.0, 0.0]


def _two_coordinates(document):
    document["markups"][0]["controlPoints"][0]["position"] = [1.0, 2.0]


def _text_position(document):
    document["markups"][0]["controlPoints"][0]["position"] = "1,2"


def _text_and_boolean_coordinates(document):
    document["markups"][0]["controlPoints"][0]["position"] = ["12.5", True, 0.0]


def _numbers_as_points(document):
    document["markups"][0]["controlPoints"] = [1, 2]


def _number_as_system(document):
    document["markups"][0]["coordinateSystem"] = 0


def _node_is_a_number(document):
    document["markups"] = [3]


@pytest.mark.parametrize("edit, message", [
    (_two_nodes, "holds 2 markups nodes"),
    (_nan_position, "control point 'F-2' has no position of three finite coordinates"),
    (_two_coordinates, "control point 'F-1' has no position of three finite coordinates"),
    (_text_position, "control point 'F-1' has no position"),
    (_text_and_boolean_coordinates, "control point 'F-1' has no position of three finite coordinates"),
    (_numbers_as_points, "controlPoints is not a list of points"),
    (_number_as_system, "unknown coordinateSystem '0'"),
    (_node_is_a_number, "not a Slicer markups JSON file"),
])
def test_malformed_markups_are_an_input_error(tmp_path, edit, message):
    with pytest.raises(CTOPlaqueInputError, match=message):
        read_markups(_markups_file(tmp_path, edit))


def test_markups_extra_fields_and_an_undefined_point_are_read(tmp_path):
    """Slicer 5 writes display, measurements and unplaced (``positionStatus: undefined``) points: read the
    defined ones, converted from LPS to RAS."""
    def extend(document):
        node = document["markups"][0]
        node["measurements"] = [{"name": "length", "enabled": False}]
        node["controlPoints"].append({"label": "F-3", "position": [0.0, 0.0, 0.0], "positionStatus": "undefined"})
        node["controlPoints"][0]["unknownField"] = {"nested": [1, 2]}

    markups = read_markups(_markups_file(tmp_path, extend))
    assert markups.labels == ["F-1", "F-2"]
    np.testing.assert_allclose(markups.points_ras, SEEDS_RAS)


def _small_volume() -> Volume:
    """A 12-voxel cube of 0.5 mm voxels at 300 HU (contrast everywhere: no seed is in air)."""
    return Volume(hu=np.full((12, 12, 12), 300.0, np.float32),
                  ijk_to_ras=ijk_to_ras_from_geometry([0.0, 0.0, 0.0], [0.5, 0.5, 0.5], np.eye(3)))


def test_first_and_last_seed_in_one_voxel_is_an_input_error():
    """Seeds 0.1 mm apart in one 0.5 mm voxel: the path has no length (it used to end in an OverflowError from
    the smoothing)."""
    with pytest.raises(CTOPlaqueInputError, match="first and the last seed lie in the same voxel"):
        extract_centerline(_small_volume(), [[2.0, 2.0, 2.0], [2.1, 2.0, 2.0], [2.05, 2.0, 2.0]])


def test_nan_seed_on_the_command_line(tmp_path, capsys):
    volume = _small_volume()
    volume_path = str(tmp_path / "ct.nrrd")
    write_volume(volume_path, volume.hu, volume.ijk_to_ras)
    out = tmp_path / "centerline.mrk.json"
    seeds = _markups_file(tmp_path, _nan_position)
    assert main(["centerline", volume_path, "--seeds", seeds, "--out", str(out)]) == 2
    assert "control point 'F-2' has no position" in _one_error_line(capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ct.nrrd", "seeds.mrk.json"]


def test_manifest_not_in_utf8_on_the_command_line(tmp_path, capsys):
    """Excel's plain "CSV" is Windows-1252: an accented path in it is not UTF-8 (it raised UnicodeDecodeError)."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes("lesion_id,patient_id,volume,landmarks,seeds\nL1,P1,Müller/ct.nrrd,l.mrk.json,s.mrk.json\n"
                         .encode("cp1252"))
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--out", str(out)]) == 2
    assert "not a UTF-8 CSV file" in _one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("shape_kji", [(1, 16, 16), (3, 16, 16), (16, 16, 2)])
def test_a_slice_or_a_few_is_not_a_volume(tmp_path, shape_kji):
    """One DICOM slice read as a volume got a made-up 1 mm slice spacing; 2-3 slices ended in ITK's 'fewer than
    four pixels' RuntimeError from the smoothing. Four voxels along each axis is the least that is read."""
    path = str(tmp_path / "slice.nrrd")
    write_volume(path, np.zeros(shape_kji, np.int16), np.eye(4))
    with pytest.raises(CTOPlaqueInputError, match=r"is \d+ x \d+ x \d+ voxels: a CCTA volume is needed"):
        read_volume(path)
    write_volume(path, np.zeros((4, 4, 4), np.int16), np.eye(4))
    assert read_volume(path).hu.shape == (4, 4, 4)


def test_a_study_folder_is_told_to_point_at_the_series(tmp_path):
    """A user gives the study folder; the series' files are one level down, which GDCM does not search."""
    (tmp_path / "study" / "series 1").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CTOPlaqueInputError, match=r"study \(its subfolders are not searched: give the folder"):
        read_volume(str(tmp_path / "study"))
    with pytest.raises(CTOPlaqueInputError, match=r"no DICOM series found in folder \S+empty$"):
        read_volume(str(tmp_path / "empty"))
