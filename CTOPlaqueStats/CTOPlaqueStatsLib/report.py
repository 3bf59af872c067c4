"""A self-contained HTML report (tables and figures embedded) that opens offline."""

from __future__ import annotations

import base64
import datetime
import html

import pandas as pd

from CTOPlaqueLib import __version__
from CTOPlaqueLib.plots import png_width_mm


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


# comparison.csv's column names as the report shows them (groups by name, not by code)
COMPARISON_HEADERS = {"n_0": "n failure", "n_1": "n success", "summary_0": "failure", "summary_1": "success"}


def _estimate(value, low, high) -> str:
    """'0.97 (0.95-0.99)', or '' where the model was not fitted or the interval is absent."""
    if value is None or pd.isna(value):
        return ""
    interval = "" if low is None or pd.isna(low) else f" ({low:.3g}–{high:.3g})"
    return f"{value:.3g}{interval}"


def _p_text(p) -> str:
    return "" if p is None or pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def logistic_display(logistic: pd.DataFrame) -> pd.DataFrame:
    """logistic.csv as a reader's table: odds ratios with their interval per unit and per SD, p, and p with
    lesions clustered by patient, in ten columns that fit an A4 page."""
    if logistic.empty:
        return logistic
    return pd.DataFrame({
        "outcome": logistic["outcome"], "predictor": logistic["predictor"], "model": logistic["model"],
        "OR per unit (95% CI)": [_estimate(*v) for v in zip(logistic["or"], logistic["ci_low"], logistic["ci_high"])],
        "OR per SD (95% CI)": [_estimate(*v) for v in zip(logistic["or_per_sd"], logistic["ci_low_per_sd"],
                                                          logistic["ci_high_per_sd"])],
        "p": [_p_text(p) for p in logistic["p"]],
        "p, by patient": [_p_text(p) for p in logistic["p_cluster"]],
        "n (events)": [f"{n} ({e})" for n, e in zip(logistic["n"], logistic["events"])],
        "method": logistic["method"], "adjusted for": logistic["covariates"]})


def prediction_display(models: pd.DataFrame, comparison: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The prediction tables as a reader's tables (the CSV files keep every column)."""
    shown_models = pd.DataFrame({
        "outcome": models["outcome"], "model": models["model"],
        "n (events)": [f"{n} ({e})" for n, e in zip(models["n"], models["events"])],
        "AUC (95% CI)": [_estimate(*v) for v in zip(models["auc"], models["auc_ci_low"], models["auc_ci_high"])],
        "AUC, optimism-corrected": [f"{v:.3f}" for v in models["auc_optimism_corrected"]],
        "calibration slope, optimism-corrected": [f"{v:.3f}" for v in models["calibration_slope_optimism_corrected"]]})
    shown_comparison = pd.DataFrame({
        "outcome": comparison["outcome"], "base": comparison["base"], "added": comparison["added"],
        "likelihood ratio χ² (df)": [f"{c:.2f} ({d})" for c, d in zip(comparison["lr_chi2"], comparison["lr_df"])],
        "p (likelihood ratio)": [_p_text(p) for p in comparison["lr_p"]],
        "ΔAUC": [f"{v:+.3f}" for v in comparison["delta_auc"]],
        "p (DeLong)": [_p_text(p) for p in comparison["delong_p"]],
        "NRI (95% CI)": [_estimate(*v) for v in zip(comparison["nri"], comparison["nri_ci_low"],
                                                    comparison["nri_ci_high"])],
        "IDI (95% CI)": [_estimate(*v) for v in zip(comparison["idi"], comparison["idi_ci_low"],
                                                    comparison["idi_ci_high"])]})
    return shown_models, shown_comparison


def _table1_html(table1: pd.DataFrame) -> str:
    """Table 1 per outcome and level, with the groups named by outcome and size as column headers."""
    parts = []
    for (outcome, level), rows in table1.groupby(["outcome", "level"], sort=False):
        shown = rows.rename(columns={"group_0": rows["group_0_name"].iloc[0], "group_1": rows["group_1_name"].iloc[0],
                                     "variable": "", "value": " ", "p": "P", "test": "Test"})
        shown = shown.drop(columns=["outcome", "level", "group_0_name", "group_1_name"])
        shown["P"] = [_p_text(p) for p in rows["p"]]
        parts += [f"<h3>By {html.escape(str(outcome))}, {html.escape(str(level))} level</h3>", _table_html(shown)]
    return "".join(parts)


def write_report_html(path: str, title: str, settings: dict, comparison: pd.DataFrame, logistic: pd.DataFrame,
                      problems: pd.DataFrame, figures: dict, extra_tables=None, table1: pd.DataFrame = None) -> None:
    """The report: settings, problems, Table 1, comparisons, logistic models, then ``extra_tables`` (heading ->
    table, or (table, note printed under it)) and the figures, as one self-contained HTML file."""
    table1 = table1 if table1 is not None else pd.DataFrame()
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>CTOPlaque {__version__}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
             "<h2>Settings</h2><ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
                                              for k, v in settings.items()) + "</ul>",
             "<h2>Problems in the data</h2>", _table_html(problems),
             "<h2>Table 1: characteristics by outcome</h2>",
             _table1_html(table1) if not table1.empty else "<p><em>none</em></p>",
             "<h2>Group comparisons</h2>", _table_html(comparison.rename(columns=COMPARISON_HEADERS)),
             "<h2>Logistic regression</h2>", _table_html(logistic_display(logistic)),
             "<p class='note'>Odds ratios per unit of the predictor and per 1 SD (the SD in the complete rows; "
             "the forest plot shows per SD). Where a patient has several lesions, p by patient is the "
             "cluster-robust p; report it when it differs.</p>"]
    for heading, table in (extra_tables or {}).items():
        table, note = table if isinstance(table, tuple) else (table, "")
        parts += [f"<h2>{html.escape(heading)}</h2>", _table_html(table)]
        parts += [f"<p class='note'>{html.escape(note)}</p>"] if note else []
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
