"""Every figure of the reports reads on A4 paper: no text under 7 pt as printed (issue 24, item 8).

Truth: each figure's own text artists (matplotlib font sizes in pt at the figure's size, after drawing, so that
tick labels exist) scaled by the width the report's HTML places the PNG at over the figure's width, both in mm.
A placed width must also fit the page (A4 less 12 mm margins) or the report column it sits in, or the browser
would shrink it further. The lesion figures are checked in the lesion report's HTML; the cohort and agreement
figures at their own width, which is where their reports place them (``placed_images`` in the stats and ICC
report tests checks that).
"""

import base64
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import analyze_on_true_centerline, phantom_for
from stats_cohort_data import synthetic_cohort
from matplotlib.text import Text
from PIL import Image

from CTOPlaqueLib.export import lesion_document
from CTOPlaqueLib.lesion_report import lesion_report_html
from CTOPlaqueLib.plots import MIN_PRINT_FONT_PT, PNG_DPI, profile_figure, straightened_figure
from CTOPlaqueLib.volume_io import Volume
from CTOPlaqueStatsLib.agreement import bland_altman_rows
from CTOPlaqueStatsLib.figures import (bland_altman_figure, boxplots_figure, calibration_figure, forest_figure,
                                       roc_figure)

PAGE_WIDTH_MM = 210.0 - 2 * 12.0
LESION_COLUMN_MM = (PAGE_WIDTH_MM - 5.0) / 2   # the lesion report's two columns, 5 mm apart
IMAGE = re.compile(r'<img alt="([^"]*)" style="width: ([0-9.]+)mm" src="data:image/png;base64,([^"]+)"')


def printed_font_sizes_pt(figure, placed_width_mm: float) -> list:
    """[(text, its size in pt on paper)] of every visible text of ``figure`` placed ``placed_width_mm`` wide."""
    figure.canvas.draw()
    scale = placed_width_mm / (figure.get_figwidth() * 25.4)
    return [(text.get_text(), text.get_fontsize() * scale) for text in figure.findobj(Text)
            if text.get_visible() and text.get_text().strip()]


def placed_images(page: str) -> dict:
    """{alt text: (placed width in mm, PNG bytes)} of the images of a report page."""
    return {alt: (float(width), base64.b64decode(data)) for alt, width, data in IMAGE.findall(page)}


def png_width_mm(png: bytes) -> float:
    """Physical width of a PNG from its pixels and the dpi PIL reads from it."""
    image = Image.open(io.BytesIO(png))
    return image.width / image.info["dpi"][0] * 25.4


def assert_placed_at_physical_size(page: str, available_mm: float = PAGE_WIDTH_MM):
    """Every image of a report page is placed at its PNG's physical width, within the page."""
    images = placed_images(page)
    assert images
    for alt, (width_mm, png) in images.items():
        assert width_mm == pytest.approx(png_width_mm(png), abs=0.1) and width_mm <= available_mm, alt


def assert_prints_legibly(figure, placed_width_mm: float, available_mm: float, png: bytes = None):
    if png is not None:
        assert png_width_mm(png) == pytest.approx(figure.get_figwidth() * 25.4, rel=0.01)  # this figure's PNG
    assert placed_width_mm <= available_mm
    sizes = printed_font_sizes_pt(figure, placed_width_mm)
    small = [(text, round(size, 2)) for text, size in sizes if size < MIN_PRINT_FONT_PT]
    assert len(sizes) > 10 and small == []


@pytest.fixture(scope="module")
def lesion_figures(tmp_path_factory):
    """The curved phantom's profile and straightened figures, their PNGs and the report page holding them."""
    phantom = phantom_for("curved")
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    analysis = analyze_on_true_centerline(phantom)
    figures = {"profile": profile_figure(analysis, "P1 / L1"),
               "straightened": straightened_figure(volume, analysis, "P1 / L1")}
    pngs = {}
    for name, figure in figures.items():
        path = tmp_path_factory.mktemp("figures") / f"{name}.png"
        figure.savefig(path, dpi=PNG_DPI)
        pngs[name] = path.read_bytes()
    page = lesion_report_html(lesion_document(analysis, "L1", "P1", {}), pngs["straightened"], pngs["profile"])
    yield figures, placed_images(page)
    for figure in figures.values():
        plt.close(figure)


@pytest.mark.parametrize("name, alt_start, available_mm", [("straightened", "straightened", PAGE_WIDTH_MM),
                                                           ("profile", "lumen, vessel", LESION_COLUMN_MM)])
def test_lesion_report_figures_print_at_7_pt_or_more(lesion_figures, name, alt_start, available_mm):
    figures, images = lesion_figures
    (width_mm, png), = [value for alt, value in images.items() if alt.startswith(alt_start)]
    assert_prints_legibly(figures[name], width_mm, available_mm, png)



def _forest_rows():
    """Two outcomes' adjusted models, as logistic.csv holds them."""
    rows = []
    for outcome in ("crossing_success", "procedural_success"):
        for predictor, sd in (("dense_calcium_pav", 11.2), ("occlusion_length_mm", 9.8), ("age", 10.1)):
            rows.append({"outcome": outcome, "predictor": predictor, "model": "adjusted", "or_per_sd": 0.8,
                         "ci_low_per_sd": 0.6, "ci_high_per_sd": 1.1, "sd": sd, "method": "ml"})
    return pd.DataFrame(rows)


def _curves():
    rng = np.random.default_rng(2)
    risk = rng.uniform(0.3, 0.95, 200)
    outcome = (rng.random(200) < risk).astype(float)
    return {("crossing_success", "base"): (risk, outcome, 0.7),
            ("crossing_success", "base + added"): (np.clip(risk + 0.05, 0, 1), outcome, 0.72)}


def _cohort_figures():
    cohort = synthetic_cohort(80, seed=3)
    outcomes = {"crossing_success": cohort["crossing_success"].astype(float)}
    predictors = ["dense_calcium_pav", "total_plaque_volume_mm3", "occlusion_length_mm", "necrotic_core_pav",
                  "fibrous_pav"]
    rng = np.random.default_rng(4)
    truth = rng.normal(300, 80, 30)
    wide = pd.DataFrame({"A": truth + rng.normal(0, 10, 30), "B": truth + rng.normal(5, 10, 30)})
    panels = [(value, row) for value in ("total_plaque_volume_mm3", "occlusion_length_mm")
              for row in bland_altman_rows(value, wide)]
    return {"forest": lambda: forest_figure(_forest_rows()),
            "boxplots": lambda: boxplots_figure(cohort, outcomes, predictors),
            "roc": lambda: roc_figure(_curves()), "calibration": lambda: calibration_figure(_curves()),
            "bland-altman": lambda: bland_altman_figure(panels)}


@pytest.mark.parametrize("name", list(_cohort_figures()))
def test_cohort_and_agreement_figures_print_at_7_pt_or_more(name):
    figure = _cohort_figures()[name]()
    try:
        assert_prints_legibly(figure, figure.get_figwidth() * 25.4, PAGE_WIDTH_MM)
    finally:
        plt.close(figure)
