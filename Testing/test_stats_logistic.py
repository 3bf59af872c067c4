"""Logistic regression against statsmodels GLM, a textbook 2x2 table, and hand-worked Firth cases."""

import numpy as np
import pytest
import statsmodels.api as sm

from CTOPlaqueLib.errors import CTOPlaqueInputError

from CTOPlaqueStatsLib.logistic import (cluster_robust_summary, firth_summary, fit_firth, fit_ml, is_separated,
                                       logistic_effect, wald_summary)


def _design(*columns):
    return np.column_stack([np.ones(len(columns[0]))] + [np.asarray(c, float) for c in columns])


def test_maximum_likelihood_matches_statsmodels_glm():
    """The Logit fit (Newton) against the GLM fit (IRLS) of the binomial family: two algorithms, one estimate."""
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(50, 10, 300), rng.integers(0, 2, 300)
    outcome = (rng.random(300) < 1 / (1 + np.exp(-(-3 + 0.05 * x1 + 0.8 * x2)))).astype(float)
    design = _design(x1, x2)
    fit = fit_ml(design, outcome, names=["intercept", "x1", "x2"])
    reference = sm.GLM(outcome, design, family=sm.families.Binomial()).fit(tol=1e-13)
    np.testing.assert_allclose(fit.coefficients, reference.params, rtol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.covariance)), reference.bse, rtol=1e-6)
    effect = wald_summary(fit, 1)
    low, high = np.exp(reference.conf_int()[1])
    assert (effect["ci_low"], effect["ci_high"]) == pytest.approx((low, high), rel=1e-6)
    assert effect["p"] == pytest.approx(reference.pvalues[1], rel=1e-6)
    assert fit.log_likelihood == pytest.approx(reference.llf, rel=1e-10)
    assert "x1" in str(fit.results.summary())  # the fitted model, for a Python user


def test_two_by_two_table_gives_the_cross_product_odds_ratio():
    """Textbook: for a binary predictor the ML odds ratio is ad/bc and its SE is sqrt(1/a+1/b+1/c+1/d)."""
    a, b, c, d = 30, 10, 15, 25  # exposed events, exposed non-events, unexposed events, unexposed non-events
    x = [1] * (a + b) + [0] * (c + d)
    y = [1] * a + [0] * b + [1] * c + [0] * d
    effect = logistic_effect(_design(x), y)
    assert effect["method"] == "ml"
    assert effect["or"] == pytest.approx(a * d / (b * c), rel=1e-8)
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    assert effect["ci_low"] == pytest.approx(a * d / (b * c) * np.exp(-1.959964 * se), rel=1e-5)


def test_separation_detected_complete_and_quasi_complete():
    x = np.array([1, 2, 3, 4, 5, 6], float)
    assert is_separated(_design(x), [0, 0, 0, 1, 1, 1])  # complete: x > 3.5 predicts y exactly
    assert is_separated(_design([0, 0, 1, 1, 1, 1]), [0, 0, 0, 1, 1, 1])  # quasi-complete: x = 0 only y = 0
    assert not is_separated(_design(x), [0, 1, 0, 1, 0, 1])
    assert not is_separated(_design([1, 2, 3, 4, 5, 6, 7]), [0, 0, 1, 0, 1, 1, 1])


def test_firth_on_a_separated_two_by_two_table_is_the_haldane_estimate():
    """With an intercept and one binary predictor, Firth's estimate equals adding 1/2 to every cell:
    table exposed 4 events / 0 non-events, unexposed 1 event / 5 non-events ->
    OR = (4.5 * 5.5) / (0.5 * 1.5) = 33 (hand calculation)."""
    x = [1] * 4 + [0] * 6
    y = [1] * 4 + [1] + [0] * 5
    effect = logistic_effect(_design(x), y)
    assert effect["method"] == "firth" and effect["separated"]
    assert effect["or"] == pytest.approx(33.0, rel=1e-6)
    assert 1.0 < effect["ci_low"] < 33.0 < effect["ci_high"] < 1e5
    assert 0.0 < effect["p"] < 0.05


@pytest.mark.filterwarnings("ignore")  # firthmodels' convergence notes on its own LR tests
@pytest.mark.parametrize("case", ["quasi-separated 2x2", "complete, continuous", "complete, continuous, 2nd",
                                  "near-separated, continuous", "complete, far from zero",
                                  "level in one group, level of one lesion"])
def test_firth_estimate_interval_and_p_equal_firthmodels(case):
    """Against firthmodels (an independent, maintained implementation that follows R's logistf: Newton-Raphson with
    step-halving, profile intervals by Venzon-Moolgavkar, penalized likelihood-ratio tests): estimate and profile
    95% interval of the coefficient to 1e-4, p where firthmodels gives one. The complete-separation cases reach
    the profile far out (upper bound near beta = 40), where the unrestricted fit is a poor start. "Far from zero"
    (200 lesions, values 0-20 succeed, 21-40 fail) puts the fit's intercept near 50, where 1 - p rounds to 0: the
    test of beta = 0, profiled from that fit, used to stop on a singular information matrix. "Level in one group"
    adjusts for a site whose level C only failures have and level D a single lesion: Newton used to cycle between
    two points and the model was dropped."""
    from firthmodels import FirthLogisticRegression

    rng = np.random.default_rng({"quasi-separated 2x2": 0, "complete, continuous": 3, "complete, continuous, 2nd": 4,
                                 "near-separated, continuous": 8, "complete, far from zero": 1,
                                 "level in one group, level of one lesion": 0}[case])
    if case == "quasi-separated 2x2":
        x = np.column_stack([[1.0] * 4 + [0.0] * 6])
        y = np.array([1] * 4 + [1] + [0] * 5, float)
    elif case == "complete, far from zero":
        y = (rng.random(200) < 0.8).astype(float)
        x = np.where(y == 1, rng.uniform(0, 20, 200), rng.uniform(21, 40, 200))[:, None]
    elif case.startswith("level"):
        y = (rng.random(60) < 0.75).astype(float)
        site = np.where(y == 1, rng.choice(["A", "B"], 60), rng.choice(["A", "B", "C"], 60))
        site[np.flatnonzero(y == 1)[0]] = "D"
        x = np.column_stack([rng.normal(20, 10, 60) - 5 * y] + [(site == level).astype(float) for level in "BCD"])
    else:
        x = rng.normal(size=(40, 2))
        y = (x[:, 0] + (0.8 * rng.normal(size=40) if case.startswith("near") else 0.0) > 0).astype(float)
    summary, _ = firth_summary(np.column_stack([np.ones(len(y)), x]), y, 1)
    reference = FirthLogisticRegression(gtol=1e-10, xtol=1e-10, max_iter=200).fit(x, y)
    low, high = reference.conf_int(method="pl", tol=1e-10, max_iter=200)[0]
    assert summary["beta"] == pytest.approx(reference.coef_[0], abs=1e-4)
    assert np.log(summary["ci_low"]) == pytest.approx(low, abs=1e-4)
    assert np.log(summary["ci_high"]) == pytest.approx(high, abs=1e-4)
    reference.lrt()
    if np.isfinite(reference.lrt_pvalues_[0]):
        assert summary["p"] == pytest.approx(reference.lrt_pvalues_[0], rel=1e-3)


def test_firth_without_separation_is_close_to_ml_for_a_large_sample():
    rng = np.random.default_rng(2)
    x = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-(0.3 + 0.7 * x)))).astype(float)
    ml = fit_ml(_design(x), y).coefficients
    firth = fit_firth(_design(x), y).coefficients
    np.testing.assert_allclose(firth, ml, atol=0.01)


def test_text_covariates_are_dummy_coded_not_dropped():
    """Issue 15: sex as M/F and smoking as text used to leave the "adjusted" model unadjusted. The adjusted
    OR must now equal statsmodels' formula fit with C(sex) + C(smoking) (treatment coding, first level as
    reference), and the row must list the covariates used."""
    import pandas as pd
    import statsmodels.formula.api as smf

    from CTOPlaqueStatsLib.analysis import StatsRequest, compute_stats
    from CTOPlaqueStatsLib.problems import ProblemLog

    rng = np.random.default_rng(11)
    count = 240
    sex = rng.choice(["F", "M"], count)
    smoking = rng.choice(["current", "former", "never"], count)
    calcium = rng.normal(20, 8, count)
    eta = 1.5 - 0.06 * calcium + 0.7 * (sex == "M") - 0.5 * (smoking == "never")
    success = (rng.random(count) < 1 / (1 + np.exp(-eta))).astype(int)
    cohort = pd.DataFrame({"lesion_id": [f"L{i}" for i in range(count)], "patient_id": [f"P{i}" for i in range(count)],
                           "success": success, "dense_calcium_pav": calcium, "sex": sex, "smoking": smoking})
    problems = ProblemLog()
    request = StatsRequest(outcomes=["success"], predictors=["dense_calcium_pav"], adjust=["sex", "smoking"])
    computed = compute_stats(cohort, request, problems)
    logistic, models = computed.logistic, computed.fitted
    adjusted = logistic[logistic["model"] == "adjusted"].iloc[0]
    assert adjusted["covariates"] == "sex=M, smoking=former, smoking=never"
    reference = smf.logit("success ~ dense_calcium_pav + C(sex) + C(smoking)", cohort).fit(disp=0)
    assert adjusted["or"] == pytest.approx(np.exp(reference.params["dense_calcium_pav"]), rel=1e-6)
    assert adjusted["p"] == pytest.approx(reference.pvalues["dense_calcium_pav"], rel=1e-5)
    assert "success ~ dense_calcium_pav (adjusted)" in models
    assert "smoking=never" in str(models["success ~ dense_calcium_pav (adjusted)"].summary())
    assert adjusted["interval"] == "model-based (Wald)"  # one lesion per patient: not clustered
    chosen = StatsRequest(outcomes=["success"], predictors=["dense_calcium_pav"], adjust=["sex", "smoking"],
                          references={"smoking": "never"})
    adjusted = compute_stats(cohort, chosen, ProblemLog()).logistic.query("model == 'adjusted'").iloc[0]
    assert adjusted["covariates"] == "sex=M, smoking=current, smoking=former"
    reference = smf.logit("success ~ dense_calcium_pav + C(sex) + C(smoking, Treatment('never'))", cohort).fit(disp=0)
    assert adjusted["or"] == pytest.approx(np.exp(reference.params["dense_calcium_pav"]), rel=1e-6)
    with pytest.raises(CTOPlaqueInputError, match="smoking has no level 'Never'"):
        compute_stats(cohort, StatsRequest(outcomes=["success"], predictors=["dense_calcium_pav"], adjust=["smoking"],
                                           references={"smoking": "Never"}), ProblemLog())


def test_default_reference_is_the_first_level_in_case_insensitive_order():
    """As R's sort() in an English locale: 'ge' < 'GE' < 'Philips' < 'siemens' (code points would give
    'GE' < 'Philips' < 'ge' < 'siemens')."""
    import pandas as pd

    from CTOPlaqueStatsLib.problems import ProblemLog
    from CTOPlaqueStatsLib.variables import analysis_variable, level_order

    assert level_order(["siemens", "Philips", "GE", "ge"]) == ["ge", "GE", "Philips", "siemens"]
    variable = analysis_variable(pd.Series(["Philips", " GE", "siemens", None]), "vendor", ProblemLog())
    assert (variable.kind, variable.levels, variable.reference) == ("categorical", ("GE", "Philips", "siemens"), "GE")
    chosen = analysis_variable(pd.Series(["Philips", "GE", "siemens"]), "vendor", ProblemLog(), reference="siemens")
    assert chosen.levels == ("siemens", "GE", "Philips")


def test_cluster_robust_interval_equals_statsmodels_gee_with_the_small_sample_factor():
    """An independent implementation of the clustered analysis: statsmodels' GEE (binomial, independence working
    correlation) has the ML estimate and the sandwich variance by patient, without small-sample factor; ours
    (Logit, cov_type cluster, as R's vcovCL HC1) multiplies it by G/(G-1) (N-1)/(N-K)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(21)
    patients = np.repeat(np.arange(90), rng.integers(1, 4, 90))
    shared = rng.normal(0, 1.0, 90)[patients]  # lesions of one patient alike
    x = rng.normal(0, 1, len(patients)) + shared
    y = (rng.random(len(patients)) < 1 / (1 + np.exp(-(0.2 + 0.6 * x + shared)))).astype(float)
    design = _design(x)
    robust = cluster_robust_summary(design, y, patients, index=1)
    gee = sm.GEE(y, design, groups=patients, family=sm.families.Binomial(),
                 cov_struct=sm.cov_struct.Independence()).fit(ctol=1e-12, params_niter=100)
    count, clusters = len(y), 90
    se = gee.bse[1] * np.sqrt(clusters / (clusters - 1) * (count - 1) / (count - 2))
    assert robust["or"] == pytest.approx(np.exp(gee.params[1]), rel=1e-7)
    assert np.log(robust["ci_high"] / robust["or"]) == pytest.approx(1.959964 * se, rel=1e-5)
    assert robust["clusters"] == clusters


def test_separation_note_names_the_covariate_that_separates_not_the_predictor():
    """Every diabetic lesion failed: the adjusted model of occlusion length is separated by diabetes; the note
    says so, and the length's own odds ratio stays finite (Firth)."""
    import pandas as pd

    from CTOPlaqueStatsLib.problems import ProblemLog
    from CTOPlaqueStatsLib.regression import logistic_rows

    rng = np.random.default_rng(5)
    count = 80
    length = rng.gamma(4.0, 6.0, count)
    diabetes = (rng.random(count) < 0.25).astype(float)
    success = ((rng.random(count) < 1 / (1 + np.exp(-(2.0 - 0.05 * length)))) & (diabetes == 0)).astype(float)
    problems = ProblemLog()
    rows = logistic_rows("success", pd.Series(success), {"occlusion_length_mm": pd.Series(length)},
                         {"diabetes": pd.Series(diabetes)}, problems)
    adjusted = rows[1]
    assert (rows[0]["method"], adjusted["method"]) == ("ml", "firth")
    assert np.isfinite(adjusted["or"]) and adjusted["interval"].startswith("profile penalized likelihood")
    notes = [item["message"] for item in problems.items if item["where"] == "success / occlusion_length_mm (adjusted)"]
    assert notes and notes[0].startswith("separation by diabetes:")


def test_cluster_robust_interval_on_duplicated_lesions_equals_the_sandwich_of_the_single_ones():
    """Every patient twice, with identical lesions: the copies add no information. Naive ML standard errors
    shrink by sqrt(2); the cluster-robust ones by patient equal the heteroskedasticity-robust sandwich
    A^-1 B A^-1 of the single lesions (A the information, B the sum of squared scores, written out here),
    times statsmodels' small-sample factor G/(G-1) (N-1)/(N-K)."""
    rng = np.random.default_rng(11)
    count = 150
    x = rng.normal(0.0, 1.0, count)
    y = (rng.random(count) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))).astype(float)
    design = np.column_stack([np.ones(count), x])
    single = fit_ml(design, y)
    p = 1 / (1 + np.exp(-design @ single.coefficients))
    information = design.T @ (design * (p * (1 - p))[:, None])
    scores = design * (y - p)[:, None]
    sandwich = np.linalg.inv(information) @ (scores.T @ scores) @ np.linalg.inv(information)
    correction = count / (count - 1) * (2 * count - 1) / (2 * count - 2)
    expected_se = np.sqrt(sandwich[1, 1] * correction)
    twice = np.vstack([design, design]), np.concatenate([y, y])
    robust = cluster_robust_summary(*twice, groups=np.concatenate([np.arange(count)] * 2), index=1)
    beta = single.coefficients[1]
    assert robust["or"] == pytest.approx(np.exp(beta), rel=1e-8)
    assert np.log(robust["ci_high"] / robust["or"]) == pytest.approx(1.959964 * expected_se, rel=1e-5)
    assert robust["clusters"] == count
    naive = wald_summary(fit_ml(*twice), 1)
    assert np.log(naive["ci_high"] / naive["or"]) < 0.75 * np.log(robust["ci_high"] / robust["or"])


def test_separation_screen_on_a_subset_decides_as_the_programme_on_every_row():
    """The screen of SEPARATION_SCREEN_ROWS rows may only say 'not separated'; each case below is checked
    against the linear programme on all rows."""
    from CTOPlaqueStatsLib.logistic import SEPARATION_SCREEN_ROWS, _separating_direction

    rng = np.random.default_rng(8)
    count = 4 * SEPARATION_SCREEN_ROWS + 1
    x = np.arange(count, dtype=float) / count
    screened = np.linspace(0, count - 1, SEPARATION_SCREEN_ROWS).astype(int)
    outside = np.setdiff1d(np.arange(count), screened)
    cases = {}
    y = (rng.random(count) < 0.5).astype(float)
    cases["overlapping"] = (np.column_stack([np.ones(count), x]), y, False)
    y = (x > 0.5).astype(float)
    cases["separated"] = (np.column_stack([np.ones(count), x]), y, True)
    y_broken = y.copy()
    y_broken[outside[5]] = 1.0  # a success at the low end, on a row the screen does not see: not separated
    cases["overlap only outside the screen"] = (np.column_stack([np.ones(count), x]), y_broken, False)
    rare = np.zeros(count)
    rare[outside[:3]] = 1.0  # a binary predictor set only on rows outside the screen, all of them successes
    y_rare = (rng.random(count) < 0.5).astype(float)
    y_rare[outside[:3]] = 1.0
    cases["rank-deficient screen"] = (np.column_stack([np.ones(count), x, rare]), y_rare, True)
    for name, (design, outcome, separated) in cases.items():
        assert (_separating_direction(design, outcome) is not None) is separated, name
        assert is_separated(design, outcome) is separated, name
