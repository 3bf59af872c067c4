"""Benchmark: centerline extraction and lesion analysis on a 512 x 512 x 300 CCTA volume.

Two 70 mm vessels, each embedded in a fat-filled 512 x 512 x 300 grid and written as NRRD: the
plain curved phantom (0.4 x 0.4 x 0.5 mm) and the "heart" case (bent around the myocardium, vein
beside, branches, cap calcium, CT-textured noise, 0.4 x 0.4 x 0.75 mm). Reported for each: load
time, centerline extraction from two seeds (ostium, distal end), `analyze` compute time with a
given centerline (after loading), the editable contour segments (``contour_masks``) and re-measuring from them
with an edit (``contour_review.measure_with_contours``, as the panel's re-measure and ``analyze --contours``
do after the automatic analysis), output writing time, seeds to all outputs including the load
(`ctoplaque analyze --seeds`), and the peak resident memory of the process.
"""

import contextlib
import dataclasses
import os
import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "CTOPlaque"))

from CTOPlaqueLib.analysis import analyze_lesion  # noqa: E402
from CTOPlaqueLib.centerline_extraction import extract_centerline  # noqa: E402
from CTOPlaqueLib.contour_masks import WALL_LABEL, ContourMasks, contour_masks  # noqa: E402
from CTOPlaqueLib.contour_review import automatic_round_trip_radii, measure_with_contours  # noqa: E402
from CTOPlaqueLib.export import input_provenance, lesion_document  # noqa: E402
from CTOPlaqueLib.lesion_files import lesion_images, write_lesion_files  # noqa: E402
from CTOPlaqueLib.lesion_job import LesionJob, run_lesion_job  # noqa: E402
from CTOPlaqueLib.markups_io import markups_document  # noqa: E402
from CTOPlaqueLib.phantom import PRESETS, PhantomSpec, generate_phantom  # noqa: E402
from CTOPlaqueLib.staging import write_json  # noqa: E402
from CTOPlaqueLib.volume_io import read_volume, write_volume  # noqa: E402

SHAPE_KJI = (300, 512, 512)


def embed_in_large_volume(phantom):
    """Place the phantom's voxels at the centre of a 512 x 512 x 300 grid of fat (-100 HU)."""
    large = np.full(SHAPE_KJI, -100, np.int16)
    offset = [(big - small) // 2 for big, small in zip(SHAPE_KJI, phantom.hu.shape)]
    window = tuple(slice(o, o + n) for o, n in zip(offset, phantom.hu.shape))
    large[window] = phantom.hu
    ijk_to_ras = phantom.ijk_to_ras.copy()
    ijk_to_ras[:3, 3] -= phantom.ijk_to_ras[:3, :3] @ np.array(offset[::-1], float)
    return large, ijk_to_ras


BENCH_SPEC = PhantomSpec(shape="curved", proximal_mm=24.0, occlusion_length_mm=26.0, distal_mm=20.0)
HEART_SPEC = dataclasses.replace(PRESETS["heart"], proximal_mm=24.0, occlusion_length_mm=26.0, distal_mm=20.0,
                                 bend_radius_mm=25.0)


@contextlib.contextmanager
def large_volume_file(phantom):
    """The phantom embedded in the 512 x 512 x 300 grid, written as an uncompressed NRRD; yields its path."""
    large, ijk_to_ras = embed_in_large_volume(phantom)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ccta.nrrd")
        write_volume(path, large, ijk_to_ras, compress=False)
        del large
        yield path


def _best_of(runs: int, action) -> list:
    """Wall-clock seconds of ``runs`` calls of action()."""
    seconds = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - begin)
    return seconds


def _times(seconds: list) -> str:
    return f"{min(seconds):6.2f} s  (best of {len(seconds)}; all: {', '.join(f'{t:.2f}' for t in seconds)})"


def _in_memory_timings(path: str, phantom, seeds) -> dict:
    """Load, centerline from seeds, analysis and writing, on the volume held in memory."""
    start = time.perf_counter()
    volume = read_volume(path)
    timings = {"load": time.perf_counter() - start}
    timings["extraction"] = _best_of(3, lambda: extract_centerline(volume, seeds))
    analysis = analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)
    timings["analysis"] = _best_of(3, lambda: analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras))
    timings["contours"] = _best_of(2, lambda: contour_masks(volume, analysis))
    masks = contour_masks(volume, analysis)
    edited = ContourMasks(masks.labels.copy(), masks.ijk_to_ras)
    third = edited.labels[: len(edited.labels) // 3]
    third[third == WALL_LABEL] = 0  # a reader's erase over a third of the box
    automatic_radii = automatic_round_trip_radii(volume, analysis, masks)  # once per analysis, as the panel keeps it
    timings["remeasure"] = _best_of(3, lambda: measure_with_contours(volume, analysis, edited, "bench", "",
                                                                     automatic_radii))
    # the contour segments built above are passed on, as run_lesion_job builds them once; the first of the two runs
    # also pays matplotlib's import and first figure (once per process: a command line run pays it, a batch once)
    document = lesion_document(analysis, "bench", "bench", input_provenance({"volume": path}))  # run_lesion_job
    timings["write"] = _best_of(2, lambda: write_lesion_files(  # hashes the volume during the analysis
        os.path.join(os.path.dirname(path), "out"), volume, analysis, document,
        images=lesion_images(volume, analysis, masks)))
    timings["sections"] = (analysis.centerline.length_mm, len(analysis.centerline.arc_mm))
    return timings


def bench_case(name: str, spec: PhantomSpec) -> None:
    phantom = generate_phantom(spec)
    seeds = phantom.centerline_ras[[0, -1]]
    with large_volume_file(phantom) as path:
        folder = os.path.dirname(path)
        timings = _in_memory_timings(path, phantom, seeds)
        seeds_path, landmarks_path = os.path.join(folder, "seeds.mrk.json"), os.path.join(folder, "landmarks.mrk.json")
        write_json(seeds_path, markups_document("Fiducial", seeds))
        labels = ["S", "P", "D", "E"]
        write_json(landmarks_path, markups_document("Fiducial", [phantom.landmarks_ras[k] for k in labels], labels))
        job = LesionJob(volume=path, landmarks=landmarks_path, seeds=seeds_path, out_dir=os.path.join(folder, "job"),
                        lesion_id="bench")
        end_to_end = _best_of(2, lambda: run_lesion_job(job))
    length_mm, sections = timings["sections"]
    print(f"{name}: volume 512x512x300, vessel {length_mm:.0f} mm, {sections} cross-sections")
    print(f"  load NRRD:              {timings['load']:6.2f} s")
    print(f"  centerline, two seeds:  {_times(timings['extraction'])}")
    print(f"  analyze (compute):      {_times(timings['analysis'])}")
    print(f"  contour segments:       {_times(timings['contours'])}")
    print(f"  re-measure (edited):    {_times(timings['remeasure'])}")
    print(f"  write outputs:          {_times(timings['write'])}  (labelmaps, figures, files)")
    print(f"  seeds to all outputs:   {_times(end_to_end)}  (load, centerline, analysis, files)")


def main():
    bench_case("curved", BENCH_SPEC)
    bench_case("heart", HEART_SPEC)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mib:6.0f} MiB (process, includes phantom generation)")


if __name__ == "__main__":
    main()
