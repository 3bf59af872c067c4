"""Issue 22 item 6: seeds given from the distal end. The ostium end of an occluded coronary holds the lumen
filled from the aorta: brighter and wider than the distal lumen filled late through collaterals. The extraction
reverses seeds given the other way round, with a note; when it cannot tell, it keeps the seeds' order and
says so (an error would stop correctly ordered seeds on such a vessel).

Truth: hand-built lumen profiles for the rule; the phantoms' true centerline (ostium first) for the extraction.
"""

import numpy as np
import pytest
from conftest import distances_inside_occlusion_mm, preset_phantom
from CTOPlaqueStatsLib.command import main

from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.centerline_extraction import ExtractionParameters, LumenSections, extract_centerline, ostium_first
from CTOPlaqueLib.crosssection import PolarGrid
from CTOPlaqueLib.markups_io import markups_document, read_markups
from CTOPlaqueLib.staging import write_json
from CTOPlaqueLib.volume_io import Volume


def _sections(first_hu, first_radius_mm, last_hu, last_radius_mm):
    """40 sections: lumen of the given HU and radius in 0..9 and 30..39, none in 10..29 (the occlusion)."""
    grid = PolarGrid.make()
    has_lumen = np.r_[np.ones(10, bool), np.zeros(20, bool), np.ones(10, bool)]
    radii = np.where(np.arange(40) < 20, first_radius_mm, last_radius_mm)[:, None] * has_lumen[:, None]
    central_hu = np.where(np.arange(40) < 20, first_hu, last_hu).astype(float)
    centerline = sample_centerline(np.c_[np.zeros(2), np.zeros(2), [0.0, 9.75]], 0.25)  # 40 sections 0.25 mm apart
    return LumenSections(centerline, grid, has_lumen, np.broadcast_to(radii, (40, len(grid.angles_rad))), central_hu)


@pytest.mark.parametrize("first, last, expected", [
    ((400.0, 1.6), (250.0, 1.4), True),    # the phantoms' ostium and distal lumen
    ((250.0, 1.4), (400.0, 1.6), False),   # the same, seeds reversed
    ((250.0, 1.6), (250.0, 1.4), True),    # equal contrast: the wider lumen (area ratio 1.31) decides
    ((400.0, 1.5), (250.0, 1.5), True),    # equal width: the brighter lumen decides
])
def test_the_brighter_wider_lumen_is_the_ostium(first, last, expected):
    assert ostium_first(_sections(*first, *last), (9, 30), ExtractionParameters()) is expected


@pytest.mark.parametrize("first, last", [((300.0, 1.5), (300.0, 1.5)), ((400.0, 1.3), (250.0, 1.6))])
def test_an_undecidable_direction_is_not_guessed(first, last):
    """Alike within 5% in both cues, or brighter but narrower: cannot tell (the extraction then keeps the seeds'
    order and says so)."""
    assert ostium_first(_sections(*first, *last), (9, 30), ExtractionParameters()) is None


@pytest.mark.parametrize("first_hu, expected", [(250.0, None), (430.0, True)])
def test_a_noisy_brightness_difference_does_not_decide(first_hu, expected):
    """Equal widths; the central HU of each side's 10 sections (2.5 mm, so 2.5 independent values) scattered by
    20 x (-2, -1, -1, -0.5, 0, 0, 0.5, 1, 1, 2) HU about its median: a median absolute deviation of 20 HU, SD 29.7 HU,
    a standard error of 23.5 HU a side, 33.2 HU for the difference. The distal lumen at 280 HU: 30 HU darker is
    0.90 standard errors and does not decide (under textured noise a 250 HU scan's equally filled lumens read 219 and
    249 HU, and seeds given in order were reversed), 150 HU brighter is 4.5 and does."""
    sections = _sections(first_hu, 1.5, 280.0, 1.5)
    scatter_hu = 20.0 * np.array([-2.0, -1.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0])
    sections.central_hu[:10] += scatter_hu
    sections.central_hu[30:] += scatter_hu[::-1]
    assert ostium_first(sections, (9, 30), ExtractionParameters()) is expected


@pytest.mark.parametrize("name", ["curved", "low-contrast"])
def test_reversed_seeds_give_the_centerline_from_the_ostium(name):
    """Distal seed first, on a vessel with the phantoms' contrast (450 -> 240 HU) and on one with 250 HU on both
    sides (only the lumen's width, 1.6 -> 1.4 mm, tells): the centerline starts at the ostium, follows the
    occluded artery as from ordered seeds (mean <= 0.3 mm, max <= 1.0 mm inside the occlusion), and a note says
    the seeds were reversed."""
    phantom = preset_phantom(name)
    notes = []
    points = extract_centerline(Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras),
                                phantom.centerline_ras[[-1, 0]], notes=notes)
    assert np.linalg.norm(points[0] - phantom.centerline_ras[0]) < 1.0
    assert np.linalg.norm(points[-1] - phantom.centerline_ras[-1]) < 1.0
    distances = distances_inside_occlusion_mm(phantom, points)
    assert distances.mean() <= 0.3 and distances.max() <= 1.0
    assert len(notes) == 1 and "from the distal end" in notes[0]


def test_the_command_line_says_it_reversed_the_seeds(curved_case_files, tmp_path, capsys):
    """`ctoplaque centerline` with the distal seed first: one `note:` line on stderr, exit status 0, and the
    written centerline starts at the ostium (the true centerline's first point, within 1 mm)."""
    seeds = read_markups(curved_case_files["seeds"]).points_ras
    reversed_seeds = str(tmp_path / "reversed.mrk.json")
    write_json(reversed_seeds, markups_document("Fiducial", seeds[::-1]))
    out = tmp_path / "c.mrk.json"
    assert main(["centerline", curved_case_files["volume"], "--seeds", reversed_seeds, "--out", str(out)]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "from the distal end" in notes[0]
    truth = read_markups(curved_case_files["centerline"]).points_ras
    assert np.linalg.norm(read_markups(str(out)).points_ras[0] - truth[0]) < 1.0


def _polar_sections(hu_at, count: int = 12):
    """``count`` identical polar sections (the contours' grid) of the in-plane image ``hu_at(x_mm, y_mm)``, blurred
    along the rays by a 0.35 mm Gaussian (the presets' blur)."""
    from scipy import ndimage

    grid = PolarGrid.make()
    x = np.cos(grid.angles_rad)[:, None] * grid.radii_mm[None, :]
    y = np.sin(grid.angles_rad)[:, None] * grid.radii_mm[None, :]
    section = ndimage.gaussian_filter1d(hu_at(x, y), 0.35 / grid.radial_step_mm, axis=-1, mode="nearest")
    return grid, np.repeat(section[None], count, axis=0)


def _walled_lumen(radius_mm, offset_mm):
    """A lumen of ``radius_mm`` at 400 HU in a 60 HU wall of 2.7 mm outer radius in -100 HU fat, its centre
    ``offset_mm`` along x."""
    def hu_at(x, y):
        distance = np.hypot(x - offset_mm, y)
        return np.where(distance < radius_mm, 400.0, np.where(distance < 2.7, 60.0, -100.0))
    return hu_at


def _plaque_beside_a_core(x, y):
    """An occluded vessel of 2.4 mm: 230 HU plaque, a 1.3 mm, 25 HU necrotic core whose edge passes 0.1 mm from the
    centre (the section of an occlusion where its centre lies beside the core), -100 HU fat."""
    return np.where(np.hypot(x + 1.4, y) < 1.3, 25.0, np.where(np.hypot(x, y) < 2.4, 230.0, -100.0))


def test_the_lumen_test_holds_off_the_lumen_centre():
    """The first-pass path runs up to a millimetre off the lumen's centre (seeds from the distal end on `curved`: 0.4
    to 1.0 mm in the proximal lumen), and the ring is sized on all the path's lumens, the narrower distal one too.
    With the ring sized on a centred 1.4 mm lumen (1.9 mm), a 1.6 mm lumen is found with the section centre 0.5 and
    0.8 mm off it (its rays fall up to 2.4 mm out, beyond the ring on 29% of them; the chord through the centre
    is no longer than the lumen's diameter), whereas plaque whose centre lies 0.1 mm from a dark core, bright up to
    its fall to the fat at 2.4 mm on the other side, is no lumen."""
    from CTOPlaqueLib.contours import lumen_present

    parts = [_polar_sections(_walled_lumen(*lumen)) for lumen in ((1.4, 0.0), (1.6, 0.5), (1.6, 0.8))]
    grid, plaque = _polar_sections(_plaque_beside_a_core)
    samples = np.concatenate([part[1] for part in parts] + [plaque])
    count = len(plaque)
    present = lumen_present(samples, grid, ring_sections=np.arange(len(samples)) < count)
    assert np.all(present[:3 * count]) and not np.any(present[3 * count:])
