"""Benchmark: centerline extraction and lesion analysis on a 512 x 512 x 300 CCTA volume.

The phantom case (a 70 mm curved vessel) is embedded in a fat-filled 512 x 512 x 300 grid
(0.4 x 0.4 x 0.5 mm) and written as NRRD. Reported: load time, centerline extraction from three
seeds, `analyze` compute time with a given centerline (after loading), output writing time, and
the peak resident memory of the process.
"""

import contextlib
import os
import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "CTOPlaque"))

from CTOPlaqueLib.analysis import analyze_lesion  # noqa: E402
from CTOPlaqueLib.centerline_extraction import extract_centerline  # noqa: E402
from CTOPlaqueLib.export import input_provenance  # noqa: E402
from CTOPlaqueLib.lesion_files import write_lesion_files  # noqa: E402
from CTOPlaqueLib.phantom import PhantomSpec, generate_phantom  # noqa: E402
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


@contextlib.contextmanager
def large_volume_file(phantom):
    """The phantom embedded in the 512 x 512 x 300 grid, written as an uncompressed NRRD; yields its path."""
    large, ijk_to_ras = embed_in_large_volume(phantom)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ccta.nrrd")
        write_volume(path, large, ijk_to_ras, compress=False)
        del large
        yield path


def main():
    phantom = generate_phantom(BENCH_SPEC)
    with large_volume_file(phantom) as path:
        start = time.perf_counter()
        volume = read_volume(path)
        loaded = time.perf_counter()
        seeds = phantom.centerline_ras[[0, len(phantom.centerline_ras) // 2, -1]]
        extraction = []
        for _ in range(3):
            begin = time.perf_counter()
            extract_centerline(volume, seeds)
            extraction.append(time.perf_counter() - begin)
        timings = []
        for _ in range(3):
            begin = time.perf_counter()
            analysis = analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)
            timings.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        write_lesion_files(os.path.join(os.path.dirname(path), "out"), volume, analysis, "bench", "bench",
                           input_provenance({"volume": path}))
        written = time.perf_counter() - begin
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"volume 512x512x300, vessel {analysis.centerline.length_mm:.0f} mm, "
          f"{len(analysis.centerline.arc_mm)} cross-sections")
    print(f"load NRRD:            {loaded - start:6.2f} s")
    print(f"centerline from seeds:{min(extraction):6.2f} s  (best of 3; all: {', '.join(f'{t:.2f}' for t in extraction)})")
    print(f"analyze (compute):    {min(timings):6.2f} s  (best of 3; all: {', '.join(f'{t:.2f}' for t in timings)})")
    print(f"write outputs:        {written:6.2f} s")
    print(f"peak resident memory: {peak_mib:6.0f} MiB (process, includes phantom generation)")


if __name__ == "__main__":
    main()
