"""Table 1 of a cohort paper (the seed paper's Tables 1-3): each variable summarized by outcome group, as a
journal prints it, from the rows of comparison.csv (one computation of every number and test).

One row per continuous variable ("Age (years), mean ± SD") and per 0/1 variable ("Male, n (%)", the 1s); a
categorical variable gets a row with its test and missing count, then one row per level, the reference level
first and marked. p as "<0.001" or with 3 decimals, percentages with 1 decimal, readable labels with units.
Groups are named with their size, e.g. "failure (n = 62)" and "success (n = 145)".
The tableone package is not used: it counted missing categorical values as a "None" level with whole-cohort
denominators, and could not show one r x c test per categorical variable with its reference level.
"""

from __future__ import annotations

import pandas as pd

from .options import T_TESTS
from .labels import LabelTable, format_p

GROUP_NAMES = {0.0: "failure", 1.0: "success"}
TABLE1_COLUMNS = ["outcome", "level", "variable", "characteristic", "value", "missing", "overall", "group_0",
                  "group_1", "p", "test", "group_0_name", "group_1_name"]
_SUMMARY_KINDS = {"Mann-Whitney U": "median [Q1–Q3]"} | {name: "mean ± SD" for name in T_TESTS.values()}


def group_names(outcome: pd.Series) -> dict:
    """{0.0: "failure (n = 62)", 1.0: "success (n = 145)"}: the groups of a 0/1 outcome with their size."""
    counts = outcome.value_counts()
    return {code: f"{name} (n = {int(counts.get(code, 0))})" for code, name in GROUP_NAMES.items()}


def table_one(comparison: pd.DataFrame, outcome_name: str, level: str, groups: dict,
              labels: LabelTable = None) -> pd.DataFrame:
    """Rows of TABLE1_COLUMNS from the comparison rows of one outcome at one level; groups: ``group_names``."""
    labels = labels or LabelTable()
    rows = []
    shown = comparison[(comparison["outcome"] == outcome_name) & (comparison["level"] == level)]
    for name, variable_rows in shown.groupby("variable", sort=False):
        first = variable_rows.iloc[0]
        common = {"outcome": outcome_name, "level": level, "variable": name, "group_0_name": groups[0.0],
                  "group_1_name": groups[1.0]}
        tested = {"missing": int(first["missing"]), "p": format_p(first["p"]), "test": first["test"]}
        kind = _SUMMARY_KINDS.get(first["test"], "n (%)")
        characteristic = f"{labels.text(name)}, {kind}"
        if len(variable_rows) == 1:  # continuous, or the 1s of a 0/1 variable
            rows.append({**common, **tested, **_summaries(first), "characteristic": characteristic, "value": ""})
            continue
        rows.append({**common, **tested, "characteristic": characteristic, "value": "", "overall": "",
                     "group_0": "", "group_1": ""})
        for row in variable_rows.itertuples():
            value = f"{row.category} (reference)" if row.reference == "yes" else row.category
            rows.append({**common, **_summaries(row._asdict()), "characteristic": "", "value": value,
                         "missing": "", "p": "", "test": ""})
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)


def _summaries(row) -> dict:
    return {"overall": row["summary_all"], "group_0": row["summary_0"], "group_1": row["summary_1"]}


def table1_footnote(t_test: str) -> str:
    """What the summaries and tests of Table 1 are, for the line under it."""
    return (f"Mean ± SD and {T_TESTS[t_test]} where both groups pass the Shapiro-Wilk test (p > 0.05), otherwise "
            "median [Q1–Q3] and the Mann-Whitney U test; n (%) of those with a value and Pearson's chi-square "
            "without continuity correction, or Fisher's exact test (Freeman-Halton for more than two levels) where "
            "an expected count is below 5: one test per variable. Missing: number without a value. Categorical "
            "variables list every level; the reference level is that of the adjusted models.")
