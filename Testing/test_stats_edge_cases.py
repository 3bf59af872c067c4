"""Cohort statistics on data the analysis was not built around: outcomes in words with gaps, constant groups,
covariates in odd units, dummy-coded covariates with gaps. Each test states the truth it checks."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from stats_cohort_data import synthetic_cohort

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueStatsLib.analysis import StatsRequest, compute_stats

from CTOPlaqueStatsLib.comparison import compare_continuous
from CTOPlaqueStatsLib.logistic import _penalized_log_likelihood, firth_summary, logistic_effect
from CTOPlaqueStatsLib.problems import ProblemLog
from CTOPlaqueStatsLib.regression import logistic_rows
from CTOPlaqueStatsLib.variables import analysis_variable, binary_outcome, category_indicators


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


def test_odds_ratio_per_sd_survives_a_unit_whose_odds_ratio_per_unit_underflows():
    """A PAV in % and the same PAV as a fraction x 10^-6: per unit, the OR of the latter is exp(-5e4), 0 in floating
    point, and OR^SD was 0 too; per SD both are the same model, so the same OR and CI (computed from beta)."""
    rng = np.random.default_rng(1)
    pav = pd.Series(rng.uniform(0, 40, 150))
    outcome = pd.Series((rng.random(150) < 1 / (1 + np.exp(-(1.5 - 0.05 * pav)))).astype(float))
    rows = logistic_rows("success", outcome, {"pav": pav, "pav_tiny": pav * 1e-6}, {}, ProblemLog())
    percent, tiny = rows
    assert tiny["or"] == 0.0 and 0.0 < percent["or"] < 1.0
    for key in ("or_per_sd", "ci_low_per_sd", "ci_high_per_sd", "p"):
        assert tiny[key] == pytest.approx(percent[key], rel=1e-6), key
    assert percent["ci_low_per_sd"] == pytest.approx(percent["ci_low"] ** percent["sd"], rel=1e-9)


def test_a_group_of_one_value_is_compared_by_mann_whitney_without_a_warning():
    """Every success at 5.0 (a value imputed for one group): not normal, so median [Q1–Q3] and scipy's Mann-Whitney
    U p, and nothing on stderr (Shapiro-Wilk warned and called the constant group normal: Welch's t on SD 0)."""
    failures = np.random.default_rng(2).normal(60, 9, 40)
    successes = np.full(30, 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare_continuous(failures, successes)
    assert result["test"] == "Mann-Whitney U"
    assert result["p"] == pytest.approx(stats.mannwhitneyu(failures, successes).pvalue, rel=1e-12)
    assert result["summary_1"] == "5.00 [5.00–5.00]"


def test_complete_case_note_counts_a_text_covariate_once():
    """Smoking never/former/current missing for 4 lesions, age for 3 others: 7 left out, "age (3), smoking (4)",
    not each of smoking's two indicators with 4."""
    rng = np.random.default_rng(3)
    outcome = pd.Series((rng.random(80) < 0.6).astype(float))
    smoking = pd.Series(rng.choice(["never", "former", "current"], 80)).where(np.arange(80) >= 4)
    age = pd.Series(rng.normal(60, 9, 80)).where((np.arange(80) < 4) | (np.arange(80) >= 7))
    problems = ProblemLog()
    adjusters = {"age": age, **category_indicators(analysis_variable(smoking, "smoking", problems), problems)}
    logistic_rows("success", outcome, {"pav": pd.Series(rng.uniform(0, 40, 80))}, adjusters, problems)
    notes = [item["message"] for item in problems.items if item["where"] == "success / pav (adjusted)"]
    assert notes == ["complete-case analysis: n 80 -> 73; 7 left out for a missing value of age (3), smoking (4)"]


@pytest.mark.parametrize("cells", [["59,2", "61,0", "48,5", "70,1"], ["4,445.0", "999.5", "1,614.2", "3,520.3"]])
def test_numbers_written_with_a_comma_are_named_not_read_as_categories_or_mostly_missing(cells):
    """A decimal comma (a German or French export) and thousands separators: the column is left out with a note
    that says so. Before, the first read as text with too many categories ('115 categories'), the second was
    analysed on the few values without a comma, the others 'treated as missing'."""
    problems = ProblemLog()
    assert analysis_variable(pd.Series(cells * 5), "age", problems) is None
    with_comma = [cell for cell in cells if "," in cell]
    assert [item["message"].split(":")[0] for item in problems.items] == \
        [f"{len(with_comma) * 5} number(s) written with a comma ({', '.join(map(repr, with_comma[:3]))})"]


def test_firth_interval_on_the_global_profile_when_the_penalized_likelihood_has_two_maxima():
    """40 lesions, values 0-20 succeed and 21-40 fail (complete separation): at beta = -1.94 the penalized
    likelihood has two local maxima in the intercept (38.2 and 40.9). Profiled only from the nearest point far out,
    the fit stopped on the lower one, the profile was not monotone and the interval failed ('f(a) and f(b) must have
    different signs'); firthmodels, which follows its path the same way, gives -1.884. The truth is the global
    maximum over the intercept, found here by a fine grid: the lower bound is where it has fallen by chi2(1, 0.95)."""
    rng = np.random.default_rng(5)
    y = (np.arange(40) % 3 > 0).astype(float)
    x = np.where(y == 1, rng.uniform(0, 20, 40), rng.uniform(21, 40, 40))
    design = np.column_stack([np.ones(40), x])
    summary, fit = firth_summary(design, y, 1)

    def global_profile(slope):
        grid = np.linspace(0.0, 80.0, 8001)
        values = [_penalized_log_likelihood(design, y, np.array([b0, slope])) for b0 in grid]
        best = int(np.argmax(values))
        refined = optimize.minimize_scalar(lambda b0: -_penalized_log_likelihood(design, y, np.array([b0, slope])),
                                           bounds=(grid[best - 1], grid[best + 1]), method="bounded",
                                           options={"xatol": 1e-10})
        return -refined.fun

    assert 2 * (fit.log_likelihood - global_profile(summary["beta_low"])) == pytest.approx(stats.chi2.ppf(0.95, 1),
                                                                                          abs=1e-5)
    assert 2 * (fit.log_likelihood - global_profile(summary["beta_high"])) == pytest.approx(stats.chi2.ppf(0.95, 1),
                                                                                           abs=1e-5)


def test_a_text_predictor_also_adjusted_for_is_not_told_to_be_added_and_patients_are_whole_numbers():
    """vendor named as predictor and covariate: the note says it is adjusted for (it told the user to add it with
    --adjust, which they had done); the number of patients in logistic.csv is a count, '57', not '57.0'."""
    cohort = synthetic_cohort(80, seed=2, lesions_per_patient=1.4)
    cohort["vendor"] = np.random.default_rng(2).choice(["GE", "Philips", "Siemens"], 80)
    problems = ProblemLog()
    computed = compute_stats(cohort, StatsRequest(outcomes=["crossing_success"], predictors=["age", "vendor"],
                                                  adjust=["vendor"]), problems)
    assert {"where": "vendor", "message": "text predictor: compared in Table 1, not modelled; adjusted for, as it is "
                                          "also a covariate"} in problems.items
    assert computed.logistic["patients"].tolist() == [cohort["patient_id"].nunique()] * 2
    assert computed.logistic[["patients"]].to_csv(index=False).split() == ["patients"] + [
        str(cohort["patient_id"].nunique())] * 2


def test_a_lesion_with_two_rows_is_an_input_error_not_two_lesions():
    """Two observers' exports gathered into one cohort hold each lesion twice: counted as lesions they doubled n
    (240 for 120) and shrank every p-value. One row per lesion is required; the same lesion ID in another patient
    is another lesion, and rows without a lesion ID are not one lesion."""
    cohort = synthetic_cohort(40, seed=2)
    other_patient = cohort.iloc[:1].assign(patient_id="P999999")
    unnamed = cohort.iloc[:2].assign(lesion_id=np.nan)
    compute_stats(pd.concat([cohort, other_patient, unnamed]), StatsRequest(outcomes=["crossing_success"],
                                                                            predictors=["dense_calcium_pav"]),
                  ProblemLog())
    second_reader = cohort.iloc[[3, 5]].assign(observer="B")
    with pytest.raises(CTOPlaqueInputError, match=r"2 lesion\(s\) have more than one row \(lesion L000003: 2\)"):
        compute_stats(pd.concat([cohort, second_reader]), StatsRequest(outcomes=["crossing_success"],
                                                                       predictors=["dense_calcium_pav"]), ProblemLog())


def test_a_predictor_that_is_the_only_covariate_has_no_adjusted_row():
    """age as predictor and the only covariate: its 'adjusted' model held no covariate and repeated the univariate
    row (same OR, 'adjusted for: -'), which a reader takes for an adjusted result. dense_calcium_pav keeps its
    model adjusted for age, and age adjusted for male when both are covariates."""
    cohort = synthetic_cohort(60, seed=4)
    outcome = cohort["crossing_success"].astype(float)
    predictors = {name: cohort[name].astype(float) for name in ("dense_calcium_pav", "age")}
    rows = logistic_rows("crossing_success", outcome, predictors, {"age": cohort["age"].astype(float)}, ProblemLog())
    assert [(row["predictor"], row["model"], row["covariates"]) for row in rows] == [
        ("dense_calcium_pav", "univariate", ""), ("dense_calcium_pav", "adjusted", "age"), ("age", "univariate", "")]
    both = {name: cohort[name].astype(float) for name in ("age", "male")}
    rows = logistic_rows("crossing_success", outcome, {"age": predictors["age"]}, both, ProblemLog())
    assert [(row["model"], row["covariates"]) for row in rows] == [("univariate", ""), ("adjusted", "male")]
