"""Group comparisons of the seed paper's Table 1/3: each variable between the two outcome groups.

Continuous variables: mean +/- SD and Student's t-test when both groups pass Shapiro-Wilk at 0.05,
otherwise median [IQR] and the Mann-Whitney U test. Categorical variables (at most two values, or
text): n (%) and Pearson's chi-square without continuity correction, or Fisher's exact test when any
expected count is below 5. Group 0 / 1 follow the outcome coding (1 = success).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .problems import ProblemLog
from .variables import finite, is_categorical

NORMALITY_ALPHA = 0.05
MIN_EXPECTED = 5.0
SHAPIRO_MAX_N = 5000


def _normal(values: np.ndarray) -> bool:
    """Shapiro-Wilk at 0.05; above 5000 values (where its p-value is not accurate) on a seeded random
    subsample of 5000."""
    if len(values) < 3:
        return False
    if len(values) > SHAPIRO_MAX_N:
        values = np.random.default_rng(0).choice(values, SHAPIRO_MAX_N, replace=False)
    return bool(stats.shapiro(values).pvalue > NORMALITY_ALPHA)


def both_normal(group0, group1) -> bool:
    """Whether both groups pass Shapiro-Wilk (mean +/- SD and the t-test) rather than not (median [IQR] and
    the Mann-Whitney U test)."""
    return _normal(finite(group0)) and _normal(finite(group1))


def continuous_p(group0, group1) -> float:
    """The p of ``compare_continuous``."""
    return compare_continuous(group0, group1)["p"]


def compare_continuous(group0, group1) -> dict:
    a, b = finite(group0), finite(group1)
    if both_normal(a, b):
        p = stats.ttest_ind(a, b, equal_var=True).pvalue
        return {"test": "t-test", "p": float(p), "summary_0": _mean_sd(a), "summary_1": _mean_sd(b)}
    p = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
    return {"test": "Mann-Whitney U", "p": float(p), "summary_0": _median_iqr(a), "summary_1": _median_iqr(b)}


def _mean_sd(values) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def _median_iqr(values) -> str:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return f"{median:.2f} [{q1:.2f}–{q3:.2f}]"


def contingency(groups: pd.Series, values: pd.Series) -> pd.DataFrame:
    """Counts with outcome groups as rows and the variable's levels as columns."""
    return pd.crosstab(groups, values)


def categorical_test(observed: np.ndarray) -> tuple[float, str]:
    """p and test name for a contingency table (outcome groups as rows, levels as columns): Pearson's
    chi-square without continuity correction, or Fisher's exact test when any expected count is below 5."""
    observed = np.asarray(observed, float)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    if observed.shape[1] < 2:
        return 1.0, "single level"
    if (expected < MIN_EXPECTED).any():
        return float(stats.fisher_exact(observed.astype(int)).pvalue), "Fisher exact"
    return float(stats.chi2_contingency(observed, correction=False).pvalue), "chi-square"


def compare_categorical(groups: pd.Series, values: pd.Series) -> dict:
    table = contingency(groups, values)
    p, test = categorical_test(table.to_numpy(float))
    summaries = {}
    for group in (0.0, 1.0):
        counts = table.loc[group] if group in table.index else pd.Series(0, index=table.columns)
        summaries[f"summary_{int(group)}"] = _counts_text(counts)
    return {"test": test, "p": p, **summaries}


def _counts_text(counts: pd.Series) -> str:
    total = counts.sum()
    levels = list(counts.index)
    if set(levels) <= {0.0, 1.0} and 1.0 in levels:
        return f"{int(counts[1.0])} ({100.0 * counts[1.0] / total:.1f}%)" if total else "0 (0.0%)"
    return "; ".join(f"{level}: {int(n)} ({100.0 * n / total:.1f}%)" for level, n in counts.items() if total)


def compare_variable(outcome: pd.Series, values: pd.Series, categorical: bool) -> dict:
    """One comparison row (without outcome/variable/level names) for complete pairs."""
    keep = outcome.notna() & values.notna()
    groups, values = outcome[keep], values[keep]
    row = {"n_0": int((groups == 0).sum()), "n_1": int((groups == 1).sum())}
    if categorical:
        return {**row, **compare_categorical(groups, values)}
    return {**row, **compare_continuous(values[groups == 0], values[groups == 1])}


def comparison_rows(outcome_name: str, outcome: pd.Series, variables: dict, level: str,
                    problems: ProblemLog) -> list:
    """Rows: outcome, variable, level, test, p, n_0, n_1, summary_0, summary_1."""
    rows = []
    for name, values in variables.items():
        keep = outcome.notna() & values.notna()
        counts = outcome[keep].value_counts()
        if counts.get(0.0, 0) < 2 or counts.get(1.0, 0) < 2:
            problems.add(f"{outcome_name} / {name}", f"fewer than two {level}s with a value in a group; not compared")
            continue
        result = compare_variable(outcome, values, is_categorical(values))
        rows.append({"outcome": outcome_name, "variable": name, "level": level, **result})
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
