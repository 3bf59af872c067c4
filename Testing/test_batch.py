"""ctoplaque batch: manifest checks, isolation, resume, timeouts, workers, Dask, headless script."""

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from CTOPlaqueStatsLib.command import main
from CTOPlaqueLib.markups_io import markups_document, read_markups
from CTOPlaqueLib.staging import write_json
from conftest import cached, read_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Three good cases (centerline, seeds, centerline) and one whose landmarks lack D.
ROWS = [("A1", "P1", "landmarks.mrk.json", "centerline.mrk.json", ""),
        ("A2", "P1", "landmarks.mrk.json", "", "seeds.mrk.json"),
        ("A3", "P2", "landmarks.mrk.json", "centerline.mrk.json", ""),
        ("BAD", "P3", "no_d.mrk.json", "centerline.mrk.json", "")]


def _write_manifest(folder, curved_case_files, rows=ROWS):
    """The curved case copied to ``folder``/case (with no_d.mrk.json, its landmarks without D) and
    ``folder``/manifest.csv listing ``rows``; returns the manifest's path."""
    case = folder / "case"
    shutil.copytree(os.path.dirname(curved_case_files["volume"]), case)
    markups = read_markups(str(case / "landmarks.mrk.json"))
    keep = [i for i, label in enumerate(markups.labels) if label != "D"]
    write_json(str(case / "no_d.mrk.json"),
               markups_document("Fiducial", markups.points_ras[keep], [markups.labels[i] for i in keep]))
    path = folder / "manifest.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lesion_id", "patient_id", "volume", "landmarks", "centerline", "seeds"])
        for lesion, patient, landmarks, centerline, seeds in rows:
            writer.writerow([lesion, patient, "case/ccta.nrrd", f"case/{landmarks}",
                             centerline and f"case/{centerline}", seeds and f"case/{seeds}"])
    return path


@pytest.fixture(scope="module")
def manifest(curved_case_files, tmp_path_factory):
    """The four cases of ROWS, read by the tests (a test that changes an input works on a copy)."""
    return _write_manifest(tmp_path_factory.mktemp("batch"), curved_case_files)


@pytest.fixture(scope="module")
def batch_run(manifest, tmp_path_factory):
    """One batch of the manifest on two worker processes, run once per test session for all xdist workers
    (conftest.cached) and shared by the tests that read its outputs, which must not change them: (exit status,
    output folder, what it logged on stderr)."""

    def run():
        out = tmp_path_factory.mktemp("batch_run") / "out"
        log = io.StringIO()
        with contextlib.redirect_stderr(log):
            status = main(["batch", str(manifest), "--out", str(out), "--workers", "2"])
        return status, out, log.getvalue()

    return cached("batch_run", run)


def _summary(out):
    return {row["lesion_id"]: row for row in csv.DictReader(open(out / "batch_summary.csv"))}


def test_every_manifest_problem_listed_at_once(tmp_path, capsys):
    path = tmp_path / "manifest.csv"
    path.write_text("lesion_id,patient_id,volume,landmarks,centerline\n"
                    "L1,P1,missing.nrrd,missing.mrk.json,c.mrk.json\n"
                    "L1,P 2,missing.nrrd,missing.mrk.json,\n")
    assert main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("error: ") for line in errors)
    text = "\n".join(errors)
    for expected in ("line 2: volume not found", "line 2: landmarks not found", "line 2: centerline not found",
                     "line 3: patient ID 'P 2'", "line 3: lesion_id L1 already on line 2",
                     "line 3: give either a centerline or seeds"):
        assert expected in text
    assert not (tmp_path / "out").exists()


def test_batch_isolates_failures_and_matches_single_analysis(batch_run, tmp_path, curved_case_files):
    status, out, log = batch_run
    assert status == 1
    summary = _summary(out)
    assert {k: v["status"] for k, v in summary.items()} == {"A1": "done", "A2": "done", "A3": "done",
                                                          "BAD": "failed"}
    assert "missing landmark D" in summary["BAD"]["error"]
    assert not (out / "BAD").exists()
    assert "BAD failed" in log  # plain log lines when not on a terminal
    single = tmp_path / "single"
    assert main(["analyze", curved_case_files["volume"], "--centerline", curved_case_files["centerline"],
                 "--landmarks", curved_case_files["landmarks"], "--out", str(single), "--lesion-id", "A1",
                 "--patient-id", "P1"]) == 0
    batch_doc = read_json(out / "A1" / "A1.lesion.json")
    single_doc = read_json(single / "A1.lesion.json")
    assert batch_doc["total_plaque_volume_mm3"] == single_doc["total_plaque_volume_mm3"]
    assert batch_doc["pav_percent"] == single_doc["pav_percent"]
    assert (out / "A2" / "A2.centerline.mrk.json").is_file()
    cohort = list(csv.DictReader(open(out / "cohort.csv")))
    assert sorted(row["lesion_id"] for row in cohort) == ["A1", "A2", "A3"]


def test_rerun_skips_up_to_date_cases_and_redoes_changed_inputs(manifest, batch_run, tmp_path):
    """On copies of the manifest's folder and of the batch's outputs: a rerun skips what is up to date (decided by
    the inputs' SHA-256, not their paths), redoes the cases whose input changed, and --force redoes all (here in
    this process, --in-process)."""
    shutil.copytree(manifest.parent, tmp_path, dirs_exist_ok=True)
    manifest, out = tmp_path / manifest.name, tmp_path / "out"
    shutil.copytree(batch_run[1], out)
    assert main(["batch", str(manifest), "--out", str(out)]) == 1
    assert {k: v["status"] for k, v in _summary(out).items()} == {"A1": "skipped", "A2": "skipped",
                                                                 "A3": "skipped", "BAD": "failed"}
    # The shared centerline file changes (its last point removed): A1 and A3 use it and are redone, A2 not.
    curve = manifest.parent / "case" / "centerline.mrk.json"
    document = read_json(curve)
    document["markups"][0]["controlPoints"] = document["markups"][0]["controlPoints"][:-1]
    json.dump(document, open(curve, "w"))
    main(["batch", str(manifest), "--out", str(out)])
    statuses = {k: v["status"] for k, v in _summary(out).items()}
    assert statuses["A2"] == "skipped" and statuses["A1"] == "done" and statuses["A3"] == "done"
    main(["batch", str(manifest), "--out", str(out), "--force", "--in-process"])
    assert _summary(out)["A2"]["status"] == "done"


def test_timeout_stops_a_case_and_leaves_nothing_half_written(manifest, tmp_path):
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--out", str(out), "--timeout", "0.2"]) == 1
    summary = _summary(out)
    assert {row["status"] for row in summary.values()} <= {"timeout", "failed"}
    assert summary["A2"]["status"] == "timeout"
    assert not (out / "A2").exists()
    assert not [n for n in os.listdir(out) if n.startswith(".ctoplaque-staging")]


def test_killed_worker_is_recorded_as_crashed_and_the_batch_goes_on(manifest, tmp_path):
    """A worker killed as the out-of-memory killer would (SIGKILL) is a "crashed" case with its exit code;
    its outputs are not half-written and the next case still runs."""
    import multiprocessing
    import signal
    import threading
    import time

    from CTOPlaqueLib.analysis import AnalysisSettings
    from CTOPlaqueLib.batch import Progress, read_manifest, run_local

    out = tmp_path / "out"
    cases = [c for c in read_manifest(str(manifest), str(out), AnalysisSettings()) if c.lesion_id in ("A2", "A3")]
    records = []
    worker = threading.Thread(target=lambda: records.extend(run_local(cases, 1, 0.0, Progress(2, io.StringIO()))))
    worker.start()
    deadline = time.monotonic() + 60
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the first case (A2, centerline from seeds) is under way
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    worker.join(timeout=120)
    by_case = {record["lesion_id"]: record for record in records}
    assert by_case["A2"]["status"] == "crashed"
    assert by_case["A2"]["error"] == f"worker process ended with exit code {-signal.SIGKILL}"
    assert by_case["A3"]["status"] == "done"
    assert not (out / "A2").exists() and (out / "A3" / "A3.lesion.json").is_file()
    assert not [n for n in os.listdir(out) if n.startswith(".ctoplaque-staging")]


def test_dask_local_cluster_gives_the_same_results(manifest, batch_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = batch_run[1]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        remote = tmp_path / "dask"
        assert main(["batch", str(manifest), "--out", str(remote), "--scheduler", cluster.scheduler_address]) == 1
    assert {k: v["status"] for k, v in _summary(remote).items()} == {k: v["status"] for k, v in _summary(local).items()}
    for lesion in ("A1", "A2", "A3"):
        a = read_json(local / lesion / f"{lesion}.lesion.json")
        b = read_json(remote / lesion / f"{lesion}.lesion.json")
        assert a["total_plaque_volume_mm3"] == b["total_plaque_volume_mm3"]


def test_headless_slicer_script_runs_the_batch(curved_case_files, tmp_path):
    """A good case (A1) and a failing one (BAD): exit status 1, A1 done."""
    manifest = _write_manifest(tmp_path, curved_case_files, [ROWS[0], ROWS[3]])
    script = os.path.join(ROOT, "CTOPlaque", "Resources", "Scripts", "ctoplaque_batch.py")
    out = tmp_path / "slicer"
    result = subprocess.run([sys.executable, script, str(manifest), "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert _summary(out)["A1"]["status"] == "done"


def test_headless_script_names_missing_packages_on_one_line(manifest, tmp_path):
    script = os.path.join(ROOT, "CTOPlaque", "Resources", "Scripts", "ctoplaque_batch.py")
    out = tmp_path / "slicer"
    # as if scipy and scikit-image were not installed: no metadata, modules not importable
    code = ("import importlib.metadata as m, runpy, sys; sys.modules['scipy'] = sys.modules['skimage'] = None; "
            "found = m.version; absent = {'scipy', 'scikit-image'}; "
            "m.version = lambda name: (_ for _ in ()).throw(m.PackageNotFoundError(name)) if name in absent "
            "else found(name); "
            f"sys.argv = [{script!r}, {str(manifest)!r}, '--out', {str(out)!r}]; "
            f"runpy.run_path({script!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Python packages missing: scipy>=1.15, scikit-image>=0.21;")
    assert not out.exists()


def test_progress_bar_with_eta_on_a_terminal():
    import io

    from CTOPlaqueLib.batch import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = Progress(4, stream)
    progress.update({"lesion_id": "L1", "status": "done", "seconds": 1.0, "error": ""})
    progress.update({"lesion_id": "L2", "status": "failed", "seconds": 1.0, "error": "bad"})
    text = stream.getvalue()
    last_frame = text.split("\r")[-1]
    assert last_frame.startswith("[###############...............] 2/4  failed 1  ETA 0m")
    assert "L2" not in text


def test_manifest_contours_column_reaches_the_case_and_a_missing_file_is_listed(tmp_path):
    """The optional contours column: a path relative to the manifest goes to the case (and so into its input
    hashes, which decide whether a rerun redoes it); a file that is not there is a manifest problem."""
    from CTOPlaqueLib.batch import ManifestError, read_manifest
    from CTOPlaqueLib.settings import AnalysisSettings

    for name in ("ccta.nrrd", "l.mrk.json", "c.mrk.json", "A1.contours.seg.nrrd"):
        (tmp_path / name).write_text("x")
    path = tmp_path / "manifest.csv"
    path.write_text("lesion_id,patient_id,volume,landmarks,centerline,contours\n"
                    "A1,P1,ccta.nrrd,l.mrk.json,c.mrk.json,A1.contours.seg.nrrd\n"
                    "A2,P1,ccta.nrrd,l.mrk.json,c.mrk.json,\n")
    cases = read_manifest(str(path), str(tmp_path / "out"), AnalysisSettings())
    assert [case.input_paths()["contours"] for case in cases] == [str(tmp_path / "A1.contours.seg.nrrd"), ""]
    path.write_text("lesion_id,patient_id,volume,landmarks,centerline,contours\n"
                    "A1,P1,ccta.nrrd,l.mrk.json,c.mrk.json,gone.seg.nrrd\n")
    with pytest.raises(ManifestError) as error:
        read_manifest(str(path), str(tmp_path / "out"), AnalysisSettings())
    assert error.value.problems == [f"line 2: contours not found: {tmp_path / 'gone.seg.nrrd'}"]


def test_manifest_reading_column_reaches_the_case_and_a_bad_reading_is_listed(tmp_path):
    """The optional reading column (with observer): a reading number goes to the case, which records it in lesion.json
    as analyze --reading does; an empty cell is no reading; 0, a fraction or a word is a manifest problem."""
    from CTOPlaqueLib.batch import ManifestError, read_manifest
    from CTOPlaqueLib.settings import AnalysisSettings

    for name in ("ccta.nrrd", "l.mrk.json", "c.mrk.json"):
        (tmp_path / name).write_text("x")
    path = tmp_path / "manifest.csv"
    header = "lesion_id,patient_id,volume,landmarks,centerline,observer,reading\n"
    path.write_text(header + "A1,P1,ccta.nrrd,l.mrk.json,c.mrk.json,Reader A,2\n"
                             "A2,P1,ccta.nrrd,l.mrk.json,c.mrk.json,Reader A,\n")
    cases = read_manifest(str(path), str(tmp_path / "out"), AnalysisSettings())
    assert [(case.observer, case.reading) for case in cases] == [("Reader A", 2), ("Reader A", None)]
    path.write_text(header + "A1,P1,ccta.nrrd,l.mrk.json,c.mrk.json,Reader A,0\n"
                             "A2,P1,ccta.nrrd,l.mrk.json,c.mrk.json,Reader A,1.5\n"
                             "A3,P1,ccta.nrrd,l.mrk.json,c.mrk.json,Reader A,two\n")
    with pytest.raises(ManifestError) as error:
        read_manifest(str(path), str(tmp_path / "out"), AnalysisSettings())
    assert error.value.problems == [f"line {line}: reading {text!r} is not a reading number (1, 2, ...)"
                                    for line, text in ((2, 0), (3, "1.5"), (4, "two"))]
