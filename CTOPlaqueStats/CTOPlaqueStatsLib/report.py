"""A self-contained HTML report (tables and figures embedded) that opens offline."""

from __future__ import annotations

import base64
import datetime
import html

import pandas as pd

from CTOPlaqueLib import __version__


def _table_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", escape=True, border=0, classes="data")


def _image_html(path: str, caption: str) -> str:
    with open(path, "rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table1_html(table1: pd.DataFrame) -> str:
    """Table 1 per outcome and level, with the groups named by outcome and size as column headers."""
    parts = []
    for (outcome, level), rows in table1.groupby(["outcome", "level"], sort=False):
        shown = rows.rename(columns={"group_0": rows["group_0_name"].iloc[0], "group_1": rows["group_1_name"].iloc[0],
                                     "variable": "", "value": " ", "p": "P", "test": "Test"})
        shown = shown.drop(columns=["outcome", "level", "group_0_name", "group_1_name"])
        shown["P"] = [("" if p is None or pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")) for p in rows["p"]]
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
             "<h2>Group comparisons</h2>", _table_html(comparison),
             "<h2>Logistic regression</h2>", _table_html(logistic)]
    for heading, table in (extra_tables or {}).items():
        table, note = table if isinstance(table, tuple) else (table, "")
        parts += [f"<h2>{html.escape(heading)}</h2>", _table_html(table)]
        parts += [f"<p class='note'>{html.escape(note)}</p>"] if note else []
    parts += [_image_html(figure_path, caption) for caption, figure_path in figures.items()]
    style = ("body{font-family:sans-serif;margin:2em;max-width:75em} table.data{border-collapse:collapse;font-size:90%}"
             "table.data td,table.data th{border-bottom:1px solid #ccc;padding:2px 8px;text-align:left}"
             "img{max-width:100%} figcaption{color:#555}")
    document = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(document)
