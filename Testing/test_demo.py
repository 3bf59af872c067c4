"""`make demo` runs what a user does, seeds -> centerline -> proposed landmarks -> analysis, and says where the
report is. The test runs the Makefile's own demo recipe (the install step assumed done, the command run from this
checkout's interpreter) and checks its result against the sample case's truth."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, read_json


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_runs_the_user_flow_and_points_to_the_report(tmp_path):
    demo = tmp_path / "demo"
    command = f"{sys.executable} -m CTOPlaqueStatsLib.command"
    result = subprocess.run(
        ["make", "-s", "-C", ROOT, "-o", ".venv/.installed-run", "demo", f"CTOPLAQUE={command}", f"DEMO_DIR={demo}"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 0, result.stderr
    report = demo / "results" / "demo-lesion.report.html"
    assert f"Lesion report: {report} " in result.stdout and report.is_file()
    assert "'. .venv/bin/activate' then 'ctoplaque --help'" in result.stdout
    document = read_json(demo / "results" / "demo-lesion.lesion.json")
    assert set(document["inputs"]) == {"volume", "centerline", "landmarks"}
    assert document["inputs"]["landmarks"]["file"] == "proposed_landmarks.mrk.json"
    truth = read_json(demo / "case" / "truth.json")
    assert document["occlusion_length_mm"] == pytest.approx(truth["occlusion_length_mm"], abs=0.5)
    assert document["total_plaque_volume_mm3"] == pytest.approx(truth["total_plaque_volume_mm3"], rel=0.05)
