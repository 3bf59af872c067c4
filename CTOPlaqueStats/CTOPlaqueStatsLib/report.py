"""A self-contained HTML report (tables and figures embedded) that opens offline."""

from __future__ import annotations

import base64
import datetime
import html
import re

import pandas as pd

from CTOPlaqueLib import __version__
from CTOPlaqueLib.plots import png_width_mm

from .labels import LabelTable, format_method, format_number, format_or_ci, format_p


# Abbreviations a table may show, spelled out under it as journals require (ICMJE: nonstandard abbreviations in tables
# explained in footnotes).
ABBREVIATIONS = (("AUC", "area under the receiver operating characteristic curve"), ("CI", "confidence interval"),
                 ("IDI", "integrated discrimination improvement"), ("NRI", "net reclassification improvement"),
                 ("OR", "odds ratio"), ("PAV", "percent atheroma volume"), ("Q1–Q3", "first and third quartiles"),
                 ("SD", "standard deviation"))


def abbreviations_note(frame: pd.DataFrame, text: str = "") -> str:
    """'Abbreviations: CI, confidence interval; ...' for those of ABBREVIATIONS that the table (headers and cells)
    or its note ``text`` use as a word, in ABBREVIATIONS' order; '' when none."""
    words = " ".join([text, *map(str, frame.columns), *frame.astype(str).to_numpy().ravel()])
    used = [f"{short}, {meaning}" for short, meaning in ABBREVIATIONS
            if re.search(rf"(?<![\w–]){re.escape(short)}(?![\w–])", words)]
    return "Abbreviations: " + "; ".join(used) + "." if used else ""


def _table_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", escape=True, border=0, classes="data")


def image_html(path: str, caption: str) -> str:
    """The PNG at ``path`` embedded at its physical width (pixels / dpi), so that its text prints at the size it
    was drawn (figures.py draws each at most one A4 page wide), with its caption."""
    with open(path, "rb") as handle:
        png = handle.read()
    return (f'<figure><img alt="{html.escape(caption)}" style="width: {png_width_mm(png):.1f}mm" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


CLUSTER_NOTE = ("Primary analysis, fixed in advance: as some patient has more than one lesion, every "
                "maximum-likelihood model's 95% CI and p are cluster-robust by patient (sandwich variance, as R's "
                "sandwich::vcovCL with HC1). \"p, lesions independent\" is the model-based Wald p, shown for "
                "comparison with analyses that ignore the clustering. Firth rows (separated data) have "
                "profile penalized-likelihood intervals, which are not clustered.")
UNCLUSTERED_NOTE = ("No patient has more than one lesion (or the cohort has no patient_id): model-based Wald intervals "
                    "and p; Firth rows profile penalized likelihood.")


def _covariates_text(covariates, labels: LabelTable) -> str:
    """'Age (years), Sex: M' from logistic.csv's 'age, sex=M'."""
    if not isinstance(covariates, str) or not covariates:
        return "-"
    return ", ".join(labels.text(name) for name in covariates.split(", "))


def _method_text(method: str, interval: str) -> str:
    """'maximum likelihood', or 'Firth (CI not clustered)' where the other rows' CIs are clustered by patient."""
    return format_method(method) + (" (CI not clustered)" if method == "firth" and "not clustered" in interval else "")


def logistic_display(logistic: pd.DataFrame, labels: LabelTable = None) -> pd.DataFrame:
    """logistic.csv as a reader's table: labels, odds ratios with their primary interval per unit and per SD at 3
    decimals, p, the model-based p where the primary one is clustered, n (events), method and covariates."""
    labels = labels or LabelTable()
    if logistic.empty:
        return logistic
    return pd.DataFrame({
        "outcome": [labels.name(o) for o in logistic["outcome"]], "predictor": logistic["label"],
        "model": logistic["model"],
        "OR per unit (95% CI)": [format_or_ci(*v) for v in zip(logistic["or"], logistic["ci_low"],
                                                                logistic["ci_high"])],
        "OR per SD (95% CI)": [format_or_ci(*v) for v in zip(logistic["or_per_sd"], logistic["ci_low_per_sd"],
                                                              logistic["ci_high_per_sd"])],
        "p": [format_p(p) for p in logistic["p"]],
        "p, lesions independent": [format_p(p) for p in logistic["p_model"]],
        "n (events)": [f"{n} ({e})" for n, e in zip(logistic["n"], logistic["events"])],
        "method": [_method_text(m, i) for m, i in zip(logistic["method"], logistic["interval"])],
        "adjusted for": [_covariates_text(c, labels) for c in logistic["covariates"]]})


def comparison_display(comparison: pd.DataFrame, labels: LabelTable = None) -> pd.DataFrame:
    """comparison.csv as a reader's table: labels, not column ids; p as <0.001 or 3 decimals."""
    labels = labels or LabelTable()
    if comparison.empty:
        return comparison
    return pd.DataFrame({
        "outcome": [labels.name(o) for o in comparison["outcome"]], "variable": comparison["label"],
        "category": [f"{c} (reference)" if r == "yes" else c for c, r in zip(comparison["category"],
                                                                              comparison["reference"])],
        "level": comparison["level"], "test": comparison["test"], "p": [format_p(p) for p in comparison["p"]],
        "n failure": comparison["n_0"], "n success": comparison["n_1"], "missing": comparison["missing"],
        "failure": comparison["summary_0"], "success": comparison["summary_1"]})


def _model_text(columns: str, labels: LabelTable) -> str:
    """'Dense calcium PAV (%) + Fibrous PAV (%)' from prediction_comparison.csv's 'dense_calcium_pav + fibrous_pav'."""
    return " + ".join(labels.text(name) for name in columns.split(" + "))


def prediction_display(models: pd.DataFrame, comparison: pd.DataFrame,
                       labels: LabelTable = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The prediction tables as a reader's tables, with labels (the CSV files keep every column and the ids)."""
    labels = labels or LabelTable()
    shown_models = pd.DataFrame({
        "outcome": [labels.name(o) for o in models["outcome"]], "model": models["model"],
        "n (events)": [f"{n} ({e})" for n, e in zip(models["n"], models["events"])],
        "AUC (95% CI)": [format_or_ci(*v) for v in zip(models["auc"], models["auc_ci_low"], models["auc_ci_high"])],
        "AUC, optimism-corrected": [format_number(v, 3) for v in models["auc_optimism_corrected"]],
        "calibration slope, optimism-corrected": [format_number(v, 3)
                                                  for v in models["calibration_slope_optimism_corrected"]]})
    shown_comparison = pd.DataFrame({
        "outcome": [labels.name(o) for o in comparison["outcome"]],
        "base": [_model_text(c, labels) for c in comparison["base"]],
        "added": [_model_text(c, labels) for c in comparison["added"]],
        "likelihood ratio χ² (df)": [f"{c:.2f} ({d})" for c, d in zip(comparison["lr_chi2"], comparison["lr_df"])],
        "p (likelihood ratio)": [format_p(p) for p in comparison["lr_p"]],
        "ΔAUC": [f"{v:+.3f}" for v in comparison["delta_auc"]],
        "p (DeLong)": [format_p(p) for p in comparison["delong_p"]],
        "NRI (95% CI)": [format_or_ci(*v) for v in zip(comparison["nri"], comparison["nri_ci_low"],
                                                    comparison["nri_ci_high"])],
        "IDI (95% CI)": [format_or_ci(*v) for v in zip(comparison["idi"], comparison["idi_ci_low"],
                                                    comparison["idi_ci_high"])]})
    return shown_models, shown_comparison


def _table1_html(table1: pd.DataFrame, labels: LabelTable) -> str:
    """Table 1 per outcome and level, with the groups named by outcome and size as column headers."""
    parts = []
    for (outcome, level), rows in table1.groupby(["outcome", "level"], sort=False):
        shown = rows.rename(columns={"group_0": rows["group_0_name"].iloc[0], "group_1": rows["group_1_name"].iloc[0],
                                     "characteristic": "", "value": " ", "missing": "Missing", "overall": "Overall",
                                     "p": "P", "test": "Test"})
        shown = shown.drop(columns=["outcome", "level", "variable", "group_0_name", "group_1_name"])
        parts += [f"<h3>By {html.escape(labels.name(outcome))}, {html.escape(str(level))} level</h3>",
                  _table_html(shown)]
    return "".join(parts)


def write_report_html(path: str, title: str, settings: dict, comparison: pd.DataFrame, logistic: pd.DataFrame,
                      problems: pd.DataFrame, figures: dict, extra_tables=None, table1: pd.DataFrame = None,
                      table1_note: str = "", clustered: bool = False, labels: LabelTable = None) -> None:
    """The report: settings, problems, Table 1 (with ``table1_note`` under it), comparisons, logistic models (with
    the note on the clustering rule), then ``extra_tables`` (heading -> table, or (table, note printed under it))
    and the figures, as one self-contained HTML file. Tables show labels (``labels``), never column ids."""
    labels = labels or LabelTable()
    table1 = table1 if table1 is not None else pd.DataFrame()

    def note(text, table):
        """The line under ``table``: ``text`` and the abbreviations the table or the text use."""
        text = " ".join(part for part in (text, abbreviations_note(table, text)) if part)
        return [f"<p class='note'>{html.escape(text)}</p>"] if text else []

    shown_comparison, shown_logistic = comparison_display(comparison, labels), logistic_display(logistic, labels)

    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>CTOPlaque {__version__}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
             "<h2>Settings</h2><ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
                                              for k, v in settings.items()) + "</ul>",
             "<h2>Problems in the data</h2>", _table_html(problems),
             "<h2>Table 1: characteristics by outcome</h2>",
             _table1_html(table1, labels) if not table1.empty else "<p><em>none</em></p>", *note(table1_note, table1),
             "<h2>Group comparisons</h2>", _table_html(shown_comparison), *note("", shown_comparison),
             "<h2>Logistic regression</h2>", _table_html(shown_logistic),
             *note("Odds ratios per unit of the predictor and per 1 SD (the SD in the complete rows; the forest plot "
                   "shows per SD). " + (CLUSTER_NOTE if clustered else UNCLUSTERED_NOTE), shown_logistic)]
    for heading, table in (extra_tables or {}).items():
        table, text = table if isinstance(table, tuple) else (table, "")
        parts += [f"<h2>{html.escape(heading)}</h2>", _table_html(table), *note(text, table)]
    parts += [image_html(figure_path, caption) for caption, figure_path in figures.items()]
    style = ("@page{size:A4 portrait;margin:12mm}"
             "body{font-family:sans-serif;margin:2em;max-width:75em}"
             "table.data{border-collapse:collapse;font-size:85%;width:100%;table-layout:auto}"
             "table.data td,table.data th{border-bottom:1px solid #ccc;padding:2px 6px;text-align:left;"
             "overflow-wrap:break-word}"
             "img{max-width:100%;display:block} figure{margin:1em 0} figcaption{color:#555}"
             "p.note{font-size:90%;color:#333}"
             "@media print{body{margin:0;font-size:9pt} table.data{font-size:7.5pt}"
             "h2,h3{break-after:avoid} figure,tr{break-inside:avoid}}")
    document = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(document)
