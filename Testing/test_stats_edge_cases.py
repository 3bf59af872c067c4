"""Cohort statistics on data the analysis was not built around: outcomes in words with gaps, constant groups,
covariates in odd units, dummy-coded covariates with gaps. Each test states the truth it checks."""

import numpy as np
import pandas as pd
import pytest

from CTOPlaqueStatsLib.logistic import logistic_effect
from CTOPlaqueStatsLib.problems import ProblemLog
from CTOPlaqueStatsLib.variables import binary_outcome


def test_outcome_words_are_coded_and_rows_without_an_outcome_are_noted():
    """yes/Success/TRUE are 1, no/failure/FALSE 0; the one empty cell stays missing and is said to be left out
    (a silent 6 -> 5 drop was what a reviewer could not see)."""
    problems = ProblemLog()
    coded = binary_outcome(pd.Series(["yes", "no", np.nan, "Success", "failure", "FALSE"]), "crossing", problems)
    assert coded.tolist()[:2] + coded.tolist()[3:] == [1.0, 0.0, 1.0, 0.0, 0.0] and np.isnan(coded[2])
    assert problems.items == [{"where": "crossing", "message": "1 of 6 rows without an outcome value: left out of "
                                                               "its analyses"}]


@pytest.mark.parametrize("separated", [False, True])
def test_a_predictors_unit_does_not_change_its_test(separated):
    """The same predictor in mm³, in mm³ x 10^6 and in mm³ x 10^-6 (a volume in µm³, a PAV as a fraction x 10^-4)
    is the same model: beta scales by the factor, p is equal. With a covariate level held only by failures
    (separated: Firth) as without (maximum likelihood). Both used to fail at one of the scales ('did not
    converge'), and the factor 10^6 hid the separation from its detection."""
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.75).astype(float)
    x = rng.normal(20, 10, 200) - 4 * y
    held_by_failures = ((y == 0) & (rng.random(200) < 0.3)).astype(float)
    columns = [np.ones(200), x] + ([held_by_failures] if separated else [])
    reference = logistic_effect(np.column_stack(columns), y)
    assert reference["method"] == ("firth" if separated else "ml")
    for factor in (1e-6, 1e6):
        effect = logistic_effect(np.column_stack([columns[0], x * factor, *columns[2:]]), y)
        assert effect["method"] == reference["method"]
        assert effect["beta"] * factor == pytest.approx(reference["beta"], rel=1e-6)
        assert effect["p"] == pytest.approx(reference["p"], rel=1e-6)
