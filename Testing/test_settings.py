"""Issue 14: one settings object; results that know how they were made; a batch that never keeps stale results."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest
from test_batch import manifest  # noqa: F401  (the batch fixture: three good cases and one bad)

from CTOPlaqueStatsLib.command import main
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.settings import AnalysisSettings, read_settings_file
from conftest import ROOT, read_json


def _summary(out):
    with open(out / "batch_summary.csv", encoding="utf-8") as handle:
        return {row["lesion_id"]: row for row in csv.DictReader(handle)}


def test_batch_rerun_with_other_thresholds_recomputes_every_case(manifest, tmp_path):  # noqa: F811
    """The reported bug: a rerun with --thresholds-hu 0,100,200,400 said "skipped, up to date" and kept the
    old numbers. Now the settings hash is part of being up to date."""
    out = tmp_path / "out"
    main(["batch", str(manifest), "--out", str(out)])
    first = read_json(out / "A1" / "A1.lesion.json")
    main(["batch", str(manifest), "--out", str(out)])
    assert {row["status"] for lesion, row in _summary(out).items() if lesion != "BAD"} == {"skipped"}
    main(["batch", str(manifest), "--out", str(out), "--thresholds-hu", "0,100,200,400"])
    summary = _summary(out)
    for lesion in ("A1", "A2", "A3"):
        assert summary[lesion]["status"] == "done", lesion
        document = read_json(out / lesion / f"{lesion}.lesion.json")
        assert document["settings"]["thresholds_hu"] == [0.0, 100.0, 200.0, 400.0]
        assert document["thresholds_hu"]["necrotic_core"] == [0.0, 99.0]
        assert document["settings_sha256"] == AnalysisSettings().with_overrides(None, "0,100,200,400").sha256()
    second = read_json(out / "A1" / "A1.lesion.json")
    assert second["volumes_mm3"]["necrotic_core"] != pytest.approx(first["volumes_mm3"]["necrotic_core"])


def test_lesion_json_records_the_complete_settings_and_hash(analyzed_case_out):
    document = read_json(os.path.join(analyzed_case_out, "S1.lesion.json"))
    settings = AnalysisSettings.from_dict(document["settings"])
    assert settings == AnalysisSettings().with_overrides(0.2, "")
    assert document["settings_sha256"] == settings.sha256()
    assert set(document["settings"]) == set(AnalysisSettings().to_dict())
    with open(os.path.join(analyzed_case_out, "S1.lesion.csv"), encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["settings_sha256"] == settings.sha256()


@pytest.fixture(scope="module")
def analyzed_case_out(curved_case_files, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("settings") / "out")
    settings_file = os.path.join(os.path.dirname(out), "settings.json")
    with open(settings_file, "w", encoding="utf-8") as handle:
        json.dump({"step_mm": 0.2}, handle)
    files = curved_case_files
    assert main(["analyze", files["volume"], "--centerline", files["centerline"], "--landmarks", files["landmarks"],
                 "--out", out, "--lesion-id", "S1", "--settings", settings_file]) == 0
    return out


def test_hash_changes_with_any_setting_and_not_otherwise():
    defaults = AnalysisSettings()
    assert AnalysisSettings().sha256() == defaults.sha256()
    changed = [AnalysisSettings.from_dict({"contour": {"fat_cut_fraction": 0.3}}),
               AnalysisSettings.from_dict({"centerline": {"margin_mm": 12}}),
               AnalysisSettings.from_dict({"angle_count": 90}), defaults.with_overrides(0.2, "")]
    assert len({s.sha256() for s in changed} | {defaults.sha256()}) == len(changed) + 1


@pytest.mark.parametrize("content, message", [
    ({"tresholds_hu": [0, 1, 2, 3]}, "unknown setting 'tresholds_hu'"),
    ({"contour": {"fat_uper_hu": -30}}, "unknown setting 'contour.fat_uper_hu'"),
    ({"step_mm": 0.5}, "setting step_mm = 0.5 is outside 0.01..0.25"),
    ({"angle_count": 7.5}, "setting 'angle_count' must be a whole number"),
    ({"angle_count": 45}, "setting angle_count = 45 must be even"),
    ({"contour": {"min_wall_mm": -1}}, "setting contour.min_wall_mm = -1.0 must be a finite number >= 0"),
    ({"centerline": {"max_recentre_iterations": 0}}, "centerline.max_recentre_iterations = 0 must be at least 1"),
    ({"contour": {"lumen_decision_rays": 0}}, "setting contour.lumen_decision_rays = 0 must be at least 1"),
    ({"thresholds_hu": [351, 131, 76, -30]}, "HU thresholds must be four increasing lower bounds"),
    ([1, 2], "settings must be a JSON object"),
])
def test_bad_settings_file_is_one_error_line_and_exit_2(curved_case_files, tmp_path, content, message):
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(content))
    files = curved_case_files
    result = subprocess.run(
        [sys.executable, "-m", "CTOPlaqueStatsLib.command", "analyze", files["volume"],
         "--centerline", files["centerline"],
         "--landmarks", files["landmarks"], "--out", str(tmp_path / "out"), "--settings", str(settings_file)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {settings_file}: ") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_settings_file_round_trips(tmp_path):
    settings = AnalysisSettings.from_dict({"thresholds_hu": [0, 100, 200, 400], "contour": {"normal_wall_mm": 0.5}})
    path = tmp_path / "full.json"
    path.write_text(json.dumps(settings.to_dict()))
    assert read_settings_file(str(path)) == settings
    with pytest.raises(CTOPlaqueInputError, match="not valid JSON"):
        (tmp_path / "broken.json").write_text("{")
        read_settings_file(str(tmp_path / "broken.json"))


def test_cohort_notes_lesions_analysed_with_different_settings(analyzed_case_out, curved_case_files, tmp_path,
                                                                capsys):
    files = curved_case_files
    other = str(tmp_path / "other")
    assert main(["analyze", files["volume"], "--centerline", files["centerline"], "--landmarks", files["landmarks"],
                 "--out", other, "--lesion-id", "S2"]) == 0
    capsys.readouterr()
    assert main(["cohort", analyzed_case_out, other, "--out", str(tmp_path / "cohort.csv")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "different settings" in line]
    assert len(notes) == 1 and "S1" in notes[0] and "S2" in notes[0]


def test_every_module_imports_without_the_unix_only_resource_module():
    """Windows has no `resource`; the batch (and the headless Slicer script) must still start there."""
    code = textwrap.dedent(f"""
        import sys, pkgutil, importlib
        sys.modules["resource"] = None
        sys.path[:0] = {[os.path.join(ROOT, "CTOPlaque"), os.path.join(ROOT, "CTOPlaqueStats")]!r}
        import CTOPlaqueLib, CTOPlaqueStatsLib
        for package in (CTOPlaqueLib, CTOPlaqueStatsLib):
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{{package.__name__}}.{{module.name}}")
        from CTOPlaqueLib.batch import peak_memory_mib
        print("ok", repr(peak_memory_mib()))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok ")
