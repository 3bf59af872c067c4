"""Cohort statistics on data the analysis was not built around: outcomes in words with gaps, constant groups,
covariates in odd units, dummy-coded covariates with gaps. Each test states the truth it checks."""

import numpy as np
import pandas as pd

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
