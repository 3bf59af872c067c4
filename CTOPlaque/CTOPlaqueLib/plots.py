"""The lesion figures a clinician expects: areas and composition against distance from the ostium, and the
straightened vessel with its contours and the colour composition overlay."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from .analysis import LesionAnalysis  # noqa: E402
from .composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS  # noqa: E402
from .export import profile_component_areas  # noqa: E402
from .straightening import LongitudinalSection, StraightenedVessel, longitudinal_section  # noqa: E402

LANDMARK_COLORS = {"P": "tab:blue", "D": "tab:blue", "S": "tab:green", "E": "tab:red"}
CONTOUR_COLORS = {"lumen": "gold", "vessel": "darkorange"}  # as the area curves and the scene's contours
CCTA_WINDOW_HU = (-150.0, 550.0)  # level 200, width 700


def _mark_landmarks(axes, landmarks_mm: dict) -> None:
    for label, position in landmarks_mm.items():
        axes.axvline(position, color=LANDMARK_COLORS[label], linestyle="--", linewidth=1)
        axes.annotate(label, (position, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                      color=LANDMARK_COLORS[label], fontweight="bold")


def write_profile_png(path: str, analysis: LesionAnalysis, title: str = "") -> None:
    """Two panels sharing the distance axis: lumen and vessel area; stacked component areas.

    P and D (occlusion caps, blue), S (green) and E (red) reference sections are marked, as in
    Figure 2B of the seed paper; components use the paper's colours (NC red, FF light green,
    fibrous green, DC white) on a dark background so that dense calcium stays visible.
    """
    profile = analysis.profile
    figure, (areas, composition) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True,
                                                gridspec_kw={"height_ratios": [1, 1]})
    areas.plot(profile.arc_mm, profile.vessel_area_mm2, color="darkorange", label="Vessel area")
    areas.plot(profile.arc_mm, profile.lumen_area_mm2, color="gold", label="Lumen area")
    areas.axvspan(analysis.landmarks_mm["P"], analysis.landmarks_mm["D"], color="0.85", zorder=0)
    areas.set_ylabel("Area (mm²)")
    areas.legend(loc="upper right")
    _mark_landmarks(areas, analysis.landmarks_mm)
    if title:
        areas.set_title(title, pad=18)

    components = profile_component_areas(analysis)
    composition.stackplot(profile.arc_mm, *components.values(), labels=[COMPONENT_NAMES[n] for n in components],
                          colors=[COMPONENT_COLORS[n] for n in components])
    composition.set_facecolor("0.25")
    composition.set_ylabel("Plaque area (mm²)")
    composition.set_xlabel("Distance from ostium (mm)")
    composition.legend(loc="upper right", fontsize="small", facecolor="0.4", labelcolor="white")
    for label, position in analysis.landmarks_mm.items():
        composition.axvline(position, color=LANDMARK_COLORS[label], linestyle="--", linewidth=1)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_straightened_png(path: str, straight: StraightenedVessel, analysis: LesionAnalysis, title: str = "") -> None:
    """The straightened vessel (straightening.straighten of ``analysis``) cut along its axis in two perpendicular
    planes, as Figure 2A of the seed paper: CT in a CCTA window, lumen (gold) and outer wall (orange) contours,
    and the occluded wall between P and D coloured by component (NC red, FF light green, fibrous green, DC
    white)."""
    figure, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for row, (axis, name) in zip(axes, (("u", "plane 0-180°"), ("v", "plane 90-270°"))):
        _draw_longitudinal_section(row, longitudinal_section(straight, analysis, axis), analysis)
        row.set_ylabel(f"Offset (mm)\n{name}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COMPONENT_COLORS[c]) for c in COMPONENTS]
    axes[0].legend(handles, [COMPONENT_NAMES[c] for c in COMPONENTS], loc="upper right", fontsize="small",
                   ncol=4, facecolor="0.3", labelcolor="white")
    _mark_landmarks(axes[0], analysis.landmarks_mm)
    for label, position in analysis.landmarks_mm.items():
        axes[1].axvline(position, color=LANDMARK_COLORS[label], linestyle="--", linewidth=1)
    axes[1].set_xlabel("Distance from ostium (mm)")
    if title:
        axes[0].set_title(title, pad=18)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _draw_longitudinal_section(axes, section: LongitudinalSection, analysis: LesionAnalysis) -> None:
    arc = analysis.centerline.arc_mm
    extent = (arc[0], arc[-1], section.offsets_mm[0], section.offsets_mm[-1])
    axes.imshow(section.hu, cmap="gray", vmin=CCTA_WINDOW_HU[0], vmax=CCTA_WINDOW_HU[1], origin="lower",
                extent=extent, aspect="auto", interpolation="bilinear")
    overlay = np.ma.masked_equal(section.composition, 0)
    colours = ListedColormap([COMPONENT_COLORS[c] for c in COMPONENTS])
    axes.imshow(overlay, cmap=colours, vmin=0.5, vmax=len(COMPONENTS) + 0.5, origin="lower", extent=extent,
                aspect="auto", interpolation="nearest", alpha=0.75)
    lumen = np.where(np.abs(section.lumen_edges_mm) > 0, section.lumen_edges_mm, np.nan)  # none in the occlusion
    for name, edges in (("lumen", lumen), ("vessel", section.vessel_edges_mm)):
        for side in edges:
            axes.plot(arc, side, color=CONTOUR_COLORS[name], linewidth=0.9)
