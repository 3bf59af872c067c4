"""Table 1 of a cohort paper (the seed paper's Tables 1-3): each variable summarized by outcome group, built
by the tableone package (Pollard et al., JAMIA Open 2018).

Continuous variables are mean ± SD where both groups pass Shapiro-Wilk and median [Q1,Q3] otherwise;
categorical ones n (%). The p-values are computed inside tableone by the very tests of ``comparison.py``
(passed as tableone's ``htest``), so that they equal those of comparison.csv: Student's t or Mann-Whitney U,
chi-square without continuity correction or Fisher's exact test. Groups are named with their size, e.g.
"failure (n = 62)" and "success (n = 145)".
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from tableone import TableOne

from .comparison import both_normal, categorical_test, continuous_p
from .variables import is_categorical

GROUP_NAMES = {0.0: "failure", 1.0: "success"}
TABLE1_COLUMNS = ["outcome", "level", "variable", "value", "missing", "overall", "group_0", "group_1", "p", "test",
                  "group_0_name", "group_1_name"]


def _named(function, name: str):
    """``function`` under the test name that tableone prints in its Test column."""
    function.__name__ = name
    return function


def _level_text(value) -> str:
    """A category's printed level: 1.0 as "1", text as it is."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _categorical_htest(*level_counts):
    """tableone passes a categorical variable's counts level by level, each [group 0, group 1]."""
    return categorical_test(np.array(level_counts, float).T)[0]


def table_one(outcome_name: str, outcome: pd.Series, variables: dict, level: str) -> pd.DataFrame:
    """Rows of TABLE1_COLUMNS for one outcome (coded 0/1) at one level ("lesion" or "patient").

    variables: name -> Series aligned with ``outcome``. Rows with a missing outcome are left out, as in the
    comparisons; a variable's missing values are counted in ``missing``.
    """
    keep = outcome.notna()
    frame = pd.DataFrame({name: values[keep] for name, values in variables.items()})
    counts = outcome[keep].value_counts()
    labels = {code: f"{name} (n = {int(counts.get(code, 0))})" for code, name in GROUP_NAMES.items()}
    frame["__group"] = outcome[keep].map(labels)
    categorical = [name for name, values in variables.items() if is_categorical(values[keep])]
    continuous = [name for name in variables if name not in categorical]
    nonnormal, htest = [], {}
    for name in continuous:
        groups = [frame.loc[outcome[keep] == code, name].to_numpy(float) for code in GROUP_NAMES]
        normal = both_normal(*groups)
        if not normal:
            nonnormal.append(name)
        htest[name] = _named(lambda a, b: continuous_p(a, b), "t-test" if normal else "Mann-Whitney U")
    for name in categorical:
        frame[name] = frame[name].map(_level_text).where(frame[name].notna())
        test_name = categorical_test(pd.crosstab(outcome[keep], variables[name][keep]).to_numpy(float))[1]
        htest[name] = _named(lambda *level_counts: _categorical_htest(*level_counts), test_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tableone's notes on normality and small counts: our tests decide
        table = TableOne(frame, columns=list(variables), categorical=categorical, continuous=continuous,
                         groupby="__group", nonnormal=nonnormal, pval=True, htest=htest, htest_name=True,
                         decimals=2, order={"__group": [labels[0.0], labels[1.0]]}, missing=True)
    return _long_rows(table, outcome_name, level, labels)


def _long_rows(table: TableOne, outcome_name: str, level: str, labels: dict) -> pd.DataFrame:
    """tableone's table as flat rows: one per variable, or per level of a categorical one, with the
    unrounded p (from tableone's test table) on the variable's first row and the group names."""
    wide = table.tableone.copy()
    wide.columns = [column[-1] for column in wide.columns]
    rows, seen = [], set()
    for (label, value), row in wide.iterrows():
        variable = label.split(",")[0]
        first = variable not in seen
        seen.add(variable)
        tested = first and variable in table.htest_table.index
        rows.append({"outcome": outcome_name, "level": level, "variable": label, "value": value,
                     "missing": row["Missing"], "overall": row["Overall"], "group_0": row[labels[0.0]],
                     "group_1": row[labels[1.0]],
                     "p": float(table.htest_table.loc[variable, "P-Value"]) if tested else None,
                     "test": table.htest_table.loc[variable, "Test"] if tested else "",
                     "group_0_name": labels[0.0], "group_1_name": labels[1.0]})
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)
