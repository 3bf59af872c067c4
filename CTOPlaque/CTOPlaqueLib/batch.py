"""``ctoplaque batch``: many lesions unattended, isolated, resumable, local or on a Dask cluster.

Manifest (CSV): lesion_id, patient_id, volume, landmarks, and centerline or seeds (optionally observer and reading,
vessel and SCCT segment, and contours: a reviewed ID.contours.seg.nrrd to measure with); paths relative to the
manifest. One manifest holds one reading of each lesion: a second observer or reading is a manifest of its own with
its own output folder, as ``analyze`` takes its own --out. The whole manifest is checked before anything runs and
every problem is listed. Each case runs in its own process (local) or as its own task (Dask): an error, a crash or a
timeout is recorded in ``batch_summary.csv`` (with seconds and the worker's peak memory) and the other cases go on.
Case outputs land in DIR/<lesion_id>/ through a staging folder, so an interrupted run leaves no half-written case; a
rerun skips cases whose lesion.json records the same input SHA-256 (``force`` redoes them). At the end
``cohort.csv`` gathers every finished lesion.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import sys
import time
from collections import deque
from multiprocessing.connection import wait

from .settings import AnalysisSettings
from .errors import CTOPlaqueInputError
from .export import check_identifier, check_reader, sha256_of_path, write_rows_csv
from .lesion_job import LesionJob, run_lesion_job
from .lesion_location import parse_location
from .staging import staged_outputs

REQUIRED_COLUMNS = ("lesion_id", "patient_id", "volume", "landmarks")
SUMMARY_COLUMNS = ("lesion_id", "status", "seconds", "peak_memory_mib", "error", "warnings")
FAILED_STATUSES = ("failed", "timeout", "crashed", "interrupted")


class ManifestError(CTOPlaqueInputError):
    """Every problem of a manifest, one per line."""

    def __init__(self, problems):
        super().__init__(f"the manifest has {len(problems)} problem(s)")
        self.problems = problems


def read_manifest(path: str, out_dir: str, settings: AnalysisSettings, dicom: bool = False) -> list:
    """The manifest's cases as lesion jobs writing into DIR/<lesion_id>/; ManifestError lists every
    problem (line numbers as in the file). dicom: cases whose volume is a DICOM series folder also
    write their SEG and SR there."""
    if not os.path.isfile(path):
        raise CTOPlaqueInputError(f"manifest not found: {path}")
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ManifestError([f"not a UTF-8 CSV file ({str(error).splitlines()[0][:100]}); save it as CSV UTF-8"]) \
            from None
    columns = set(rows[0].keys()) if rows else set()
    problems = [f"missing column {name}" for name in REQUIRED_COLUMNS if name not in columns]
    if not {"centerline", "seeds"} & columns:
        problems.append("missing column centerline or seeds")
    if problems or not rows:
        raise ManifestError(problems or ["no cases"])
    cases, seen = [], {}
    for line, row in enumerate(rows, start=2):
        values = {key: (row.get(key) or "").strip() for key in ("lesion_id", "patient_id", "volume", "landmarks",
                                                                 "centerline", "seeds", "observer", "contours",
                                                                 "vessel", "segment", "reading")}
        where = f"line {line}"
        try:
            check_identifier(values["lesion_id"], "lesion ID")
            check_identifier(values["patient_id"], "patient ID")
            values["reading"] = _reading_number(values["reading"])
            check_reader(values["observer"], values["reading"])
        except CTOPlaqueInputError as error:
            problems.append(f"{where}: {error}")
        try:
            parse_location(values["vessel"], values["segment"])
        except CTOPlaqueInputError as error:
            problems.append(f"{where}: {error}")
        if values["lesion_id"] in seen:
            problems.append(f"{where}: lesion_id {values['lesion_id']} already on line {seen[values['lesion_id']]}")
        seen.setdefault(values["lesion_id"], line)
        if bool(values["centerline"]) == bool(values["seeds"]):
            problems.append(f"{where}: give either a centerline or seeds")
        for key in ("volume", "landmarks", "centerline", "seeds", "contours"):
            if values[key]:
                values[key] = os.path.normpath(os.path.join(base, values[key]))
                if not os.path.exists(values[key]):
                    problems.append(f"{where}: {key} not found: {values[key]}")
        case_dir = os.path.join(out_dir, values["lesion_id"])
        dicom_out = case_dir if dicom and os.path.isdir(values["volume"]) else ""
        cases.append(LesionJob(**values, out_dir=case_dir, settings=settings, dicom_out=dicom_out))
    if problems:
        raise ManifestError(problems)
    return cases


def _reading_number(text: str) -> int | str | None:
    """The manifest's reading cell: a whole number as an int, None where empty, any other text as it is, which
    check_reader refuses with the message it gives ``analyze --reading``."""
    return int(text) if text.isdecimal() else (text or None)


def _document_path(case: LesionJob) -> str:
    return os.path.join(case.out_dir, f"{case.lesion_id}.lesion.json")


def is_current(case: LesionJob) -> bool:
    """Outputs exist and were made from inputs with the same SHA-256 as now, with the same settings (their
    SHA-256), and the DICOM SEG and SR exist when the case asks for them."""
    document_path = _document_path(case)
    if not os.path.isfile(document_path):
        return False
    try:
        with open(document_path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return False
    if document.get("settings_sha256") != case.settings.sha256():
        return False
    if case.dicom_out and not all(os.path.isfile(os.path.join(case.dicom_out, case.lesion_id + suffix))
                                  for suffix in (".seg.dcm", ".sr.dcm")):
        return False
    recorded = document.get("inputs", {})
    for role, path in case.input_paths().items():
        if bool(path) != (role in recorded):
            return False
        if path and recorded[role].get("sha256") != sha256_of_path(path):
            return False
    return True


def peak_memory_mib():
    """Peak resident memory of this process in MiB (rounded), or "" where it cannot be measured.

    getrusage where the platform has it (Linux reports kB, macOS bytes); on Windows, which has no
    ``resource`` module, the peak working set through psutil when it is installed."""
    try:
        import resource
    except ImportError:
        try:
            import psutil
        except ImportError:
            return ""
        return round(psutil.Process().memory_info().peak_wset / 2 ** 20)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024)


def run_case(case: LesionJob) -> dict:
    """Run one case and return its summary record; never raises for a bad case."""
    start = time.perf_counter()
    warnings = []
    try:
        warnings = run_lesion_job(case)["warnings"]
        status, error = "done", ""
    except CTOPlaqueInputError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - one case must not stop the batch; the message is recorded
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    return {"lesion_id": case.lesion_id, "status": status, "seconds": round(time.perf_counter() - start, 2),
            "peak_memory_mib": peak_memory_mib(), "error": error,
            "warnings": " | ".join(warnings)}


def _case_process(case, connection):
    connection.send(run_case(case))
    connection.close()


class Progress:
    """A progress bar with ETA on a terminal; one plain line per case otherwise."""

    def __init__(self, total: int, stream=None):
        self.total, self.count, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()

    def update(self, record: dict) -> None:
        self.count += 1
        self.failed += record["status"] in FAILED_STATUSES
        if self.terminal:
            elapsed = time.perf_counter() - self.start
            remaining = elapsed / self.count * (self.total - self.count)
            filled = int(30 * self.count / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total}  "
                              f"failed {self.failed}  ETA {int(remaining // 60)}m{int(remaining % 60):02d}s ")
            if self.count == self.total:
                self.stream.write("\n")
        else:
            message = f" ({record['error']})" if record["error"] else ""
            self.stream.write(f"[{self.count}/{self.total}] {record['lesion_id']} {record['status']} "
                              f"{record['seconds']:.1f} s{message}\n")
        self.stream.flush()


def run_local(cases, workers: int, timeout_s: float, progress: Progress) -> list:
    """Each case in its own process, ``workers`` at a time; crash and timeout recorded per case."""
    context = multiprocessing.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    pending, running, records = deque(cases), {}, []
    try:
        while pending or running:
            while pending and len(running) < workers:
                case = pending.popleft()
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_case_process, args=(case, sender), daemon=True)
                process.start()
                sender.close()
                running[process] = (case, time.perf_counter(), receiver)
            wait([r for _, _, r in running.values()] + [p.sentinel for p in running], timeout=0.5)
            for process, (case, started, receiver) in list(running.items()):
                record = _collect(process, case, started, receiver, timeout_s)
                if record is not None:
                    del running[process]
                    records.append(record)
                    progress.update(record)
    except KeyboardInterrupt:
        for process, (case, started, _) in running.items():
            process.terminate()
            records.append({"lesion_id": case.lesion_id, "status": "interrupted",
                            "seconds": round(time.perf_counter() - started, 2), "error": "interrupted by the user"})
        records += [{"lesion_id": c.lesion_id, "status": "interrupted", "seconds": 0.0, "error": "not started"}
                    for c in pending]
        raise BatchInterrupted(records) from None
    return records


class BatchInterrupted(Exception):
    def __init__(self, records):
        super().__init__("interrupted")
        self.records = records


def _collect(process, case, started, receiver, timeout_s):
    elapsed = round(time.perf_counter() - started, 2)
    if receiver.poll():
        try:
            record = receiver.recv()
        except EOFError:
            record = None
        process.join()
        if record is not None:
            return record
    if not process.is_alive():
        process.join()
        return {"lesion_id": case.lesion_id, "status": "crashed", "seconds": elapsed,
                "error": f"worker process ended with exit code {process.exitcode}"}
    if timeout_s and elapsed > timeout_s:
        process.terminate()
        process.join()
        return {"lesion_id": case.lesion_id, "status": "timeout", "seconds": elapsed,
                "error": f"no result after {timeout_s:g} s"}
    return None


def run_in_process(cases, progress: Progress) -> list:
    """Sequentially in this interpreter (e.g. inside Slicer): errors recorded, no crash or timeout isolation."""
    records = []
    for case in cases:
        records.append(run_case(case))
        progress.update(records[-1])
    return records


def run_dask(cases, scheduler: str, progress: Progress) -> list:
    """One task per case on a dask.distributed scheduler; a lost worker is recorded as a crash."""
    from distributed import Client, as_completed

    records = []
    with Client(scheduler, timeout="30s") as client:
        futures = {client.submit(run_case, case, pure=False): case for case in cases}
        for future in as_completed(futures):
            case = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker and the like: the case is recorded, the rest go on
                record = {"lesion_id": case.lesion_id, "status": "crashed", "seconds": 0.0,
                          "error": f"{type(exc).__name__}: {exc}"}
            records.append(record)
            progress.update(record)
    return records


def write_summary(out_dir: str, records: list) -> str:
    order = {record["lesion_id"]: record for record in records}
    with staged_outputs(out_dir) as staging:
        write_rows_csv(os.path.join(staging, "batch_summary.csv"),
                       [{k: order[i].get(k, "") for k in SUMMARY_COLUMNS} for i in order] or
                       [dict.fromkeys(SUMMARY_COLUMNS, "")])
    return os.path.join(out_dir, "batch_summary.csv")


def finished_case_folders(cases) -> list:
    """Output folders of the cases that have a lesion.json (done now or before)."""
    return [case.out_dir for case in cases if os.path.isfile(_document_path(case))]


def run_batch(manifest: str, out_dir: str, settings: AnalysisSettings, workers: int = 1, scheduler: str = "",
              timeout_s: float = 0.0, force: bool = False, in_process: bool = False, stream=None,
              dicom: bool = False, after=None) -> list:
    """Run every case of the manifest; returns the summary records (skipped cases included).
    dicom: also write SEG and SR for cases whose volume is a DICOM series.
    after(out_dir, finished_case_folders): called at the end, e.g. to write the cohort table."""
    cases = read_manifest(manifest, out_dir, settings, dicom)
    os.makedirs(out_dir, exist_ok=True)
    skipped = [] if force else [c for c in cases if is_current(c)]
    todo = [c for c in cases if c not in skipped]
    records = [{"lesion_id": c.lesion_id, "status": "skipped", "seconds": 0.0, "error": "outputs up to date"}
               for c in skipped]
    progress = Progress(len(todo), stream)
    try:
        if todo and scheduler:
            records += run_dask(todo, scheduler, progress)
        elif todo and in_process:
            records += run_in_process(todo, progress)
        elif todo:
            records += run_local(todo, max(1, workers), timeout_s, progress)
    except BatchInterrupted as interrupted:
        write_summary(out_dir, records + interrupted.records)
        raise KeyboardInterrupt from None
    by_id = {r["lesion_id"]: r for r in records}
    records = [by_id[c.lesion_id] for c in cases]
    write_summary(out_dir, records)
    if after is not None:
        after(out_dir, finished_case_folders(cases))
    return records

