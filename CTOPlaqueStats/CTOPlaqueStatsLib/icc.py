"""Intraclass correlation coefficients: the six forms of Shrout & Fleiss (1979), with 95% CIs and F tests.

For n targets rated by k raters (complete ratings), from the two-way ANOVA mean squares:
BMS between targets, WMS within targets, JMS between raters, EMS residual.
  ICC1  = (BMS - WMS) / (BMS + (k-1) WMS)             one-way random, single rater
  ICC2  = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)   two-way random, absolute agreement
  ICC3  = (BMS - EMS) / (BMS + (k-1) EMS)             two-way mixed, consistency
  ICC1k = (BMS - WMS) / BMS;  ICC2k = (BMS - EMS) / (BMS + (JMS - EMS) / n);  ICC3k = (BMS - EMS) / BMS
Confidence intervals: exact F-based for ICC1 and ICC3 forms; Satterthwaite's approximation for ICC2
forms (Shrout & Fleiss eq. 11-13; McGraw & Wong 1996).
Written here rather than taken from pingouin.intraclass_corr, which gives the same ICC, F and p (tested) but
rounds its intervals to two decimals and needs seaborn and scikit-learn in Slicer.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")


def mean_squares(ratings: np.ndarray) -> dict:
    """BMS, WMS, JMS, EMS of an (n targets, k raters) matrix."""
    n, k = ratings.shape
    grand = ratings.mean()
    target_means = ratings.mean(axis=1)
    rater_means = ratings.mean(axis=0)
    ss_targets = k * np.sum((target_means - grand) ** 2)
    ss_raters = n * np.sum((rater_means - grand) ** 2)
    ss_total = np.sum((ratings - grand) ** 2)
    ss_within = ss_total - ss_targets
    ss_error = ss_within - ss_raters
    return {"BMS": ss_targets / (n - 1), "WMS": ss_within / (n * (k - 1)), "JMS": ss_raters / (k - 1),
            "EMS": ss_error / ((n - 1) * (k - 1))}


def icc_table(ratings, confidence: float = 0.95) -> list:
    """One dict per form: form, icc, ci_low, ci_high, F, df1, df2, p (H0: ICC = 0)."""
    ratings = np.asarray(ratings, float)
    n, k = ratings.shape
    if n < 2 or k < 2:
        raise ValueError("ICC needs at least two targets rated by at least two raters")
    ms = mean_squares(ratings)
    bms, wms, jms, ems = ms["BMS"], ms["WMS"], ms["JMS"], ms["EMS"]
    alpha = 1.0 - confidence

    def f_quantile(df1, df2):
        return stats.f.ppf(1.0 - alpha / 2.0, df1, df2)

    rows = []
    # one-way random: ICC1, ICC1k
    f1, df1_1, df2_1 = bms / wms, n - 1, n * (k - 1)
    fl, fu = f1 / f_quantile(df1_1, df2_1), f1 * f_quantile(df2_1, df1_1)
    icc1 = (bms - wms) / (bms + (k - 1) * wms)
    p1 = stats.f.sf(f1, df1_1, df2_1)
    rows.append(_row("ICC1", icc1, (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1), f1, df1_1, df2_1, p1))
    # two-way: F test of targets against the residual
    f3, df1_3, df2_3 = bms / ems, n - 1, (n - 1) * (k - 1)
    p3 = stats.f.sf(f3, df1_3, df2_3)
    icc2 = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
    fj = jms / ems
    numerator = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    denominator = (n - 1) * k ** 2 * icc2 ** 2 * fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = numerator / denominator
    f_upper, f_lower = f_quantile(n - 1, v), f_quantile(v, n - 1)
    low2 = n * (bms - f_upper * ems) / (f_upper * (k * jms + (k * n - k - n) * ems) + n * bms)
    high2 = n * (f_lower * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_lower * bms)
    rows.append(_row("ICC2", icc2, low2, high2, f3, df1_3, df2_3, p3))
    fl3, fu3 = f3 / f_quantile(df1_3, df2_3), f3 * f_quantile(df2_3, df1_3)
    icc3 = (bms - ems) / (bms + (k - 1) * ems)
    rows.append(_row("ICC3", icc3, (fl3 - 1) / (fl3 + k - 1), (fu3 - 1) / (fu3 + k - 1), f3, df1_3, df2_3, p3))
    rows.append(_row("ICC1k", (bms - wms) / bms, 1 - 1 / fl, 1 - 1 / fu, f1, df1_1, df2_1, p1))
    rows.append(_row("ICC2k", (bms - ems) / (bms + (jms - ems) / n), low2 * k / (1 + low2 * (k - 1)),
                     high2 * k / (1 + high2 * (k - 1)), f3, df1_3, df2_3, p3))
    rows.append(_row("ICC3k", (bms - ems) / bms, 1 - 1 / fl3, 1 - 1 / fu3, f3, df1_3, df2_3, p3))
    return rows


def _row(form, icc, low, high, f, df1, df2, p) -> dict:
    return {"form": form, "icc": float(icc), "ci_low": float(low), "ci_high": float(high), "F": float(f),
            "df1": float(df1), "df2": float(df2), "p": float(p)}
