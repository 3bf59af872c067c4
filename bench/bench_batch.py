"""Benchmark: batch throughput (cases per minute) for 1, 2 and N workers on generated phantoms, with
the peak resident memory of a worker process."""

import csv
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "CTOPlaque"), os.path.join(HERE, "..", "CTOPlaqueStats")]

from CTOPlaqueLib.analysis import AnalysisSettings  # noqa: E402
from CTOPlaqueLib.batch import run_batch  # noqa: E402
from CTOPlaqueLib.phantom import PhantomSpec, generate_phantom, write_phantom  # noqa: E402

CASES = 8


def write_cases(folder: str) -> str:
    shapes = ["straight", "curved", "bend"]
    rows = []
    for index in range(CASES):
        paths = write_phantom(generate_phantom(PhantomSpec(shape=shapes[index % 3], seed=index)),
                              os.path.join(folder, f"case{index}"))
        rows.append({"lesion_id": f"L{index}", "patient_id": f"P{index}", "volume": paths["volume"],
                     "landmarks": paths["landmarks"], "centerline": paths["centerline"], "seeds": ""})
    manifest = os.path.join(folder, "manifest.csv")
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        manifest = write_cases(folder)
        for workers in sorted({1, 2, os.cpu_count() or 2}):
            start = time.perf_counter()
            records = run_batch(manifest, os.path.join(folder, f"out{workers}"), AnalysisSettings(), workers=workers,
                                stream=open(os.devnull, "w"))
            seconds = time.perf_counter() - start
            done = sum(r["status"] == "done" for r in records)
            peak = max(r["peak_memory_mib"] for r in records)
            print(f"batch, {workers} worker(s): {done}/{CASES} cases in {seconds:5.1f} s = "
                  f"{60 * done / seconds:5.1f} cases/min; peak memory per worker {peak} MiB")
