"""Benchmark: what a clinician waits for in the panel, on a 512 x 512 x 300 CCTA in a real MRML scene.

The volume of bench_analyze.py is loaded with Slicer's volume storage node (slicer-core), the
centerline and landmarks as markups nodes; CTOPlaqueLogic then runs as the panel's buttons run it.
Reported (best of 3): Extract centerline, Propose landmarks, and Analyze (analysis, results and
profile tables, charts, composition segmentation, straightened vessel with contours, all in the
scene), and Analyze again on the same lesion (replaces its outputs), each with the process's peak
resident memory so far (phantom generation included) and, after analyses, the number of scene nodes,
which stays constant when re-analysing.
"""

import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "CTOPlaque"), os.path.join(HERE, "..", "Testing")]

import mrml_app  # noqa: E402
from bench_analyze import BENCH_SPEC, large_volume_file  # noqa: E402

from CTOPlaqueLib import mrml  # noqa: E402
from CTOPlaqueLib.phantom import generate_phantom  # noqa: E402


def best_of_3(action):
    """Best time of three runs; like the panel, nothing of a run is kept for the next."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main():
    import vtk

    # slicer-core has no terminology files: its Terminologies logic logs errors that do not concern this
    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
    scene = mrml_app.make_scene()
    from CTOPlaque import CTOPlaqueLogic

    phantom = generate_phantom(BENCH_SPEC)
    with large_volume_file(phantom) as path:
        volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CCTA")
        storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
        storage.SetFileName(path)
        start = time.perf_counter()
        storage.ReadData(volume)
        print(f"load NRRD into the scene:  {time.perf_counter() - start:5.2f} s   peak so far {peak_mib()} MiB")
    seeds = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Seeds")
    mrml.set_control_points(seeds, phantom.centerline_ras[[0, len(phantom.centerline_ras) // 2, -1]])
    centerline = scene.AddNewNodeByClass("vtkMRMLMarkupsCurveNode", "Centerline")
    landmarks = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Landmarks")
    logic = CTOPlaqueLogic()
    seconds = best_of_3(lambda: logic.extract_centerline(volume, seeds, centerline))
    print(f"Extract centerline:        {seconds:5.2f} s   peak so far {peak_mib()} MiB")
    mrml.set_control_points(centerline, phantom.centerline_ras)
    seconds = best_of_3(lambda: logic.propose_landmarks(volume, centerline, landmarks))
    print(f"Propose landmarks:         {seconds:5.2f} s   peak so far {peak_mib()} MiB")
    truth = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Landmarks (truth)")
    labels = sorted(phantom.landmarks_ras)
    mrml.set_control_points(truth, [phantom.landmarks_ras[label] for label in labels], labels)
    seconds = best_of_3(lambda: logic.analyze(volume, centerline, truth, lesion_id="bench"))
    print(f"Analyze (scene outputs):   {seconds:5.2f} s   peak so far {peak_mib()} MiB, "
          f"{scene.GetNumberOfNodes()} nodes")
    seconds = best_of_3(lambda: logic.analyze(volume, centerline, truth, lesion_id="bench"))
    print(f"Analyze again (replaces):  {seconds:5.2f} s   peak so far {peak_mib()} MiB, "
          f"{scene.GetNumberOfNodes()} nodes")


if __name__ == "__main__":
    main()
