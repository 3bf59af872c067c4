"""Figures of the cohort report: forest plot of odds ratios (seed paper Figure 4), box plots of the predictors
by outcome group (Figure 3), ROC curves and calibration of the prediction models.

Each figure is drawn at most one A4 page wide (CTOPlaqueLib.plots.PAGE_WIDTH_IN) with no text under 7 pt, and
the report places its PNG at its physical size, so that the text prints at the size it was drawn. Variables are
named by the label table (labels.LabelTable), never by their column ids.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from statsmodels.nonparametric.smoothers_lowess import lowess  # noqa: E402
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

from CTOPlaqueLib.plots import FONT_PT, LABEL_FONT_PT, PAGE_WIDTH_IN, save_png, style_axes  # noqa: E402

from .labels import LabelTable  # noqa: E402

FOREST_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
BOXPLOTS_PER_ROW = 4
BOXPLOT_ROW_IN = 2.3
CALIBRATION_BINS = 10      # deciles of predicted risk
LOWESS_FRACTION = 2.0 / 3.0  # statsmodels' and R's default span; no robustness iterations for a 0/1 outcome


def forest_labels(rows: pd.DataFrame, labels: LabelTable = None) -> list:
    """Y labels of one outcome's panel: the predictor's label (the outcome is the panel's title), its SD in its
    unit, and the method when it is Firth's."""
    labels = labels or LabelTable()
    return [f"{labels.name(r.predictor)} (SD {' '.join(filter(None, (f'{r.sd:.3g}', labels.unit(r.predictor))))})"
            + (", Firth" if r.method == "firth" else "") for r in rows.itertuples()]


def forest_figure(logistic: pd.DataFrame, labels: LabelTable = None):
    """Odds ratios per 1 SD of each predictor with 95% CIs on a log axis, one panel per outcome: adjusted
    models where fitted, otherwise univariate. Per SD, so that predictors in mm3, % and mm share one axis."""
    labels = labels or LabelTable()
    adjusted = logistic[logistic["model"] == "adjusted"] if not logistic.empty else logistic
    shown = adjusted if not adjusted.empty else logistic
    outcomes = list(dict.fromkeys(shown["outcome"])) if not shown.empty else [None]
    heights = [max(int((shown["outcome"] == outcome).sum()), 1) if outcome else 1 for outcome in outcomes]
    figure, panels = plt.subplots(len(outcomes), 1, figsize=(PAGE_WIDTH_IN, 0.8 + 0.3 * sum(heights)
                                                             + 0.5 * len(outcomes)),
                                  squeeze=False, gridspec_kw={"height_ratios": heights})
    kind = "adjusted" if not adjusted.empty else "univariable"
    for axes, outcome in zip(panels[:, 0], outcomes):
        style_axes(axes)
        rows = shown[shown["outcome"] == outcome] if outcome else shown
        if rows.empty:
            axes.text(0.5, 0.5, "no model could be fitted", ha="center", va="center", transform=axes.transAxes,
                      fontsize=LABEL_FONT_PT)
            axes.set_axis_off()
            continue
        positions = np.arange(len(rows))[::-1]
        errors = [rows["or_per_sd"] - rows["ci_low_per_sd"], rows["ci_high_per_sd"] - rows["or_per_sd"]]
        axes.errorbar(rows["or_per_sd"], positions, xerr=errors, fmt="s", color="black", ecolor="0.3", capsize=3,
                      markersize=4)
        axes.axvline(1.0, color="tab:red", linestyle="--", linewidth=1)
        axes.set_xscale("log")
        low, high = axes.get_xlim()
        axes.xaxis.set_major_locator(ticker.FixedLocator([t for t in FOREST_TICKS if low <= t <= high]))
        axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(ticker.NullFormatter())
        axes.set_yticks(positions, forest_labels(rows, labels))
        axes.set_ylim(-0.7, len(rows) - 0.3)
        axes.set_title(f"{labels.name(outcome)}: {kind} models", fontsize=LABEL_FONT_PT)
    panels[-1, 0].set_xlabel("Odds ratio per 1 SD of the predictor (95% CI, log scale)")
    figure.tight_layout()
    return figure


def write_forest_png(path: str, logistic: pd.DataFrame, labels: LabelTable = None) -> None:
    save_png(forest_figure(logistic, labels), path)


def boxplots_figure(cohort: pd.DataFrame, outcomes: dict, predictors: list, labels: LabelTable = None):
    """The asked predictors (numeric columns of ``cohort``) by outcome group, one row of panels per outcome
    (BOXPLOTS_PER_ROW panels a row): groups named failure / success with their n, panels by the predictor's label
    and unit, the outcome's label under them."""
    labels = labels or LabelTable()
    columns = [c for c in predictors if c in cohort.columns]
    rows_per_outcome = max(1, int(np.ceil(len(columns) / BOXPLOTS_PER_ROW)))
    panel_rows = max(len(outcomes), 1) * rows_per_outcome
    figure, grid = plt.subplots(panel_rows, BOXPLOTS_PER_ROW, figsize=(PAGE_WIDTH_IN, BOXPLOT_ROW_IN * panel_rows),
                                squeeze=False)
    for axes in grid.ravel():
        axes.set_axis_off()
    for row, (name, coded) in enumerate(outcomes.items()):
        for column_index, column in enumerate(columns):
            axes = grid[row * rows_per_outcome + column_index // BOXPLOTS_PER_ROW, column_index % BOXPLOTS_PER_ROW]
            axes.set_axis_on()
            values = pd.to_numeric(cohort[column], errors="coerce")
            groups = [values[(coded == g) & values.notna()].to_numpy() for g in (0.0, 1.0)]
            axes.boxplot(groups, tick_labels=[f"failure\n(n = {len(groups[0])})", f"success\n(n = {len(groups[1])})"],
                         widths=0.6, flierprops={"markersize": 3})
            axes.set_title(textwrap.fill(labels.text(column), 26), fontsize=LABEL_FONT_PT)
            axes.set_xlabel(textwrap.fill(labels.name(name), 30))
            style_axes(axes)
    if not outcomes or not columns:
        grid[0, 0].text(0.5, 0.5, "no predictors or outcomes", ha="center", va="center", fontsize=LABEL_FONT_PT)
    figure.tight_layout(h_pad=1.0, w_pad=1.0)
    return figure


def write_boxplots_png(path: str, cohort: pd.DataFrame, outcomes: dict, predictors: list,
                       labels: LabelTable = None) -> None:
    save_png(boxplots_figure(cohort, outcomes, predictors, labels), path)


def roc_points(scores: np.ndarray, outcome: np.ndarray) -> tuple:
    """(false-positive rates, true-positive rates) of the rule 'score >= cut' at every distinct score as the cut,
    from the highest, after the point (0, 0). One sort: the counts at a cut are the cumulative counts at the
    end of its group of tied scores (a loop over cuts costs n^2, 25 s at 100 000 lesions)."""
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    sorted_scores, events = np.asarray(scores, float)[order], np.asarray(outcome)[order] == 1
    group_ends = np.append(np.flatnonzero(np.diff(sorted_scores)), len(order) - 1)
    true_positives, false_positives = np.cumsum(events)[group_ends], np.cumsum(~events)[group_ends]
    tpr = np.concatenate([[0.0], true_positives / max(int(events.sum()), 1)])
    fpr = np.concatenate([[0.0], false_positives / max(int((~events).sum()), 1)])
    return fpr, tpr


def _curve_name(key: tuple, labels: LabelTable) -> str:
    """'Guidewire crossing ≤ 30 min: base + added' from the curve's (outcome column, model)."""
    outcome, model = key
    return f"{labels.name(outcome)}: {model}"


def _unit_square(axes, x_label: str, y_label: str) -> None:
    axes.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_aspect("equal")
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    style_axes(axes)


def roc_figure(curves: dict, labels: LabelTable = None):
    """ROC curves of the prediction models, {(outcome, model): (predicted probabilities, outcome, auc)}, with
    the legend under the axes, where it covers no curve."""
    labels = labels or LabelTable()
    figure, axes = plt.subplots(figsize=(4.4, 3.6 + 0.2 * len(curves)))
    for key, (scores, outcome, auc) in curves.items():
        axes.plot(*roc_points(scores, outcome), label=f"{_curve_name(key, labels)} (AUC {auc:.3f})")
    _unit_square(axes, "1 − specificity", "Sensitivity")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=FONT_PT, frameon=False)
    figure.tight_layout()
    return figure


def write_roc_png(path: str, curves: dict, labels: LabelTable = None) -> None:
    save_png(roc_figure(curves, labels), path)


def calibration_bins(probabilities: np.ndarray, outcome: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Groups of equal size by predicted risk (deciles by default; ties split by position in the sorted order):
    n, mean predicted probability, observed proportion and its Wilson 95% CI, per group from the lowest risk."""
    order = np.argsort(probabilities, kind="stable")
    rows = []
    for group in np.array_split(order, min(bins, len(order))):
        events = int(np.sum(outcome[group]))
        observed = events / len(group)
        low, high = proportion_confint(events, len(group), alpha=0.05, method="wilson")
        # The Wilson interval holds the observed proportion; statsmodels' rounding can put 1 - 1e-16 as the upper
        # bound of all events in 7, 9, 12, ... (and 1e-17 as the lower of none), which the error bars refuse.
        rows.append({"n": len(group), "predicted": float(np.mean(probabilities[group])), "observed": observed,
                     "ci_low": min(float(low), observed), "ci_high": max(float(high), observed)})
    return pd.DataFrame(rows)


def _two_column_panels(count: int, row_height_in: float):
    """A figure of ``count`` panels, two a row across the page (one when ``count`` is 1), the spare panel of an odd
    count switched off; returns the figure and the panels in reading order."""
    columns = min(2, max(count, 1))
    rows = max(1, int(np.ceil(count / columns)))
    figure, grid = plt.subplots(rows, columns, figsize=(PAGE_WIDTH_IN * columns / 2, row_height_in * rows),
                                squeeze=False)
    for axes in grid.ravel()[count:]:
        axes.set_axis_off()
    return figure, grid.ravel()[:count]


def calibration_figure(curves: dict, labels: LabelTable = None):
    """One panel per model: observed proportion against mean predicted probability in deciles of predicted risk,
    with Wilson 95% CIs, and a lowess smoother of the outcome on the prediction over all lesions (statsmodels,
    span 2/3, no robustness iterations, as R's val.prob), beside the line of perfect calibration."""
    labels = labels or LabelTable()
    figure, panels = _two_column_panels(len(curves), 3.4)
    for axes, (key, (probabilities, outcome, _)) in zip(panels, curves.items()):
        binned = calibration_bins(probabilities, outcome)
        axes.errorbar(binned["predicted"], binned["observed"], capsize=2, fmt="o", color="black", markersize=3.5,
                      yerr=[binned["observed"] - binned["ci_low"], binned["ci_high"] - binned["observed"]],
                      label="Deciles (95% CI)")
        smooth = lowess(outcome, probabilities, frac=LOWESS_FRACTION, it=0)
        axes.plot(smooth[:, 0], smooth[:, 1], color="tab:blue", linewidth=1.5, label="Lowess")
        _unit_square(axes, "Predicted probability", "Observed proportion")
        axes.set_title(textwrap.fill(_curve_name(key, labels), 45), fontsize=LABEL_FONT_PT)
        axes.legend(loc="upper left", fontsize=FONT_PT)
    figure.tight_layout()
    return figure


def write_calibration_png(path: str, curves: dict, labels: LabelTable = None) -> None:
    save_png(calibration_figure(curves, labels), path)


def bland_altman_figure(panels: list, labels: LabelTable = None):
    """One Bland–Altman panel per measure and rater pair: ``panels`` = [(measure column, agreement.bland_altman
    result with rater_a and rater_b)]; the difference (b − a) against the mean of the two ratings, the mean
    difference (solid) and the 95% limits of agreement (dashed), each with its value right of the axes, where it
    covers no point."""
    labels = labels or LabelTable()
    figure, panel_axes = _two_column_panels(len(panels), 2.7)
    for axes, (value, result) in zip(panel_axes, panels):
        unit = labels.unit(value)
        axes.scatter(result["means"], result["differences"], s=9, color="0.25")
        for level, style, name in ((result["mean_difference"], "-", "mean"), (result["loa_high"], "--", "+1.96 SD"),
                                   (result["loa_low"], "--", "−1.96 SD")):
            axes.axhline(level, color="tab:blue", linestyle=style, linewidth=1)
            axes.annotate(f"{name}\n{level:.3g}", (1.02, level), xycoords=("axes fraction", "data"), ha="left",
                          va="center", fontsize=FONT_PT, color="tab:blue", annotation_clip=False)
        axes.margins(y=0.25)
        suffix = f" ({unit})" if unit else ""
        axes.set_xlabel(f"Mean of the two ratings{suffix}")
        axes.set_ylabel(f"{result['rater_b']} − {result['rater_a']}{suffix}")
        axes.set_title(textwrap.fill(f"{labels.name(value)} (n = {result['n']})", 45), fontsize=LABEL_FONT_PT)
        style_axes(axes)
    figure.tight_layout()
    return figure


def write_bland_altman_png(path: str, panels: list, labels: LabelTable = None) -> None:
    save_png(bland_altman_figure(panels, labels), path)
