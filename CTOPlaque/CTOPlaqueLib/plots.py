"""The lesion figure a clinician expects: areas and composition against distance from the ostium."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .analysis import LesionAnalysis  # noqa: E402
from .composition import COMPONENT_COLORS, COMPONENT_NAMES  # noqa: E402
from .export import profile_component_areas  # noqa: E402

LANDMARK_COLORS = {"P": "tab:blue", "D": "tab:blue", "S": "tab:green", "E": "tab:red"}


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
