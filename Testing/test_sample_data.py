"""The sample CTO case in Slicer's Sample Data module: the module registers it once Slicer has started, and choosing
it generates the phantom and loads the CT and the seeds a user starts from (here on slicer-core with the panel
harness; SampleData itself, a Slicer GUI module, is a stand-in that records the registration)."""

import os
import sys
import types

import numpy as np
import pytest

pytest.importorskip("PySide6.QtUiTools")

import slicer  # noqa: E402

from test_widget_gui import gui  # noqa: E402, F401  (the panel harness fixture)


def test_module_registers_the_sample_case_with_sample_data_at_startup(gui, monkeypatch):  # noqa: F811
    import CTOPlaque

    _, application = gui
    slots = []
    monkeypatch.setattr(application, "connect", lambda signal, slot: slots.append((signal, slot)), raising=False)
    registered = []
    stand_in = types.SimpleNamespace(SampleDataLogic=types.SimpleNamespace(
        registerCustomSampleDataSource=lambda **arguments: registered.append(arguments)))
    monkeypatch.setitem(sys.modules, "SampleData", stand_in)

    CTOPlaque.CTOPlaque(types.SimpleNamespace())
    assert [signal for signal, _ in slots] == ["startupCompleted()"]
    slots[0][1]()
    assert len(registered) == 1
    source = registered[0]
    assert (source["category"], source["sampleName"]) == ("CTO Plaque", "CTOPlaqueSample")
    assert source["customDownloader"] is CTOPlaque.loadSampleCase
    assert os.path.isfile(source["thumbnailFileName"])
    # SampleDataSource requires equally long uris, fileNames and nodeNames lists
    assert len(source["uris"]) == len(source["fileNames"]) == len(source["nodeNames"])


def test_choosing_the_sample_case_loads_its_ct_and_seeds_in_the_same_frame(gui, monkeypatch, tmp_path):  # noqa: F811
    import CTOPlaque
    from CTOPlaqueLib.markups_io import read_markups

    _, application = gui
    monkeypatch.setattr(application, "temporaryPath", str(tmp_path), raising=False)
    volume, seeds = CTOPlaque.loadSampleCase(source=None)
    assert volume.GetName() == "CTOPlaqueSample" and seeds.GetName() == "Seeds"
    assert volume.GetSpacing() == pytest.approx(CTOPlaque.SAMPLE_CASE_SPACING_MM)
    (folder,) = tmp_path.iterdir()
    centerline = read_markups(str(folder / "centerline.mrk.json")).points_ras
    positions = np.array([seeds.GetNthControlPointPositionWorld(i) for i in range(seeds.GetNumberOfControlPoints())])
    np.testing.assert_allclose(positions, centerline[[0, -1]], atol=1e-6)  # the ostium and the distal end

    import vtk

    ras_to_ijk = vtk.vtkMatrix4x4()
    volume.GetRASToIJKMatrix(ras_to_ijk)
    hu = slicer.util.arrayFromVolume(volume)
    for point, lumen_hu in zip(positions, (450.0, 240.0)):  # the phantom's written contrast at each end
        i, j, k = np.rint(ras_to_ijk.MultiplyPoint([*point, 1.0])[:3]).astype(int)
        assert hu[k, j, i] == pytest.approx(lumen_hu, abs=80)  # 20 HU noise, blur at 0.35 mm
