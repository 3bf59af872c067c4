"""Benchmark: DICOM SEG + SR of one lesion from a 300-slice 512 x 512 CT series.

The curved 70 mm phantom (bench_analyze.BENCH_SPEC) embedded in the 512 x 512 x 300 grid is written
as a DICOM series (one file per slice); reported: reading the series' headers and mapping them to
slices, building the SEG and SR, and writing both (target: SEG + SR within 1 s).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "CTOPlaque"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_analyze import BENCH_SPEC, embed_in_large_volume  # noqa: E402
from CTOPlaqueLib.analysis import analyze_lesion  # noqa: E402
from CTOPlaqueLib.dicom_results import dicom_writers  # noqa: E402
from CTOPlaqueLib.dicom_series import (  # noqa: E402
    source_datasets_by_slice, sources_for_derived_objects, write_ct_series)
from CTOPlaqueLib.export import lesion_document  # noqa: E402
from CTOPlaqueLib.phantom import generate_phantom  # noqa: E402
from CTOPlaqueLib.volume_io import read_volume  # noqa: E402


def main():
    phantom = generate_phantom(BENCH_SPEC)
    large, ijk_to_ras = embed_in_large_volume(phantom)
    with tempfile.TemporaryDirectory() as folder:
        series = os.path.join(folder, "series")
        write_ct_series(series, large, ijk_to_ras, "BENCH")
        del large
        volume = read_volume(series)
        analysis = analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)
        document = lesion_document(analysis, "bench", "bench", {})
        begin = time.perf_counter()
        sources, _ = sources_for_derived_objects(source_datasets_by_slice(series, volume), volume)
        headers = time.perf_counter()
        writers = dicom_writers(sources, volume, analysis, document)
        built = time.perf_counter()
        for name, writer in writers.items():
            writer(os.path.join(folder, name))
        written = time.perf_counter()
        sizes = {name: os.path.getsize(os.path.join(folder, name)) / 1024 for name in writers}
    print(f"DICOM series {volume.hu.shape[0]} slices of {volume.hu.shape[2]}x{volume.hu.shape[1]}")
    print(f"read and order headers: {headers - begin:6.2f} s")
    print(f"build SEG + SR:         {built - headers:6.2f} s")
    print(f"write SEG + SR:         {written - built:6.2f} s  ("
          + ", ".join(f"{name} {size:.0f} KiB" for name, size in sizes.items()) + ")")
    print(f"SEG + SR in total:      {written - headers:6.2f} s (headers included: {written - begin:.2f} s)")


if __name__ == "__main__":
    main()
