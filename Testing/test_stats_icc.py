"""ICC against the published values of Shrout & Fleiss (1979), Table 2 (6 targets x 4 judges)."""

import numpy as np
import pytest

from CTOPlaqueStatsLib.icc import icc_table

SHROUT_FLEISS_RATINGS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
# Published point estimates (two decimals) of the six forms for these data.
PUBLISHED = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}


def test_six_forms_match_shrout_and_fleiss():
    rows = {row["form"]: row for row in icc_table(SHROUT_FLEISS_RATINGS)}
    for form, value in PUBLISHED.items():
        assert rows[form]["icc"] == pytest.approx(value, abs=0.005), form


def test_f_tests_and_degrees_of_freedom():
    """F = BMS/WMS = 1.79 (df 5, 18) for ICC1; F = BMS/EMS = 11.03 (df 5, 15) for ICC2/3 (S&F 1979)."""
    rows = {row["form"]: row for row in icc_table(SHROUT_FLEISS_RATINGS)}
    assert rows["ICC1"]["F"] == pytest.approx(1.795, abs=0.005)
    assert (rows["ICC1"]["df1"], rows["ICC1"]["df2"]) == (5, 18)
    assert rows["ICC3"]["F"] == pytest.approx(11.027, abs=0.005)
    assert (rows["ICC3"]["df1"], rows["ICC3"]["df2"]) == (5, 15)
    assert rows["ICC3"]["p"] < 0.001


def test_confidence_intervals_bracket_and_match_known_bounds():
    """Bounds of this example as computed by R psych::ICC (same formulas): ICC1 [-0.13, 0.72],
    ICC3 [0.34, 0.95], ICC2 [0.02, 0.76]."""
    rows = {row["form"]: row for row in icc_table(SHROUT_FLEISS_RATINGS)}
    for row in rows.values():
        assert row["ci_low"] < row["icc"] < row["ci_high"]
    assert (rows["ICC1"]["ci_low"], rows["ICC1"]["ci_high"]) == pytest.approx((-0.13, 0.72), abs=0.01)
    assert (rows["ICC3"]["ci_low"], rows["ICC3"]["ci_high"]) == pytest.approx((0.34, 0.95), abs=0.01)
    assert (rows["ICC2"]["ci_low"], rows["ICC2"]["ci_high"]) == pytest.approx((0.02, 0.76), abs=0.01)


def test_rater_offset_lowers_absolute_agreement_only():
    """A constant offset of one rater lowers the absolute-agreement forms (ICC2) but not consistency (ICC3)."""
    rng = np.random.default_rng(3)
    truth = rng.normal(100.0, 20.0, 30)
    first = truth + rng.normal(0.0, 2.0, 30)
    second = truth + rng.normal(0.0, 2.0, 30)
    agreeing = {r["form"]: r["icc"] for r in icc_table(np.column_stack([first, second]))}
    offset = {r["form"]: r["icc"] for r in icc_table(np.column_stack([first, second + 15.0]))}
    assert offset["ICC3"] == pytest.approx(agreeing["ICC3"], abs=1e-12)
    assert agreeing["ICC2"] > 0.98
    assert offset["ICC2"] < agreeing["ICC2"] - 0.1


@pytest.mark.filterwarnings("ignore")
def test_all_six_forms_equal_pingouin():
    """Against pingouin.intraclass_corr (an independent implementation) on 30 targets x 3 raters with a rater
    offset: ICC, F and p to 1e-9; the intervals to pingouin's two printed decimals. pingouin is not used at run
    time: it rounds the intervals to two decimals and would bring seaborn and scikit-learn into Slicer."""
    import pandas as pd
    import pingouin

    rng = np.random.default_rng(1)
    ratings = rng.normal(size=(30, 1)) * 2 + rng.normal(size=(30, 3)) + [0.0, 0.5, 1.0]
    long = pd.DataFrame([(t, r, ratings[t, r]) for t in range(30) for r in range(3)], columns=["t", "r", "v"])
    reference = pingouin.intraclass_corr(long, targets="t", raters="r", ratings="v").set_index("Type")
    names = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)", "ICC1k": "ICC(1,k)", "ICC2k": "ICC(A,k)",
             "ICC3k": "ICC(C,k)"}
    for row in icc_table(ratings):
        expected = reference.loc[names[row["form"]]]
        assert row["icc"] == pytest.approx(expected["ICC"], abs=1e-9), row["form"]
        assert row["F"] == pytest.approx(expected["F"], rel=1e-9)
        assert row["p"] == pytest.approx(expected["pval"], rel=1e-6)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(expected["CI95"]), abs=0.005 + 1e-9)
