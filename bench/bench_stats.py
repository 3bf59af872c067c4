"""Benchmark: the whole `ctoplaque stats` run at the seed paper's size (207 lesions) and at 100 000 lesions,
comparisons and logistic models, with and without the prediction-model comparison (200 bootstrap resamples)."""

import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "Testing"), os.path.join(HERE, "..", "CTOPlaque"),
                os.path.join(HERE, "..", "CTOPlaqueStats")]

from stats_cohort_data import synthetic_cohort  # noqa: E402

from CTOPlaqueStatsLib.command import main  # noqa: E402


PREDICTION = ["--base-model", "occlusion_length_mm", "--added", "dense_calcium_pav", "necrotic_core_pav"]


def run(lesions: int, extra=()) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "cohort.csv")
        synthetic_cohort(lesions, seed=1).to_csv(path, index=False)
        start = time.perf_counter()
        main(["stats", path, "--outcome", "crossing_success", "--predictors", "dense_calcium_pav", "fibrous_pav",
              "necrotic_core_pav", "fibrofatty_pav", "occlusion_length_mm", "total_plaque_volume_mm3",
              "--adjust", "age", "male", "diabetes", "--patient-vars", "age", "male", "--out",
              os.path.join(folder, "out"), *extra])
        return time.perf_counter() - start


if __name__ == "__main__":
    for size in (207, 100_000):
        seconds = run(size)
        print(f"stats, {size:>7} lesions: {seconds:6.2f} s")
        seconds = run(size, PREDICTION)
        print(f"stats, {size:>7} lesions, with the prediction comparison (200 bootstrap resamples): {seconds:6.2f} s")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
