"""The cohort figures and the agreement report (issue 24, items 8 and 11) against hand calculations: Bland–Altman
limits worked out by hand, Wilson intervals from their formula, the ICC paragraph against Shrout & Fleiss'
published example, and the figures' layout read back from matplotlib."""

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from stats_cohort_data import synthetic_cohort
from test_figure_print import assert_placed_at_physical_size

from CTOPlaqueStatsLib.command import main
from CTOPlaqueStatsLib.figures import boxplots_figure, calibration_bins, calibration_figure, roc_figure

SHROUT_FLEISS_RATINGS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def _write_ratings(path, ratings, value="occlusion_length_mm"):
    rows = [{"lesion": f"L{t}", "observer": f"R{r + 1}", value: ratings[t, r]} for t in range(ratings.shape[0])
            for r in range(ratings.shape[1])]
    pd.DataFrame(rows).to_csv(path, index=False)


def test_bland_altman_limits_equal_a_hand_calculation(tmp_path):
    """Differences R2 - R1 = 1, 0, 1, 2, -1: mean 0.6, SD sqrt(5.2 / 4) = 1.140175, limits 0.6 -/+ 1.96 SD =
    -1.634743 and 2.834743; the mean's 95% CI 0.6 -/+ t(0.975, 4) 2.776445 x SD / sqrt(5) = -0.815715, 2.015715."""
    _write_ratings(tmp_path / "ratings.csv", np.array([[10, 11], [12, 12], [9, 10], [11, 13], [15, 14]]))
    assert main(["icc", str(tmp_path / "ratings.csv"), "--target", "lesion", "--rater", "observer", "--value",
                 "occlusion_length_mm", "--out", str(tmp_path / "icc")]) == 0
    row = pd.read_csv(tmp_path / "icc" / "bland_altman.csv").iloc[0]
    assert (row["rater_a"], row["rater_b"], row["n"]) == ("R1", "R2", 5)
    assert row["mean_difference"] == pytest.approx(0.6, abs=1e-12)
    assert row["sd_difference"] == pytest.approx(1.140175, abs=1e-6)
    assert (row["loa_low"], row["loa_high"]) == pytest.approx((-1.634743, 2.834743), abs=1e-6)
    assert (row["mean_difference_ci_low"], row["mean_difference_ci_high"]) == pytest.approx((-0.815715, 2.015715),
                                                                                            abs=1e-6)
    page = (tmp_path / "icc" / "report.html").read_text(encoding="utf-8")
    assert "-1.63 to 2.83" in page and "0.6 (-0.816 to 2.02)" in page
    assert_placed_at_physical_size(page)


def test_icc_labels_file_names_the_measures(tmp_path):
    _write_ratings(tmp_path / "ratings.csv", SHROUT_FLEISS_RATINGS)
    (tmp_path / "labels.csv").write_text("column,label,unit\nocclusion_length_mm,Lesion length,mm\n")
    assert main(["icc", str(tmp_path / "ratings.csv"), "--target", "lesion", "--rater", "observer", "--value",
                 "occlusion_length_mm", "--labels", str(tmp_path / "labels.csv"), "--out", str(tmp_path / "icc")]) == 0
    page = (tmp_path / "icc" / "report.html").read_text(encoding="utf-8")
    assert "): lesion length, ICC 0.290" in page and "<td>Lesion length (mm)</td>" in page


def test_results_paragraph_gives_icc2_as_published_by_shrout_and_fleiss(tmp_path):
    """ICC2 of Shrout & Fleiss' example: 0.29, 95% CI 0.02-0.76 (published; R psych::ICC), in the paragraph a
    results section prints, with the counts and the form named."""
    _write_ratings(tmp_path / "ratings.csv", SHROUT_FLEISS_RATINGS)
    assert main(["icc", str(tmp_path / "ratings.csv"), "--target", "lesion", "--rater", "observer", "--value",
                 "occlusion_length_mm", "--agreement", "intra-observer", "--out", str(tmp_path / "icc")]) == 0
    page = (tmp_path / "icc" / "report.html").read_text(encoding="utf-8")
    match = re.search(r"Intra-observer agreement \(4 readings, 6 lesions; ICC2, two-way random effects, absolute "
                      r"agreement, single measurement \(Shrout &amp; Fleiss 1979\)\): occlusion length, ICC "
                      r"([0-9.]+) \(95% CI ([-0-9.]+)–([0-9.]+)\)\.", page)
    assert match is not None
    icc, low, high = map(float, match.groups())
    assert icc == pytest.approx(0.29, abs=0.005)
    assert (low, high) == pytest.approx((0.02, 0.76), abs=0.01)
    assert sorted(pd.read_csv(tmp_path / "icc" / "bland_altman.csv")["rater_b"]) == ["R2", "R3", "R4"]


def test_calibration_bins_and_their_wilson_intervals_by_hand():
    """Two groups of 5 by predicted risk; Wilson: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    probabilities = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.95, 0.05])
    outcome = np.array([1, 0, 1, 0, 0, 1, 1, 0, 1, 0], float)
    bins = calibration_bins(probabilities, outcome, bins=2)
    assert bins["n"].tolist() == [5, 5]
    assert bins["predicted"].tolist() == pytest.approx([0.21, 0.79])
    assert bins["observed"].tolist() == pytest.approx([0.2, 0.8])
    z, n = 1.959964, 5
    for p, low, high in zip(bins["observed"], bins["ci_low"], bins["ci_high"]):
        centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert (low, high) == pytest.approx(((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)),
                                            abs=1e-6)


def test_calibration_of_deciles_with_all_or_no_events():
    """Groups of 12 with every or no lesion an event (120 lesions in deciles): Wilson's interval is [0.757, 1] and
    [0, 0.243] (z²/(n + z²) = 0.2425 for n = 12); the figure draws them (statsmodels' upper bound of 1 - 1e-16
    below the observed 1 stopped ``ctoplaque stats`` with a ValueError)."""
    probabilities = np.linspace(0.01, 0.99, 24)
    outcome = np.repeat([0.0, 1.0], 12)
    bins = calibration_bins(probabilities, outcome, bins=2)
    assert bins["observed"].tolist() == [0.0, 1.0]
    z2 = 1.959964 ** 2
    assert bins["ci_low"].tolist() == pytest.approx([0.0, 12 / (12 + z2)], abs=1e-6)
    assert bins["ci_high"].tolist() == pytest.approx([z2 / (12 + z2), 1.0], abs=1e-6)
    assert np.all(bins["ci_low"] <= bins["observed"]) and np.all(bins["observed"] <= bins["ci_high"])
    calibration_figure({("crossing_success", "base"): (probabilities, outcome, 1.0)})


def _curves():
    rng = np.random.default_rng(5)
    risk = rng.uniform(0.2, 0.9, 150)
    outcome = (rng.random(150) < risk).astype(float)
    return {("crossing_success", "base"): (risk, outcome, 0.7), ("crossing_success", "base + added"):
            (risk ** 0.8, outcome, 0.71), ("procedural_success", "base"): (1 - risk, 1 - outcome, 0.7)}


def test_calibration_has_one_panel_per_model_with_ten_binned_points():
    figure = calibration_figure(_curves())
    panels = [axes for axes in figure.axes if axes.axison]
    assert [axes.get_title() for axes in panels] == ["Guidewire crossing ≤ 30 min: base",
                                                     "Guidewire crossing ≤ 30 min: base + added",
                                                     "Procedural success: base"]
    for axes in panels:
        points = [line for line in axes.lines if line.get_marker() == "o"]
        assert len(points) == 1 and len(points[0].get_xdata()) == 10
    plt.close(figure)


def test_roc_legend_lies_outside_the_curves_axes():
    figure = roc_figure(_curves())
    figure.canvas.draw()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent()
    assert not legend.overlaps(axes.get_window_extent())
    plt.close(figure)


def test_box_plots_show_the_asked_predictors_by_their_labels():
    cohort = synthetic_cohort(60, seed=2)
    figure = boxplots_figure(cohort, {"crossing_success": cohort["crossing_success"].astype(float)},
                             ["occlusion_length_mm", "age"])
    titles = [axes.get_title() for axes in figure.axes if axes.axison]
    assert titles == ["Occlusion length (mm)", "Age (years)"]
    plt.close(figure)
