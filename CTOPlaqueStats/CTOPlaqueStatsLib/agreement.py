"""The observer-agreement report of ``ctoplaque icc``: the ICC as a results paragraph reports it, and the
Bland–Altman limits of agreement of each measure.

Which ICC: the paragraph gives ICC2 of Shrout & Fleiss (1979), two-way random effects, absolute agreement,
single measurement (McGraw & Wong's ICC(A,1)), as Koo & Li (J Chiropr Med 2016;15:155) recommend for
observer studies: a systematic offset between observers or readings lowers it, and one observer's single
measurement is what a clinic uses. icc.csv keeps all six forms.

Bland–Altman (Lancet 1986;327:307): per target, the difference of the two ratings (second rater minus first,
raters in sorted order) against their mean; the mean difference d̄ (bias, with its t-based 95% CI) and the 95%
limits of agreement d̄ ± 1.96 s, s the SD of the differences (n - 1). With more than two raters, each rater is
compared with the first.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from CTOPlaqueLib import __version__

from .labels import LabelTable, format_p
from .report import image_html

REPORTED_FORM = "ICC2"
REPORTED_FORM_TEXT = "ICC2, two-way random effects, absolute agreement, single measurement (Shrout & Fleiss 1979)"
LIMITS_Z = 1.96
BLAND_ALTMAN_COLUMNS = ["value", "rater_a", "rater_b", "n", "mean_difference", "mean_difference_ci_low",
                        "mean_difference_ci_high", "sd_difference", "loa_low", "loa_high"]


def bland_altman(first: np.ndarray, second: np.ndarray) -> dict:
    """Bias and 95% limits of agreement of paired ratings: n, mean_difference (second - first) with its 95% CI,
    sd_difference, loa_low, loa_high; and the points (means, differences) to plot."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    differences = second - first
    n = len(differences)
    bias, sd = float(differences.mean()), float(differences.std(ddof=1))
    half_ci = float(stats.t.ppf(0.975, n - 1)) * sd / np.sqrt(n)
    return {"n": n, "mean_difference": bias, "mean_difference_ci_low": bias - half_ci,
            "mean_difference_ci_high": bias + half_ci, "sd_difference": sd, "loa_low": bias - LIMITS_Z * sd,
            "loa_high": bias + LIMITS_Z * sd, "means": (first + second) / 2.0, "differences": differences}


def bland_altman_rows(value: str, wide: pd.DataFrame) -> list:
    """Bland–Altman of one measure: each rater (column of ``wide``, complete targets as rows) against the first."""
    raters = list(wide.columns)
    return [{"value": value, "rater_a": str(raters[0]), "rater_b": str(other),
             **bland_altman(wide[raters[0]].to_numpy(float), wide[other].to_numpy(float))} for other in raters[1:]]


def _in_sentence(name: str) -> str:
    """'Occlusion length' -> 'occlusion length' inside a sentence; 'LVEF' stays."""
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


def results_paragraph(icc: pd.DataFrame, agreement: str, labels: LabelTable) -> str:
    """The ICC of every measure as a results section writes it: 'Inter-observer agreement (2 observers, 30
    lesions; ICC2, ...): occlusion length, ICC 0.953 (95% CI 0.902–0.978); total plaque volume, ...'."""
    rows = icc[icc["form"] == REPORTED_FORM]
    if rows.empty:
        return ""
    raters = "readings" if agreement == "intra-observer" else "observers"
    sizes = sorted({(int(r.n_raters), int(r.n_targets)) for r in rows.itertuples()})
    counts = "; ".join(f"{k} {raters}, {n} lesions" for k, n in sizes)
    measures = "; ".join(f"{_in_sentence(labels.name(r.value))}, ICC {r.icc:.3f} "
                         f"(95% CI {r.ci_low:.3f}–{r.ci_high:.3f})" for r in rows.itertuples())
    return f"{agreement.capitalize()} agreement ({counts}; {REPORTED_FORM_TEXT}): {measures}."


def icc_display(icc: pd.DataFrame, labels: LabelTable) -> pd.DataFrame:
    """icc.csv as a reader's table: per measure, the reported absolute-agreement ICC and the consistency ICC
    (ICC3, which a constant offset between raters does not lower), each with its 95% CI, and the F test's p."""
    def cell(rows, form):
        row = rows[rows["form"] == form].iloc[0]
        return f"{row['icc']:.3f} ({row['ci_low']:.3f}–{row['ci_high']:.3f})"

    shown = []
    for value, rows in icc.groupby("value", sort=False):
        shown.append({"measure": labels.text(value), "lesions": int(rows["n_targets"].iloc[0]),
                      "raters": int(rows["n_raters"].iloc[0]), "ICC, absolute agreement (95% CI)": cell(rows, "ICC2"),
                      "ICC, consistency (95% CI)": cell(rows, "ICC3"),
                      "p": format_p(rows[rows["form"] == "ICC2"]["p"].iloc[0])})
    return pd.DataFrame(shown)


def bland_altman_display(rows: pd.DataFrame, labels: LabelTable) -> pd.DataFrame:
    """bland_altman.csv as a reader's table, in each measure's unit, at 3 significant digits."""
    return pd.DataFrame({
        "measure": [labels.text(v) for v in rows["value"]],
        "difference": [f"{b} − {a}" for a, b in zip(rows["rater_a"], rows["rater_b"])], "n": rows["n"],
        "mean difference (95% CI)": [f"{m:.3g} ({lo:.3g} to {hi:.3g})" for m, lo, hi in
                                     zip(rows["mean_difference"], rows["mean_difference_ci_low"],
                                         rows["mean_difference_ci_high"])],
        "SD of differences": [f"{s:.3g}" for s in rows["sd_difference"]],
        "95% limits of agreement": [f"{lo:.3g} to {hi:.3g}" for lo, hi in zip(rows["loa_low"], rows["loa_high"])]})


def write_agreement_report(path: str, paragraph: str, icc_table: pd.DataFrame, bland_altman_table: pd.DataFrame,
                           figure_path: str) -> None:
    """The agreement report: the results paragraph, the ICC and Bland–Altman tables and the Bland–Altman
    figure, as one self-contained HTML file that prints on A4."""
    def table(frame):
        return frame.to_html(index=False, border=0, classes="data", escape=True)

    style = ("@page{size:A4 portrait;margin:12mm} body{font-family:sans-serif;margin:2em;max-width:75em}"
             "table.data{border-collapse:collapse;font-size:85%} table.data td,table.data th{border-bottom:1px "
             "solid #ccc;padding:2px 6px;text-align:left} img{max-width:100%;display:block} figure{margin:1em 0}"
             "figcaption{color:#555} @media print{body{margin:0;font-size:9pt} figure,tr{break-inside:avoid}}")
    parts = [f"<h1>Observer agreement</h1><p>CTOPlaque {html.escape(__version__)}</p>",
             f"<h2>Results</h2><p>{html.escape(paragraph)}</p>",
             "<h2>Intraclass correlation</h2>", table(icc_table),
             "<p class='note'>All six Shrout &amp; Fleiss forms, with F and df, are in icc.csv.</p>",
             "<h2>Bland–Altman</h2>", table(bland_altman_table),
             image_html(figure_path, "Bland–Altman plots: difference against mean of the ratings, mean difference "
                                     "and 95% limits of agreement (mean ± 1.96 SD)")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Observer agreement</title>"
                     f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
