"""The ctoplaque command line end to end: outputs on the sample case, and bad input."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.integrate import trapezoid

from CTOPlaqueStatsLib.command import main
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.markups_io import markups_document, read_markups
from CTOPlaqueLib.quality import warning_kinds
from CTOPlaqueLib.staging import write_json
from conftest import read_json


@pytest.fixture(scope="module")
def analyzed_case(curved_case_files, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cli") / "results")
    status = main(["analyze", curved_case_files["volume"], "--centerline", curved_case_files["centerline"],
                   "--landmarks", curved_case_files["landmarks"], "--out", out,
                   "--lesion-id", "LAD-1", "--patient-id", "P007"])
    assert status == 0
    return out, curved_case_files


def test_all_outputs_written(analyzed_case):
    out, _ = analyzed_case
    assert sorted(os.listdir(out)) == sorted(f"LAD-1{suffix}" for suffix in (
        ".lesion.json", ".lesion.csv", ".profile.csv", ".composition.seg.nrrd", ".profile.png",
        ".straightened.png", ".report.html", ".contours.seg.nrrd"))


def test_lesion_json_schema_and_truth(analyzed_case):
    out, files = analyzed_case
    document = read_json(os.path.join(out, "LAD-1.lesion.json"))
    truth = read_json(files["truth"])
    assert document["schema"] == "ctoplaque.lesion/1"
    assert (document["lesion_id"], document["patient_id"]) == ("LAD-1", "P007")
    assert document["occlusion_length_mm"] == pytest.approx(truth["occlusion_length_mm"], abs=0.5)
    assert document["total_plaque_volume_mm3"] == pytest.approx(truth["total_plaque_volume_mm3"], rel=0.1)
    assert set(document["volumes_mm3"]) == set(COMPONENTS) == set(document["pav_percent"])
    assert document["thresholds_hu"]["fibrous"] == [131, 350]
    assert set(document["landmarks_mm"]) == {"P", "D", "S", "E"}
    assert set(document["reference"]) == {"S", "E"}
    assert document["software"]["name"] == "CTOPlaque"
    import hashlib
    assert document["inputs"]["volume"] == {
        "file": "ccta.nrrd", "sha256": hashlib.sha256(open(files["volume"], "rb").read()).hexdigest()}


def test_flat_row_repeats_the_json_numbers(analyzed_case):
    out, _ = analyzed_case
    document = read_json(os.path.join(out, "LAD-1.lesion.json"))
    rows = list(csv.DictReader(open(os.path.join(out, "LAD-1.lesion.csv"))))
    assert len(rows) == 1
    row = rows[0]
    assert float(row["occlusion_length_mm"]) == pytest.approx(document["occlusion_length_mm"])
    assert float(row["total_plaque_volume_mm3"]) == pytest.approx(document["total_plaque_volume_mm3"])
    for name in COMPONENTS:
        assert float(row[f"{name}_volume_mm3"]) == pytest.approx(document["volumes_mm3"][name])
        assert float(row[f"{name}_pav"]) == pytest.approx(document["pav_percent"][name])


def test_rounded_for_export_keeps_what_the_method_resolves():
    """Issue 25: 21.999999979150196 mm in the CSV. Decimals by the unit of the key (or its parent's), worked by hand;
    settings, thresholds, text, flags and integers untouched."""
    from CTOPlaqueLib.export import rounded_for_export

    document = {"occlusion_length_mm": 21.999999979150196, "total_plaque_volume_mm3": 458.63567,
                "volumes_mm3": {"fibrous": 145.17024, "dense_calcium": 0.04}, "pav_percent": {"fibrous": 31.65263},
                "noncalcified_pav_percent": 98.36878,
                "reference": {"S": {"lumen_area_mm2": 7.765589, "lumen_hu": 389.61328, "position_mm": -1e-9}},
                "morphology": {"max_bending_deg": 16.37021, "proximal_cap_slope_per_mm": 0.2684955,
                               "bending_gt_45": False, "proximal_cap": "tapered"},
                "quality": {"reference_fat_edge_fraction": {"S": 0.473765}, "occlusion_min_local_area_ratio": 0.98158,
                            "blur_sigma_mm": 0.3596796, "proximal_lumen_edge_slope_hu_per_mm": 143.6172,
                            "proximal_lumen_area_uncertainty_fraction": 0.0834127},
                "thresholds_hu": {"necrotic_core": [-30.25, 75.0]}, "settings": {"step_mm": 0.123456},
                "scores": {"J-CTO": {"total": 2}}, "warnings": ["x"], "profile": [{"distance_mm": 0.12345}]}
    assert rounded_for_export(document) == {
        "occlusion_length_mm": 22.0, "total_plaque_volume_mm3": 458.6,
        "volumes_mm3": {"fibrous": 145.2, "dense_calcium": 0.0}, "pav_percent": {"fibrous": 31.7},
        "noncalcified_pav_percent": 98.4, "reference": {"S": {"lumen_area_mm2": 7.77, "lumen_hu": 390.0,
                                                              "position_mm": 0.0}},
        "morphology": {"max_bending_deg": 16.4, "proximal_cap_slope_per_mm": 0.268, "bending_gt_45": False,
                       "proximal_cap": "tapered"},
        "quality": {"reference_fat_edge_fraction": {"S": 0.474}, "occlusion_min_local_area_ratio": 0.982,
                    "blur_sigma_mm": 0.36, "proximal_lumen_edge_slope_hu_per_mm": 144.0,
                    "proximal_lumen_area_uncertainty_fraction": 0.083},
        "thresholds_hu": {"necrotic_core": [-30.25, 75.0]}, "settings": {"step_mm": 0.123456},
        "scores": {"J-CTO": {"total": 2}}, "warnings": ["x"], "profile": [{"distance_mm": 0.12}]}
    assert str(rounded_for_export({"position_mm": -1e-9})["position_mm"]) == "0.0"  # never "-0.0"


def test_files_carry_no_spurious_digits(analyzed_case):
    """Every number in lesion.csv and profile.csv has at most the decimals of its unit (lengths and areas 2, volumes
    and PAV 1...), and none more than 3."""
    from CTOPlaqueLib.export import export_decimals

    out, _ = analyzed_case
    for name in ("LAD-1.lesion.csv", "LAD-1.profile.csv"):
        rows = list(csv.DictReader(open(os.path.join(out, name), encoding="utf-8")))
        for row in rows:
            for column, cell in row.items():
                if cell.replace(".", "", 1).lstrip("-").isdigit():
                    decimals = len(cell.partition(".")[2])
                    assert decimals <= 3 and decimals <= max(1, export_decimals(column) or 3), (name, column, cell)
    assert read_json(os.path.join(out, "LAD-1.lesion.json"))["occlusion_length_mm"] == 22.0  # was 21.999999979150196


def test_profile_integrates_to_the_lesion_volume_on_this_gently_curved_vessel(analyzed_case):
    """Sum of plaque area x step over P..D equals the volume up to the curvature factor (<1% here)."""
    out, _ = analyzed_case
    document = read_json(os.path.join(out, "LAD-1.lesion.json"))
    rows = list(csv.DictReader(open(os.path.join(out, "LAD-1.profile.csv"))))
    distance = np.array([float(r["distance_mm"]) for r in rows])
    area = np.array([float(r["vessel_area_mm2"]) for r in rows])
    p, d = document["landmarks_mm"]["P"], document["landmarks_mm"]["D"]
    inside = (distance >= p) & (distance <= d)
    assert trapezoid(area[inside], distance[inside]) == pytest.approx(
        document["total_plaque_volume_mm3"], rel=0.02)
    assert {int(r["in_occlusion"]) for r in rows} == {0, 1}


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "CTOPlaqueStatsLib.command", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(os.sys.path)})


def _moved_landmarks(files, tmp_path, label, shift_ras):
    markups = read_markups(files["landmarks"])
    points = markups.points_ras.copy()
    points[markups.labels.index(label)] += shift_ras
    path = str(tmp_path / f"moved_{label}.mrk.json")
    write_json(path, markups_document("Fiducial", points, markups.labels))
    return path


def _swapped_landmarks(files, tmp_path):
    markups = read_markups(files["landmarks"])
    labels = [{"P": "D", "D": "P"}.get(label, label) for label in markups.labels]
    path = str(tmp_path / "swapped.mrk.json")
    write_json(path, markups_document("Fiducial", markups.points_ras, labels))
    return path


def _without_label(files, tmp_path, label):
    markups = read_markups(files["landmarks"])
    keep = [i for i, name in enumerate(markups.labels) if name != label]
    path = str(tmp_path / "without.mrk.json")
    write_json(path, markups_document("Fiducial", markups.points_ras[keep], [markups.labels[i] for i in keep]))
    return path


def _shifted_centerline(files, tmp_path):
    markups = read_markups(files["centerline"])
    path = str(tmp_path / "far.mrk.json")
    write_json(path, markups_document("Curve", markups.points_ras + [300.0, 0.0, 0.0]))
    return path


@pytest.mark.parametrize("case, message", [
    ("not_an_image", "cannot read"),
    ("missing_label", "missing landmark D"),
    ("landmark_off_vessel", "landmark S (proximal reference section) is 7.0 mm from the centerline"),
    ("p_distal_to_d", "landmark P (proximal occlusion cap) lies 22.0 mm distal to D"),
    ("vessel_not_in_volume", "does not contain this vessel"),
    ("bad_lesion_id", "lesion ID"),
])
def test_bad_input_one_line_exit_2_nothing_written(curved_case_files, tmp_path, case, message):
    files = curved_case_files
    volume, centerline, landmarks, extra = files["volume"], files["centerline"], files["landmarks"], []
    if case == "not_an_image":
        volume = str(tmp_path / "report.nrrd")
        open(volume, "w").write("not an image\n")
    elif case == "missing_label":
        landmarks = _without_label(files, tmp_path, "D")
    elif case == "landmark_off_vessel":
        centre = read_markups(files["centerline"]).points_ras
        normal = np.cross(centre[10] - centre[8], [0.3, 0.5, 0.8])
        landmarks = _moved_landmarks(files, tmp_path, "S", 7.0 * normal / np.linalg.norm(normal))
    elif case == "p_distal_to_d":
        landmarks = _swapped_landmarks(files, tmp_path)
    elif case == "vessel_not_in_volume":
        centerline = _shifted_centerline(files, tmp_path)
    elif case == "bad_lesion_id":
        extra = ["--lesion-id", "../evil"]
    out = tmp_path / "out"
    result = _run_cli("analyze", volume, "--centerline", centerline, "--landmarks", landmarks, "--out", str(out),
                      *extra)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".ctoplaque-staging")]


def test_centerline_landmarks_and_analyze_from_seeds(curved_case_files, tmp_path):
    """The three-step workflow from seeds: centerline, proposed landmarks, analysis (curve saved beside)."""
    files = curved_case_files
    curve = str(tmp_path / "centerline.mrk.json")
    assert main(["centerline", files["volume"], "--seeds", files["seeds"], "--out", curve]) == 0
    proposal = str(tmp_path / "proposal.mrk.json")
    assert main(["landmarks", files["volume"], "--centerline", curve, "--out", proposal]) == 0
    assert read_markups(proposal).labels == ["S", "P", "D", "E"]
    out = tmp_path / "from_seeds"
    assert main(["analyze", files["volume"], "--seeds", files["seeds"], "--landmarks", files["landmarks"],
                 "--out", str(out), "--lesion-id", "L2"]) == 0
    document = read_json(out / "L2.lesion.json")
    truth = read_json(files["truth"])
    assert read_markups(str(out / "L2.centerline.mrk.json")).markup_type == "Curve"
    assert document["total_plaque_volume_mm3"] == pytest.approx(truth["total_plaque_volume_mm3"], rel=0.1)
    assert document["morphology"]["proximal_cap"] == "tapered"
    assert set(document["inputs"]) == {"volume", "seeds", "landmarks"}


def test_centerline_with_one_seed_is_an_input_error(curved_case_files, tmp_path):
    seeds = read_markups(curved_case_files["seeds"])
    one = str(tmp_path / "one.mrk.json")
    write_json(one, markups_document("Fiducial", seeds.points_ras[:1]))
    result = _run_cli("centerline", curved_case_files["volume"], "--seeds", one, "--out", str(tmp_path / "c.mrk.json"))
    assert result.returncode == 2 and result.stderr.startswith("error: place at least two seeds")
    assert not (tmp_path / "c.mrk.json").exists()


def test_realistic_case_from_phantom_to_analysis_with_two_seeds(tmp_path):
    """`phantom --shape heart` (myocardium inside the bend, vein beside, branches, cap calcium, CT noise,
    0.75 mm slices), then `analyze --seeds` with the ostium and the distal end only."""
    case = tmp_path / "heart"
    assert main(["phantom", "--shape", "heart", "--out", str(case)]) == 0
    assert len(read_markups(str(case / "seeds.mrk.json")).points_ras) == 2
    result = _run_cli("analyze", str(case / "ccta.nrrd"), "--seeds", str(case / "seeds.mrk.json"),
                      "--landmarks", str(case / "landmarks.mrk.json"), "--out", str(tmp_path / "out"),
                      "--lesion-id", "H1")
    assert result.returncode == 0, result.stderr
    document = read_json(tmp_path / "out" / "H1.lesion.json")
    truth = read_json(case / "truth.json")
    assert document["occlusion_length_mm"] == pytest.approx(truth["occlusion_length_mm"], abs=0.5)
    assert document["total_plaque_volume_mm3"] == pytest.approx(truth["total_plaque_volume_mm3"], rel=0.08)
    assert set(document["quality"]) >= {"occlusion_fat_edge_fraction", "occlusion_contrast_fraction",
                                        "lumen_proximal", "lumen_distal", "reference_wall_resolved"}
    warning_lines = [line[len("warning: "):] for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warning_lines == document["warnings"] and warning_lines  # thin walls at S and E at least
    with open(tmp_path / "out" / "H1.lesion.csv", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert float(row["quality_occlusion_fat_edge_fraction"]) == pytest.approx(
        document["quality"]["occlusion_fat_edge_fraction"])
    assert row["quality_reference_S_wall_resolved"] in ("0", "1")
    assert row["warnings"] == " | ".join(document["warnings"])


def test_unknown_phantom_shape_is_a_usage_error(tmp_path):
    result = _run_cli("phantom", "--shape", "torus", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "invalid choice: 'torus'" in result.stderr
    assert not (tmp_path / "x").exists()


def test_centerline_and_landmark_verbs_follow_the_settings_file(curved_case_files, tmp_path):
    """`centerline` and `landmarks` read --settings as `analyze` does: the extraction's control-point spacing,
    and the lumen test of the proposal (no section is a lumen under a 5000 HU floor, so no occlusion can be
    told), where before they ran on the defaults whatever the file said."""
    files = curved_case_files
    sparse = tmp_path / "sparse.json"
    write_json(str(sparse), {"centerline": {"control_point_spacing_mm": 2.0}})
    curves = {}
    for name, extra in (("default", []), ("sparse", ["--settings", str(sparse)])):
        curves[name] = str(tmp_path / f"{name}.mrk.json")
        assert main(["centerline", files["volume"], "--seeds", files["seeds"], "--out", curves[name], *extra]) == 0
    spacing = {name: np.median(np.linalg.norm(np.diff(read_markups(path).points_ras, axis=0), axis=1))
               for name, path in curves.items()}
    assert spacing["default"] == pytest.approx(1.0, abs=0.05) and spacing["sparse"] == pytest.approx(2.0, abs=0.1)

    blind = tmp_path / "blind.json"
    write_json(str(blind), {"contour": {"lumen_min_hu": 5000}})
    out = tmp_path / "proposal.mrk.json"
    result = _run_cli("landmarks", files["volume"], "--centerline", curves["default"], "--out", str(out),
                      "--settings", str(blind))
    assert result.returncode == 2 and result.stderr.startswith("error: no occlusion found")
    assert not out.exists()
    write_json(str(blind), {"contour": {"lumen_floor_hu": 5000}})
    result = _run_cli("centerline", files["volume"], "--seeds", files["seeds"], "--out", str(out),
                      "--settings", str(blind))
    assert result.returncode == 2 and "lumen_floor_hu" in result.stderr and len(result.stderr.splitlines()) == 1


def _run_main(capsys, *args):
    """Exit status and stderr lines of ``ctoplaque ARGS`` run in this process."""
    status = main(list(args))
    return status, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("verb, taken", [
    ("analyze", "file"), ("analyze --dicom-out", "file"), ("batch", "file"), ("phantom", "file"),
    ("stats", "file"), ("icc", "file"), ("centerline", "folder"), ("landmarks", "folder"), ("cohort", "folder"),
    ("centerline", "below a file"),
])
def test_out_that_cannot_be_written_is_one_error_line_before_any_work(curved_case_files, tmp_path, capsys,
                                                                      verb, taken):
    """Every verb's --out (and --dicom-out) naming an existing file where a folder is written, an existing folder
    where a file is written, or a path below a file: exit 2, one line naming the path, the file untouched."""
    files = curved_case_files
    existing_file = tmp_path / "taken.txt"
    existing_file.write_text("keep me\n")
    target = {"file": existing_file, "folder": tmp_path, "below a file": existing_file / "sub" / "c.mrk.json"}[taken]
    out = str(tmp_path / "fresh") if verb == "analyze --dicom-out" else str(target)
    arguments = {
        "analyze": ["analyze", files["volume"], "--centerline", files["centerline"], "--landmarks", files["landmarks"]],
        "analyze --dicom-out": ["analyze", files["volume"], "--centerline", files["centerline"],
                                "--landmarks", files["landmarks"], "--dicom-out", str(target)],
        "batch": ["batch", str(tmp_path / "manifest.csv")],
        "phantom": ["phantom"],
        "stats": ["stats", "cohort.csv", "--outcome", "success", "--predictors", "age"],
        "icc": ["icc", "ratings.csv", "--target", "lesion_id", "--rater", "observer", "--value", "pav"],
        "centerline": ["centerline", files["volume"], "--seeds", files["seeds"]],
        "landmarks": ["landmarks", files["volume"], "--centerline", files["centerline"]],
        "cohort": ["cohort", str(tmp_path)],
    }[verb]
    status, lines = _run_main(capsys, *arguments, "--out", out)
    assert status == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(target) in lines[0]
    assert existing_file.read_text() == "keep me\n"
    assert sorted(os.listdir(tmp_path)) == ["taken.txt"]


@pytest.mark.parametrize("verb, option, given, expected", [
    ("analyze", "--centerline", "landmarks", "an open curve"),
    ("landmarks", "--centerline", "seeds", "an open curve"),
    ("analyze", "--landmarks", "centerline", "a point list"),
])
def test_markups_of_the_wrong_kind_are_refused(curved_case_files, tmp_path, capsys, verb, option, given, expected):
    """A point list given as the centerline (distances would be measured along straight lines from its first
    point, S) or a curve given as the landmarks: exit 2, one line saying what was given and what is expected."""
    files = dict(curved_case_files)
    files[option[2:]] = curved_case_files[given]
    out = tmp_path / ("out" if verb == "analyze" else "out.mrk.json")
    arguments = [verb, files["volume"], "--centerline", files["centerline"], "--out", str(out)]
    if verb == "analyze":
        arguments += ["--landmarks", files["landmarks"]]
    status, lines = _run_main(capsys, *arguments)
    kind = "a point list" if given != "centerline" else "an open curve"
    assert status == 2
    assert lines == [f"error: {option[2:]} {curved_case_files[given]} is {kind}; {expected} is expected here"]
    assert not out.exists()


@pytest.mark.parametrize("spacing", ["0", "0.5,0.5", "fine", "2"])
def test_phantom_spacing_out_of_range_is_an_input_error(tmp_path, capsys, spacing):
    status, lines = _run_main(capsys, "phantom", "--out", str(tmp_path / "case"), "--spacing-mm", spacing)
    assert status == 2
    assert lines == [f"error: --spacing-mm {spacing!r}: give one voxel size or three (x,y,z), each 0.2..1 mm"]
    assert not (tmp_path / "case").exists()
def _contours_variant(path, tmp_path, case):
    """A contours file made from ``path`` (the run's own): without its wall segment, moved out of the volume, or
    with its segments moved 6 mm off the vessel on the same grid."""
    from CTOPlaqueLib.contour_masks import ContourMasks, read_contour_segmentation, write_contour_segmentation
    from CTOPlaqueLib.segmentation_file import write_labelled_segmentation

    masks = read_contour_segmentation(path)
    out = str(tmp_path / f"{case}.seg.nrrd")
    if case == "lacks_wall":
        write_labelled_segmentation(out, masks.labels, masks.ijk_to_ras, [("lumen", "lumen", 1, (1.0, 0.0, 0.0))])
        return out
    if case == "other_series":
        moved = masks.ijk_to_ras.copy()
        moved[:3, 3] += [0.0, 0.0, 300.0]
        masks = ContourMasks(masks.labels, moved)
    else:
        step_mm = np.linalg.norm(masks.ijk_to_ras[:3, 0])
        masks = ContourMasks(np.roll(masks.labels, int(round(6.0 / step_mm)), axis=2), masks.ijk_to_ras)
    write_contour_segmentation(out, masks)
    return out


def test_analyze_with_its_own_contours_measures_the_same(analyzed_case, tmp_path):
    """--contours with the run's own ID.contours.seg.nrrd: not an edit, the file's hash recorded, the plaque
    volume within 1% and each PAV within 0.5 pp of the automatic run's."""
    out, files = analyzed_case
    contours = os.path.join(out, "LAD-1.contours.seg.nrrd")
    again = str(tmp_path / "again")
    assert main(["analyze", files["volume"], "--centerline", files["centerline"], "--landmarks", files["landmarks"],
                 "--out", again, "--lesion-id", "LAD-1", "--contours", contours]) == 0
    first, second = (read_json(os.path.join(folder, "LAD-1.lesion.json")) for folder in (out, again))
    import hashlib
    sha256 = hashlib.sha256(open(contours, "rb").read()).hexdigest()
    automatic = {key: first[key] for key in ("total_plaque_volume_mm3", "vessel_volume_mm3", "volumes_mm3",
                                             "pav_percent")}
    automatic["reference"] = {label: {k: v[k] for k in ("lumen_area_mm2", "vessel_area_mm2")}
                              for label, v in first["reference"].items()}
    automatic["warning_kinds"] = warning_kinds(first["quality"])
    assert second["contours"] == {"source": "LAD-1.contours.seg.nrrd", "sha256": sha256, "edited": False,
                                  "edited_ranges_mm": [], "automatic": automatic}
    assert len(second["contours"]["automatic"]["warning_kinds"]) == len(first["warnings"])
    assert first["contours"] == {"source": "automatic", "edited": False}
    assert second["inputs"]["contours"]["sha256"] == sha256
    assert second["total_plaque_volume_mm3"] == pytest.approx(first["total_plaque_volume_mm3"], rel=0.01)
    for name, pav in first["pav_percent"].items():
        assert second["pav_percent"][name] == pytest.approx(pav, abs=0.5)


@pytest.mark.parametrize("case, message", [
    ("lacks_wall", "has no vessel wall segment"),
    ("other_series", "the contours lie outside this volume"),
    ("other_vessel", "hold only"),
])
def test_contours_that_do_not_fit_are_one_error_line(analyzed_case, tmp_path, case, message):
    out, files = analyzed_case
    contours = _contours_variant(os.path.join(out, "LAD-1.contours.seg.nrrd"), tmp_path, case)
    target = tmp_path / "out"
    result = _run_cli("analyze", files["volume"], "--centerline", files["centerline"], "--landmarks",
                      files["landmarks"], "--out", str(target), "--contours", contours)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not target.exists()


def test_a_second_reading_into_the_same_folder_is_refused(analyzed_case):
    """Results already in --out for this lesion are not replaced without --force: one error line, exit 2, the
    first reading's files untouched."""
    out, files = analyzed_case
    document = os.path.join(out, "LAD-1.lesion.json")
    before = open(document, "rb").read()
    result = _run_cli("analyze", files["volume"], "--centerline", files["centerline"], "--landmarks",
                      files["landmarks"], "--out", out, "--lesion-id", "LAD-1", "--observer", "B", "--reading", "2")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "already holds results of lesion LAD-1" in lines[0]
    assert "--force" in lines[0] and open(document, "rb").read() == before


def test_icc_of_a_folder_of_readings(analyzed_case, tmp_path):
    """ctoplaque icc FOLDER: the lesion exports in its subfolders (observer A's two readings of three lesions)
    are gathered by lesion and by observer and reading; the ICCs are those of the same ratings as a matrix."""
    from CTOPlaqueStatsLib.icc import icc_table

    out, _ = analyzed_case
    template = read_json(os.path.join(out, "LAD-1.lesion.json"))
    volumes = np.array([[410.0, 402.0], [350.0, 371.0], [505.0, 498.0]])
    for reading in (1, 2):
        folder = tmp_path / "exports" / f"A-r{reading}"
        folder.mkdir(parents=True)
        for index, lesion in enumerate(("L1", "L2", "L3")):
            document = dict(template, lesion_id=lesion, observer="A", reading=reading,
                            total_plaque_volume_mm3=volumes[index, reading - 1])
            write_json(str(folder / f"{lesion}.lesion.json"), document)
    assert main(["icc", str(tmp_path / "exports"), "--value", "total_plaque_volume_mm3",
                 "--out", str(tmp_path / "icc")]) == 0
    rows = {row["form"]: row for row in csv.DictReader(open(tmp_path / "icc" / "icc.csv"))}
    expected = {row["form"]: row["icc"] for row in icc_table(volumes)}
    assert rows["ICC1"]["n_targets"] == "3" and rows["ICC1"]["n_raters"] == "2"
    for form, icc in expected.items():
        assert float(rows[form]["icc"]) == pytest.approx(icc, rel=1e-9)


@pytest.mark.parametrize("option, value, message", [
    ("--observer", "Doe\\Jane", "observer 'Doe\\\\Jane' may not hold a backslash or control characters"),
    ("--observer", "x" * 65, "nor be longer than 64 characters (it is the person name of the DICOM SEG and SR)"),
    ("--observer", "Jane Doe\n", "may not hold a backslash or control characters"),
    ("--reading", "0", "reading 0 is not a reading number (1, 2, ...)"),
])
def test_an_observer_the_dicom_person_name_cannot_carry_or_a_reading_below_1_is_an_input_error(
        tmp_path, capsys, option, value, message):
    """A backslash (DICOM's value separator: the SR would name two persons), a control character or more than 64
    characters in --observer, or a --reading of 0: one error line before any input is read, nothing written."""
    status, lines = _run_main(capsys, "analyze", "ccta.nrrd", "--centerline", "c.mrk.json", "--landmarks",
                              "l.mrk.json", "--out", str(tmp_path / "out"), option, value)
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_force_replaces_the_results_and_removes_the_earlier_runs_stale_files(curved_case_files, tmp_path, capsys):
    """--force into a folder holding an earlier run of the lesion (its lesion.json, the centerline it extracted from
    seeds, its DICOM SR): the results are replaced and the SR of the earlier results removed (beside the new
    lesion.json it would describe other numbers); the centerline file, now given as --centerline, is kept."""
    import shutil

    out = tmp_path / "out"
    out.mkdir()
    (out / "L.lesion.json").write_text("{}")
    (out / "L.sr.dcm").write_bytes(b"the earlier run's SR")
    shutil.copy(curved_case_files["centerline"], out / "L.centerline.mrk.json")
    status, _ = _run_main(capsys, "analyze", curved_case_files["volume"], "--centerline",
                          str(out / "L.centerline.mrk.json"), "--landmarks", curved_case_files["landmarks"],
                          "--out", str(out), "--lesion-id", "L", "--force")
    assert status == 0
    assert sorted(os.listdir(out)) == sorted(f"L{suffix}" for suffix in (
        ".lesion.json", ".lesion.csv", ".profile.csv", ".composition.seg.nrrd", ".profile.png", ".straightened.png",
        ".report.html", ".contours.seg.nrrd", ".centerline.mrk.json"))
    assert read_json(str(out / "L.lesion.json"))["schema"] == "ctoplaque.lesion/1"


def test_icc_of_a_folder_with_one_rater_or_foreign_json(analyzed_case, tmp_path, capsys):
    """ctoplaque icc FOLDER whose exports are one rater's (one reading, or two runs without --observer and
    --reading): one error line naming the rater, exit status 2, nothing written. A *.lesion.json that holds a JSON
    list beside two readings is skipped with a note (not an AttributeError), and the ICC of the readings is
    computed."""
    out, _ = analyzed_case
    template = read_json(os.path.join(out, "LAD-1.lesion.json"))
    for reading in (1, 2):
        folder = tmp_path / "exports" / f"r{reading}"
        folder.mkdir(parents=True)
        for lesion, volume in (("L1", 410.0 + reading), ("L2", 350.0 - 3 * reading), ("L3", 505.0)):
            write_json(str(folder / f"{lesion}.lesion.json"),
                       dict(template, lesion_id=lesion, observer="A", reading=reading, total_plaque_volume_mm3=volume))
    status, lines = _run_main(capsys, "icc", str(tmp_path / "exports" / "r1"), "--value", "total_plaque_volume_mm3",
                              "--out", str(tmp_path / "icc1"))
    assert status == 2 and lines == [f"error: {tmp_path / 'exports' / 'r1'} holds the ratings of 1 rater ('A reading "
                                     "1'); the ICC compares two or more (lesion exports: give each run its own "
                                     "analyze --observer or --reading)"]
    assert not (tmp_path / "icc1").exists()
    (tmp_path / "exports" / "r2" / "notes.lesion.json").write_text("[1, 2]")
    status, lines = _run_main(capsys, "icc", str(tmp_path / "exports"), "--value", "total_plaque_volume_mm3",
                              "--out", str(tmp_path / "icc"))
    assert status == 0
    assert "note: notes.lesion.json: unreadable lesion export, skipped: not a ctoplaque.lesion/1 document" in lines
    rows = list(csv.DictReader(open(tmp_path / "icc" / "icc.csv")))
    assert {(row["n_targets"], row["n_raters"]) for row in rows} == {("3", "2")}


def test_phantom_options_reach_the_image_and_the_truth(tmp_path):
    """`phantom --edge-tissue-hu 250 --noise-sd-hu 0` (a homogeneous 250 HU occlusion, noise-free): truth.json
    records the option, its tissue composition is fibrous (131..350 HU) but for the voxels on the wall's surface
    whose centre lies outside it (fat, or the normal wall and lumen beyond the caps: < 1%), and the image at the
    occlusion's middle, 2.6 mm inside a wall blurred by 0.35 mm, is the tissue's 250 HU (the default composition
    puts the 25 HU necrotic core there)."""
    from CTOPlaqueLib.volume_io import read_volume

    case = tmp_path / "case"
    assert main(["phantom", "--shape", "straight", "--spacing-mm", "0.5", "--edge-tissue-hu", "250",
                 "--noise-sd-hu", "0", "--out", str(case)]) == 0
    truth = read_json(case / "truth.json")
    assert truth["spec"]["edge_tissue_hu"] == 250.0 and truth["spec"]["noise_sd_hu"] == 0.0
    assert truth["composition_tissue"]["pav_percent"]["fibrous"] == pytest.approx(100.0, abs=1.0)
    volume = read_volume(str(case / "ccta.nrrd"))
    middle_ras = read_markups(str(case / "landmarks.mrk.json")).points_ras[1:3].mean(axis=0)  # between P and D
    i, j, k = np.round(np.linalg.inv(volume.ijk_to_ras) @ np.append(middle_ras, 1.0))[:3].astype(int)
    assert volume.hu[k, j, i] == pytest.approx(250.0, abs=2.0)


@pytest.mark.parametrize("options, message", [
    (["--edge-tissue-hu", "2000"], "--edge-tissue-hu '2000': give a number within -30..1000 HU"),
    (["--blur-sigma-mm", "wide"], "--blur-sigma-mm 'wide': give a number within 0.2..1 mm"),
    (["--edge-tissue-mm", "0.5"], "--edge-tissue-mm needs --edge-tissue-hu"),
    (["--cap-stenosis-percent", "50"], "--cap-stenosis-percent needs --cap-lining-mm"),
    (["--course-bend-deg", "60"], "--course-bend-deg needs a --shape that turns inside the occlusion"),
    (["--shape", "occluded-bend-90", "--course-bend-radius-mm", "15"], "the turns of 23.6 mm do not fit"),
    (["--occlusion-radius-mm", "0.5"], "--occlusion-radius-mm '0.5': give a number within 1..4 mm"),
    (["--occlusion-radius-mm", "1.2", "--edge-tissue-hu", "230", "--edge-tissue-mm", "1.2"],
     "--edge-tissue-mm 1.2 must be thinner than the occluded vessel's 1.2 mm radius"),
])
def test_bad_phantom_option_is_one_error_line(tmp_path, capsys, options, message):
    status, lines = _run_main(capsys, "phantom", "--out", str(tmp_path / "case"), *options)
    assert status == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}")
    assert not (tmp_path / "case").exists()
