"""Figures of the cohort report: forest plot of odds ratios (seed paper Figure 4) and box plots of
plaque composition by outcome group (Figure 3)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COMPOSITION_COLUMNS = [f"{name}_{kind}" for kind in ("volume_mm3", "pav")
                       for name in ("necrotic_core", "fibrofatty", "fibrous", "dense_calcium")]


def write_forest_png(path: str, logistic: pd.DataFrame) -> None:
    """Odds ratios with 95% CIs on a log axis: adjusted models where fitted, otherwise univariate."""
    adjusted = logistic[logistic["model"] == "adjusted"] if not logistic.empty else logistic
    shown = adjusted if not adjusted.empty else logistic
    figure, axes = plt.subplots(figsize=(8, 1.2 + 0.35 * max(len(shown), 1)))
    if shown.empty:
        axes.text(0.5, 0.5, "no model could be fitted", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    else:
        positions = np.arange(len(shown))[::-1]
        labels = [f"{r.outcome}: {r.predictor}" + (" (Firth)" if r.method == "firth" else "")
                  for r in shown.itertuples()]
        errors = [shown["or"] - shown["ci_low"], shown["ci_high"] - shown["or"]]
        axes.errorbar(shown["or"], positions, xerr=errors, fmt="s", color="black", ecolor="0.3", capsize=3)
        axes.axvline(1.0, color="tab:red", linestyle="--", linewidth=1)
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axes.tick_params(axis="x", which="minor", labelsize=7)
        axes.set_yticks(positions, labels)
        axes.set_xlabel("Odds ratio (95% CI, log scale)")
        title = "adjusted" if not adjusted.empty else "univariate"
        axes.set_title(f"Logistic regression, {title} models")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_boxplots_png(path: str, cohort: pd.DataFrame, outcomes: dict) -> None:
    """Component volumes and PAVs by outcome group, one row of panels per outcome."""
    columns = [c for c in COMPOSITION_COLUMNS if c in cohort.columns]
    rows = max(len(outcomes), 1)
    figure, grid = plt.subplots(rows, max(len(columns), 1), figsize=(2.2 * max(len(columns), 1), 2.8 * rows),
                                squeeze=False)
    for row, (name, coded) in enumerate(outcomes.items()):
        for column_index, column in enumerate(columns):
            axes = grid[row, column_index]
            values = pd.to_numeric(cohort[column], errors="coerce")
            groups = [values[(coded == g) & values.notna()].to_numpy() for g in (0.0, 1.0)]
            axes.boxplot(groups, tick_labels=["0", "1"], widths=0.6)
            axes.set_title(column.replace("_", " "), fontsize=8)
            axes.set_xlabel(name, fontsize=8)
            axes.tick_params(labelsize=7)
    if not outcomes or not columns:
        grid[0, 0].text(0.5, 0.5, "no composition columns or outcomes", ha="center", va="center")
        grid[0, 0].set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _roc_points(scores: np.ndarray, outcome: np.ndarray):
    thresholds = np.unique(scores)[::-1]
    positives, negatives = max(outcome.sum(), 1), max((1 - outcome).sum(), 1)
    tpr = [0.0] + [float(((scores >= t) & (outcome == 1)).sum() / positives) for t in thresholds]
    fpr = [0.0] + [float(((scores >= t) & (outcome == 0)).sum() / negatives) for t in thresholds]
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
    lines = [(*_roc_points(scores, outcome), f"{label} (AUC {auc:.3f})", "-")
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
