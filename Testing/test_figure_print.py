"""Every figure of the reports reads on A4 paper: no text under 7 pt as printed (issue 24, item 8).

Truth: each figure's own text artists (matplotlib font sizes in pt at the figure's size, after drawing, so that
tick labels exist) scaled by the width the report's HTML places the PNG at over the figure's width, both in mm.
A placed width must also fit the page (A4 less 12 mm margins) or the report column it sits in, or the browser
would shrink it further.
"""

import base64
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import phantom_for
from matplotlib.text import Text
from PIL import Image

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.export import lesion_document
from CTOPlaqueLib.lesion_report import lesion_report_html
from CTOPlaqueLib.plots import MIN_PRINT_FONT_PT, PNG_DPI, profile_figure, straightened_figure
from CTOPlaqueLib.straightening import straighten
from CTOPlaqueLib.volume_io import Volume

PAGE_WIDTH_MM = 210.0 - 2 * 12.0
LESION_COLUMN_MM = (PAGE_WIDTH_MM - 5.0) / 2   # the lesion report's two columns, 5 mm apart
IMAGE = re.compile(r'<img alt="([^"]*)" style="width: ([0-9.]+)mm" src="data:image/png;base64,([^"]+)"')


def printed_font_sizes_pt(figure, placed_width_mm: float) -> dict:
    """{text: its size in pt on paper} of every visible text of ``figure`` placed ``placed_width_mm`` wide."""
    figure.canvas.draw()
    scale = placed_width_mm / (figure.get_figwidth() * 25.4)
    return {text.get_text(): text.get_fontsize() * scale for text in figure.findobj(Text)
            if text.get_visible() and text.get_text().strip()}


def placed_images(page: str) -> dict:
    """{alt text: (placed width in mm, PNG bytes)} of the images of a report page."""
    return {alt: (float(width), base64.b64decode(data)) for alt, width, data in IMAGE.findall(page)}


def assert_prints_legibly(figure, placed_width_mm: float, available_mm: float, png: bytes):
    image = Image.open(io.BytesIO(png))
    assert image.width / image.info["dpi"][0] == pytest.approx(figure.get_figwidth(), rel=0.01)  # this figure's PNG
    assert placed_width_mm <= available_mm
    sizes = printed_font_sizes_pt(figure, placed_width_mm)
    small = {text: round(size, 2) for text, size in sizes.items() if size < MIN_PRINT_FONT_PT}
    assert len(sizes) > 10 and small == {}


@pytest.fixture(scope="module")
def lesion_figures(tmp_path_factory):
    """The curved phantom's profile and straightened figures, their PNGs and the report page holding them."""
    phantom = phantom_for("curved")
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    analysis = analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)
    figures = {"profile": profile_figure(analysis, "P1 / L1"),
               "straightened": straightened_figure(straighten(volume, analysis), analysis, "P1 / L1")}
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

