"""Group comparisons of the seed paper's Tables 1-3: each variable between the two outcome groups.

Continuous variables: mean ± SD and a t-test when both groups pass Shapiro-Wilk at 0.05, otherwise
median [Q1–Q3] and the Mann-Whitney U test. The t-test is Welch's by default (``T_TESTS``; see
docs/statistics.md for why not SPSS's choice by Levene's test); Student's on request. Categorical variables:
n (%) of the lesions (or patients) with a value, one row for a 0/1 variable (the 1s), one row per level for
text and other two-valued variables with the reference level first; one test per variable: Pearson's
chi-square without continuity correction, or Fisher's exact test (Freeman-Halton for more than two levels)
when any expected count is below 5. Group 0 / 1 follow the outcome coding (1 = success).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .exact_test import fisher_freeman_halton
from .labels import LabelTable, format_count_percent
from .options import T_TESTS
from .problems import ProblemLog
from .variables import Variable, finite

NORMALITY_ALPHA = 0.05
MIN_EXPECTED = 5.0
SHAPIRO_MAX_N = 5000
COMPARISON_COLUMNS = ["outcome", "variable", "label", "level", "category", "reference", "test", "p", "n_0", "n_1",
                      "missing", "summary_0", "summary_1", "summary_all"]


def _normal(values: np.ndarray) -> bool:
    """Shapiro-Wilk at 0.05; above 5000 values (where its p-value is not accurate) on a seeded random
    subsample of 5000. A group of one value is not normal (scipy's Shapiro-Wilk gives it p = 1 with a warning,
    R's shapiro.test stops): mean ± SD "5.00 ± 0.00" and a t-test with no variance in one group were printed."""
    if len(values) < 3 or np.ptp(values) == 0:
        return False
    if len(values) > SHAPIRO_MAX_N:
        values = np.random.default_rng(0).choice(values, SHAPIRO_MAX_N, replace=False)
    return bool(stats.shapiro(values).pvalue > NORMALITY_ALPHA)


def both_normal(group0, group1) -> bool:
    """Whether both groups pass Shapiro-Wilk (mean ± SD and the t-test) rather than not (median [Q1–Q3] and
    the Mann-Whitney U test)."""
    return _normal(finite(group0)) and _normal(finite(group1))


def compare_continuous(group0, group1, t_test: str = "welch") -> dict:
    """test, p, summary_0, summary_1 and summary_all (both groups) of a continuous variable; ``t_test``: a key
    of T_TESTS, the t-test used when both groups look normal."""
    a, b = finite(group0), finite(group1)
    if both_normal(a, b):
        p = stats.ttest_ind(a, b, equal_var=t_test == "student").pvalue
        summary, test = _mean_sd, T_TESTS[t_test]
    else:
        p = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
        summary, test = _median_iqr, "Mann-Whitney U"
    return {"test": test, "p": float(p), "summary_0": summary(a), "summary_1": summary(b),
            "summary_all": summary(np.concatenate([a, b]))}


def _mean_sd(values) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def _median_iqr(values) -> str:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return f"{median:.2f} [{q1:.2f}–{q3:.2f}]"


def categorical_test(observed: np.ndarray) -> tuple[float, str]:
    """p and test name for a contingency table (outcome groups as rows, levels as columns): Pearson's
    chi-square without continuity correction, or Fisher's exact test (Freeman-Halton beyond 2 x 2; a Monte Carlo
    p, named so, for tables too large to enumerate) when any expected count is below 5."""
    observed = np.asarray(observed, float)
    if observed.shape[1] < 2:
        return 1.0, "single level"
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    if (expected < MIN_EXPECTED).any():
        p, exact = fisher_freeman_halton(observed.astype(int))
        name = "Fisher exact" if observed.shape[1] == 2 else "Fisher-Freeman-Halton exact"
        return p, name if exact else f"{name} (Monte Carlo)"
    return float(stats.chi2_contingency(observed, correction=False).pvalue), "chi-square"


def compare_categorical(groups: pd.Series, variable: Variable) -> list:
    """One dict per printed level (the 1s of a binary variable; every level of a categorical one, reference
    first): category, reference, test, p (one test of the whole table), summary_0, summary_1, summary_all as
    n (%) of the group's rows with a value."""
    values = variable.level_values()[groups.index]
    levels = ["1"] if variable.kind == "binary" else list(variable.levels)
    table = pd.crosstab(groups, values).reindex(index=[0.0, 1.0], columns=sorted(set(levels) | set(values.unique())),
                                               fill_value=0)
    p, test = categorical_test(table.loc[:, table.sum(axis=0) > 0].to_numpy(float))
    totals = table.sum(axis=1)
    return [{"category": level, "reference": "yes" if variable.kind == "categorical" and index == 0 else "",
             "test": test, "p": p,
             "summary_0": format_count_percent(table.loc[0.0, level], totals[0.0]),
             "summary_1": format_count_percent(table.loc[1.0, level], totals[1.0]),
             "summary_all": format_count_percent(table[level].sum(), totals.sum())}
            for index, level in enumerate(levels)]


def compare_variable(outcome: pd.Series, variable: Variable, t_test: str = "welch") -> list:
    """The comparison rows (without outcome/variable/label/level names) of one variable, on the rows with a rated
    outcome: n_0, n_1 (with a value), missing (without), and the test and summaries."""
    rated = outcome.notna()
    keep = rated & variable.values.notna()
    groups = outcome[keep]
    counts = {"n_0": int((groups == 0).sum()), "n_1": int((groups == 1).sum()),
              "missing": int((rated & variable.values.isna()).sum())}
    if variable.kind == "continuous":
        values = variable.values[keep]
        result = compare_continuous(values[groups == 0], values[groups == 1], t_test)
        return [{**counts, "category": "", "reference": "", **result}]
    return [{**counts, **row} for row in compare_categorical(groups, variable)]


def comparison_rows(outcome_name: str, outcome: pd.Series, variables: dict, level: str, problems: ProblemLog,
                    labels: LabelTable = None, t_test: str = "welch") -> list:
    """Rows of COMPARISON_COLUMNS for one outcome at one level ("lesion" or "patient"); variables: name ->
    Variable aligned with ``outcome``."""
    labels = labels or LabelTable()
    rows = []
    for name, variable in variables.items():
        keep = outcome.notna() & variable.values.notna()
        counts = outcome[keep].value_counts()
        if counts.get(0.0, 0) < 2 or counts.get(1.0, 0) < 2:
            problems.add(f"{outcome_name} / {name}", f"fewer than two {level}s with a value in a group; not compared")
            continue
        for row in compare_variable(outcome, variable, t_test):
            rows.append({"outcome": outcome_name, "variable": name, "label": labels.text(name), "level": level, **row})
    return rows


def patients_from_lesions(frame: pd.DataFrame, outcome: str, variables, rule: str, problems: ProblemLog):
    """One row per patient: outcome by ``rule`` (any-failed: 0 if any lesion is 0; any-success: 1 if any
    lesion is 1), patient variables from the patient's first lesion with a value (patients whose lesions
    disagree are reported)."""
    rated = frame[frame[outcome].notna()]
    grouped = rated.groupby("patient_id", sort=True)
    patients = (grouped[outcome].min() if rule == "any-failed" else grouped[outcome].max()).to_frame()
    for name in variables:
        column = grouped[name]
        patients[name] = column.first()
        differing = column.nunique()
        differing = differing[differing > 1]
        if len(differing):
            examples = ", ".join(map(str, differing.index[:3]))
            problems.add(name, f"differs between the lesions of {len(differing)} patient(s) (e.g. {examples}); "
                               "first value used")
    return patients.reset_index()
