"""The lesion figures a clinician expects: areas and composition against distance from the ostium, and the
straightened vessel with its contours and the colour composition overlay.

Each figure is drawn at the size the one-page report prints it (lesion_report places a PNG at its physical
size, pixels / dpi), with no text under MIN_PRINT_FONT_PT, so that it reads on paper; the PNG's resolution
(PNG_DPI) keeps it sharp on screen.

Matplotlib is imported by the functions that draw (a second of CPU on a loaded machine: the verbs that write no
figure do not pay it), and the figures are drawn on their own Agg canvas, without pyplot.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image  # matplotlib's own dependency

from .analysis import LesionAnalysis
from .composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS
from .export import profile_component_areas
from .straightening import LongitudinalSection, longitudinal_section, plane_directions
from .volume_io import Volume

MIN_PRINT_FONT_PT = 7.0   # the smallest text a printed figure may carry
FONT_PT = 7.5             # ticks, legends, keys
LABEL_FONT_PT = 8.0       # axis labels, titles
PNG_DPI = 200
PNG_COMPRESS_LEVEL = 1
PAGE_WIDTH_IN = 186.0 / 25.4     # A4 portrait less 12 mm margins: the straightened vessel
COLUMN_WIDTH_IN = 88.0 / 25.4    # one of the report's two columns: the profile
LANDMARK_COLORS = {"P": "tab:blue", "D": "tab:blue", "S": "tab:green", "E": "tab:red"}
LANDMARK_NAMES = {"S": "proximal reference", "P": "proximal cap", "D": "distal cap", "E": "distal reference"}
# The scene's contour colours on the CT; the area curves use darker tones of the same, which read on white.
CONTOUR_COLORS = {"lumen": "gold", "vessel": "darkorange"}
CURVE_COLORS = {"lumen": "darkgoldenrod", "vessel": "saddlebrown"}
CCTA_WINDOW_HU = (-150.0, 550.0)  # level 200, width 700


def png_width_mm(png_bytes: bytes) -> float:
    """The physical width of a PNG (pixels / the dpi in its pHYs chunk), in mm: the width a page places it at."""
    image = Image.open(io.BytesIO(png_bytes))
    return image.width / image.info["dpi"][0] * 25.4


def save_png(figure, path: str) -> None:
    """Write ``figure`` as a PNG at PNG_DPI (its physical size kept in the file) and close it where pyplot holds
    it (the statistics' figures; ``new_figure``'s have no pyplot manager). PNG_COMPRESS_LEVEL: the same pixels as
    zlib's default level 6 in a third of the encoding time (0.06 instead of 0.17 s for the two figures), in a file
    up to 30% larger (360 instead of 280 KiB for the straightened vessel)."""
    figure.savefig(path, dpi=PNG_DPI, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    if figure.canvas.manager is not None:
        import matplotlib.pyplot as plt

        plt.close(figure)


def new_figure(width_in: float, height_in: float, rows: int):
    """A figure of ``rows`` axes above each other sharing the x axis, on its own Agg canvas at PNG_DPI (no pyplot:
    nothing to close, no figure manager), and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=PNG_DPI)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, 1, sharex=True)


def landmark_key(lines: int = 1) -> str:
    """'S proximal reference · P proximal cap · D distal cap · E distal reference', in the order along the vessel,
    on one line or two."""
    names = [f"{label} {LANDMARK_NAMES[label]}" for label in "SPDE"]
    per_line = len(names) // lines
    return "\n".join(" · ".join(names[start:start + per_line]) for start in range(0, len(names), per_line))


def style_axes(axes) -> None:
    """Tick labels at FONT_PT, axis labels at LABEL_FONT_PT: the print sizes of every report figure."""
    axes.tick_params(labelsize=FONT_PT)
    axes.xaxis.label.set_size(LABEL_FONT_PT)
    axes.yaxis.label.set_size(LABEL_FONT_PT)


def set_title(axes, title: str) -> None:
    """The title 12 pt above the axes (clear of the landmark letters) at LABEL_FONT_PT. Its height is given (y = 1,
    the top of the axes), so that matplotlib skips its automatic placement, a layout of the tick labels at each
    draw that only moves a title above x tick labels or an offset text at the top, which these figures have not:
    the same pixels, 0.015 s less per figure."""
    axes.set_title(title, pad=12, fontsize=LABEL_FONT_PT, y=1.0)


def _mark_landmarks(axes, landmarks_mm: dict, letters: bool) -> None:
    """Dashed lines at the landmarks; with ``letters``, their letters above the axes."""
    for label, position in landmarks_mm.items():
        axes.axvline(position, color=LANDMARK_COLORS[label], linestyle="--", linewidth=1)
        if letters:
            axes.annotate(label, (position, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                          color=LANDMARK_COLORS[label], fontweight="bold", fontsize=LABEL_FONT_PT)


def _swatches(components) -> list:
    """Legend patches of the components in their colours, outlined so that white dense calcium shows."""
    from matplotlib.patches import Rectangle

    return [Rectangle((0, 0), 1, 1, facecolor=COMPONENT_COLORS[c], edgecolor="0.3") for c in components]


def _add_key(figure, handles: list, labels: list, columns: int, key_lines: int, key_height: float) -> None:
    """The figure's legend under the plots, above the landmark key (``key_lines`` lines, ``key_height`` of the
    figure's height), so that neither covers a curve."""
    figure.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, key_height), ncol=columns,
                  fontsize=FONT_PT, frameon=False, handlelength=1.5, columnspacing=1.2, borderaxespad=0.2)
    figure.text(0.5, 0.01, landmark_key(key_lines), ha="center", va="bottom", fontsize=FONT_PT)


def profile_figure(analysis: LesionAnalysis, title: str = ""):
    """Two panels sharing the distance axis: lumen and vessel area along the whole centerline; the plaque's
    component areas between P and D only (outside the occlusion the wall is normal vessel wall, not plaque).

    P and D (occlusion caps, blue), S (green) and E (red) reference sections are marked, as in Figure 2B of the
    seed paper, and explained under the plots; components use the paper's colours (NC red, FF light green,
    fibrous green, DC white) on a dark background so that dense calcium stays visible. One report column wide.
    """
    profile = analysis.profile
    figure, (areas, composition) = new_figure(COLUMN_WIDTH_IN, 3.5, 2)
    vessel, = areas.plot(profile.arc_mm, profile.vessel_area_mm2, color=CURVE_COLORS["vessel"], linewidth=1.5)
    lumen, = areas.plot(profile.arc_mm, profile.lumen_area_mm2, color=CURVE_COLORS["lumen"], linewidth=1.5)
    areas.axvspan(analysis.landmarks_mm["P"], analysis.landmarks_mm["D"], color="0.9", zorder=0)
    areas.set_ylabel("Area (mm²)")
    _mark_landmarks(areas, analysis.landmarks_mm, letters=True)
    if title:
        set_title(areas, title)

    occluded = analysis.occluded_sections()
    components = profile_component_areas(analysis)
    composition.stackplot(profile.arc_mm[occluded], *[areas_mm2[occluded] for areas_mm2 in components.values()],
                          colors=[COMPONENT_COLORS[n] for n in components])
    composition.set_facecolor("0.25")
    composition.set_xlim(profile.arc_mm[0], profile.arc_mm[-1])
    composition.set_ylabel("Plaque area, P–D (mm²)")
    composition.set_xlabel("Distance from ostium (mm)")
    _mark_landmarks(composition, analysis.landmarks_mm, letters=False)
    for axes in (areas, composition):
        style_axes(axes)
    _add_key(figure, [vessel, lumen] + _swatches(components),
             ["Vessel area", "Lumen area"] + [COMPONENT_NAMES[n] for n in components], columns=3,
             key_lines=2, key_height=0.075)
    figure.subplots_adjust(left=0.15, right=0.97, top=0.92, bottom=0.3, hspace=0.12)
    return figure


def write_profile_png(path: str, analysis: LesionAnalysis, title: str = "") -> None:
    save_png(profile_figure(analysis, title), path)


def straightened_figure(volume: Volume, analysis: LesionAnalysis, title: str = ""):
    """The straightened vessel of ``analysis`` cut along its axis in two perpendicular planes
    (straightening.longitudinal_section: those of straightening.straighten, sampled alone), as Figure 2A of the
    seed paper: CT in a CCTA window, lumen (gold) and outer wall (orange) contours,
    and the occluded wall between P and D coloured by component (NC red, FF light green, fibrous green, DC
    white). Each plane's up and down are named by the patient directions they point to at the occlusion
    (straightening.plane_directions). One page wide."""
    figure, axes = new_figure(PAGE_WIDTH_IN, 2.9, 2)
    directions = plane_directions(analysis)
    for row, axis in zip(axes, ("u", "v")):
        _draw_longitudinal_section(row, longitudinal_section(volume, analysis, axis), analysis)
        up, down = directions[axis]
        row.set_ylabel(f"↑ {up}\n(mm)\n↓ {down}", fontsize=FONT_PT)
        _mark_landmarks(row, analysis.landmarks_mm, letters=row is axes[0])
        style_axes(row)
    axes[1].set_xlabel("Distance from ostium (mm)")
    if title:
        set_title(axes[0], f"{title}: two perpendicular cuts along the vessel; directions at the occlusion")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=CONTOUR_COLORS[name], linewidth=1.5) for name in ("lumen", "vessel")]
    _add_key(figure, handles + _swatches(COMPONENTS),
             ["Lumen contour", "Outer wall contour"] + [COMPONENT_NAMES[c] for c in COMPONENTS],
             columns=6, key_lines=1, key_height=0.05)
    figure.subplots_adjust(left=0.13, right=0.99, top=0.91, bottom=0.25, hspace=0.08)
    return figure


def write_straightened_png(path: str, volume: Volume, analysis: LesionAnalysis, title: str = "") -> None:
    save_png(straightened_figure(volume, analysis, title), path)


def _draw_longitudinal_section(axes, section: LongitudinalSection, analysis: LesionAnalysis) -> None:
    arc = analysis.centerline.arc_mm
    extent = (arc[0], arc[-1], section.offsets_mm[0], section.offsets_mm[-1])
    axes.imshow(section.hu, cmap="gray", vmin=CCTA_WINDOW_HU[0], vmax=CCTA_WINDOW_HU[1], origin="lower",
                extent=extent, aspect="auto", interpolation="bilinear")
    from matplotlib.colors import ListedColormap

    overlay = np.ma.masked_equal(section.composition, 0)
    colours = ListedColormap([COMPONENT_COLORS[c] for c in COMPONENTS])
    axes.imshow(overlay, cmap=colours, vmin=0.5, vmax=len(COMPONENTS) + 0.5, origin="lower", extent=extent,
                aspect="auto", interpolation="nearest", alpha=0.75)
    lumen = np.where(np.abs(section.lumen_edges_mm) > 0, section.lumen_edges_mm, np.nan)  # none in the occlusion
    for name, edges in (("lumen", lumen), ("vessel", section.vessel_edges_mm)):
        for side in edges:
            axes.plot(arc, side, color=CONTOUR_COLORS[name], linewidth=0.9)
