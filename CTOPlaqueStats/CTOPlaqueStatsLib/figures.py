"""Figures of the cohort report: forest plot of odds ratios (seed paper Figure 4) and box plots of
plaque composition by outcome group (Figure 3)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FOREST_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
COMPOSITION_COLUMNS = [f"{name}_{kind}" for kind in ("volume_mm3", "pav")
                       for name in ("necrotic_core", "fibrofatty", "fibrous", "dense_calcium")]


def forest_labels(rows: pd.DataFrame) -> list:
    """Y labels of one outcome's panel: the predictor (the outcome is the panel's title), its SD, and the
    method when it is Firth's."""
    return [f"{r.predictor} (SD {r.sd:.3g})" + (", Firth" if r.method == "firth" else "") for r in rows.itertuples()]


def write_forest_png(path: str, logistic: pd.DataFrame) -> None:
    """Odds ratios per 1 SD of each predictor with 95% CIs on a log axis, one panel per outcome: adjusted
    models where fitted, otherwise univariate. Per SD, so that predictors in mm3, % and mm share one axis."""
    adjusted = logistic[logistic["model"] == "adjusted"] if not logistic.empty else logistic
    shown = adjusted if not adjusted.empty else logistic
    outcomes = list(dict.fromkeys(shown["outcome"])) if not shown.empty else [None]
    heights = [max(int((shown["outcome"] == outcome).sum()), 1) if outcome else 1 for outcome in outcomes]
    figure, panels = plt.subplots(len(outcomes), 1, figsize=(8, 1.0 + 0.45 * sum(heights) + 0.6 * len(outcomes)),
                                  squeeze=False, gridspec_kw={"height_ratios": heights})
    kind = "adjusted" if not adjusted.empty else "univariate"
    for axes, outcome in zip(panels[:, 0], outcomes):
        rows = shown[shown["outcome"] == outcome] if outcome else shown
        if rows.empty:
            axes.text(0.5, 0.5, "no model could be fitted", ha="center", va="center", transform=axes.transAxes)
            axes.set_axis_off()
            continue
        positions = np.arange(len(rows))[::-1]
        errors = [rows["or_per_sd"] - rows["ci_low_per_sd"], rows["ci_high_per_sd"] - rows["or_per_sd"]]
        axes.errorbar(rows["or_per_sd"], positions, xerr=errors, fmt="s", color="black", ecolor="0.3", capsize=3)
        axes.axvline(1.0, color="tab:red", linestyle="--", linewidth=1)
        axes.set_xscale("log")
        low, high = axes.get_xlim()
        axes.xaxis.set_major_locator(ticker.FixedLocator([t for t in FOREST_TICKS if low <= t <= high]))
        axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(ticker.NullFormatter())
        axes.tick_params(labelsize=10)
        axes.set_yticks(positions, forest_labels(rows))
        axes.set_ylim(-0.7, len(rows) - 0.3)
        axes.set_title(f"{outcome}: {kind} models", fontsize=11)
    panels[-1, 0].set_xlabel("Odds ratio per 1 SD of the predictor (95% CI, log scale)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _component_title(column: str) -> str:
    """'necrotic_core_pav' -> 'Necrotic core PAV (%)', 'fibrous_volume_mm3' -> 'Fibrous volume (mm³)'."""
    for suffix, text in (("_pav", "PAV (%)"), ("_volume_mm3", "volume (mm³)")):
        if column.endswith(suffix):
            return f"{column[:-len(suffix)].replace('_', ' ').capitalize()} {text}"
    return column


def write_boxplots_png(path: str, cohort: pd.DataFrame, outcomes: dict) -> None:
    """Component volumes and PAVs by outcome group, one row of panels per outcome, legible at print size
    (10-11 pt at A4 width): groups named failure / success with their n."""
    columns = [c for c in COMPOSITION_COLUMNS if c in cohort.columns]
    per_row = 4
    rows_per_outcome = max(1, int(np.ceil(len(columns) / per_row)))
    panel_rows = max(len(outcomes), 1) * rows_per_outcome
    figure, grid = plt.subplots(panel_rows, per_row, figsize=(11, 3.2 * panel_rows), squeeze=False)
    for axes in grid.ravel():
        axes.set_axis_off()
    for row, (name, coded) in enumerate(outcomes.items()):
        for column_index, column in enumerate(columns):
            axes = grid[row * rows_per_outcome + column_index // per_row, column_index % per_row]
            axes.set_axis_on()
            values = pd.to_numeric(cohort[column], errors="coerce")
            groups = [values[(coded == g) & values.notna()].to_numpy() for g in (0.0, 1.0)]
            axes.boxplot(groups, tick_labels=[f"failure\n(n = {len(groups[0])})", f"success\n(n = {len(groups[1])})"],
                         widths=0.6)
            axes.set_title(_component_title(column), fontsize=11)
            axes.set_xlabel(name, fontsize=10)
            axes.tick_params(labelsize=10)
    if not outcomes or not columns:
        grid[0, 0].text(0.5, 0.5, "no composition columns or outcomes", ha="center", va="center")
    # Margins in inches for the 10-11 pt labels, rather than tight_layout, which measures every label again
    # (a quarter of this figure's time at the seed paper's size).
    height_in = figure.get_figheight()
    gap_in = 1.15  # tick labels on two lines, the x label, and the next row's title
    figure.subplots_adjust(left=0.6 / 11, right=1 - 0.3 / 11, top=1 - 0.35 / height_in, bottom=0.75 / height_in,
                           wspace=0.35, hspace=gap_in / (3.2 - gap_in))
    figure.savefig(path, dpi=110)
    plt.close(figure)


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


def _write_unit_square_plot(path: str, lines: list, x_label: str, y_label: str, legend_at: str) -> None:
    """Curves on [0, 1] x [0, 1] with the identity line: lines = [(x, y, label, matplotlib format)]."""
    figure, axes = plt.subplots(figsize=(5, 5))
    for x, y, label, style in lines:
        axes.plot(x, y, style, label=label)
    axes.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.legend(loc=legend_at, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_roc_png(path: str, curves: dict) -> None:
    """ROC curves: {label: (predicted probabilities, outcome, auc)}."""
    lines = [(*roc_points(scores, outcome), f"{label} (AUC {auc:.3f})", "-")
             for label, (scores, outcome, auc) in curves.items()]
    _write_unit_square_plot(path, lines, "1 - specificity", "Sensitivity", "lower right")


def write_calibration_png(path: str, curves: dict) -> None:
    """Observed event rate against mean predicted probability in deciles of prediction."""
    lines = []
    for label, (probabilities, outcome, _) in curves.items():
        order = np.argsort(probabilities)
        groups = np.array_split(order, min(10, max(len(order) // 5, 1)))
        lines.append(([probabilities[g].mean() for g in groups], [outcome[g].mean() for g in groups], label, "o-"))
    _write_unit_square_plot(path, lines, "Predicted probability (decile mean)", "Observed proportion", "upper left")
