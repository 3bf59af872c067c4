"""Prediction-model comparison against brute force, statsmodels and hand calculations."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from CTOPlaqueStatsLib.logistic import fit_ml
from CTOPlaqueStatsLib.prediction import compare_models, continuous_nri, delong, idi, structural_components


def _brute_force_components(scores, outcome):
    positive, negative = scores[outcome == 1], scores[outcome == 0]

    def psi(a, b):
        return 1.0 if a > b else 0.5 if a == b else 0.0

    v10 = np.array([np.mean([psi(x, y) for y in negative]) for x in positive])
    v01 = np.array([np.mean([psi(x, y) for x in positive]) for y in negative])
    return v10, v01


def test_structural_components_and_delong_variance_match_brute_force():
    rng = np.random.default_rng(4)
    outcome = (rng.random(40) < 0.45).astype(float)
    a = np.round(rng.normal(outcome, 1.0), 1)  # rounded: ties occur
    b = np.round(rng.normal(1.5 * outcome, 1.0), 1)
    for scores in (a, b):
        fast, brute = structural_components(scores, outcome), _brute_force_components(scores, outcome)
        np.testing.assert_allclose(fast[0], brute[0])
        np.testing.assert_allclose(fast[1], brute[1])
    result = delong(a, b, outcome)
    va, vb = _brute_force_components(a, outcome), _brute_force_components(b, outcome)
    m, n = len(va[0]), len(va[1])
    s10 = np.cov(np.vstack([va[0], vb[0]]))
    s01 = np.cov(np.vstack([va[1], vb[1]]))
    np.testing.assert_allclose(result["covariance"], s10 / m + s01 / n)
    # The AUC is the Mann-Whitney probability P(score of a positive > score of a negative).
    pairs = [(x > y) + 0.5 * (x == y) for x in a[outcome == 1] for y in a[outcome == 0]]
    assert result["auc"][0] == pytest.approx(np.mean(pairs))


def test_nri_and_idi_by_hand():
    """Events: probabilities go up for 2 of 3, down for 1; non-events: down for 2 of 2.
    NRI = (2/3 - 1/3) + (2/2 - 0) = 4/3. IDI = mean change in events (0.1+0.1-0.1)/3 - mean in non-events
    (-0.2-0.1)/2 = 1/30 + 0.15."""
    outcome = np.array([1, 1, 1, 0, 0], float)
    base = np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    full = np.array([0.6, 0.6, 0.4, 0.3, 0.4])
    assert continuous_nri(base, full, outcome)[0] == pytest.approx(4 / 3)
    assert idi(base, full, outcome)[0] == pytest.approx(1 / 30 + 0.15)


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(11)
    count = 300
    score = rng.integers(0, 5, count).astype(float)          # a difficulty score, e.g. J-CTO
    calcium = rng.normal(25, 10, count)                       # PAV of dense calcium
    noise = rng.normal(size=count)                            # an uninformative added variable
    log_odds = 2.0 - 0.5 * score - 0.06 * (calcium - 25)
    outcome = (rng.random(count) < 1 / (1 + np.exp(-log_odds))).astype(float)
    return score, calcium, noise, outcome, compare_models(score[:, None], calcium[:, None], outcome, resamples=200)


def test_likelihood_ratio_test_equals_statsmodels_deviance_difference(comparison):
    score, calcium, _, outcome, result = comparison
    base = sm.GLM(outcome, sm.add_constant(score), family=sm.families.Binomial()).fit(tol=1e-13)
    full = sm.GLM(outcome, sm.add_constant(np.column_stack([score, calcium])),
                  family=sm.families.Binomial()).fit(tol=1e-13)
    assert result["comparison"]["lr_chi2"] == pytest.approx(base.deviance - full.deviance, rel=1e-7)
    assert result["comparison"]["lr_df"] == 1


def test_informative_added_variable_improves_discrimination(comparison):
    _, _, _, _, result = comparison
    models, delta = result["models"], result["comparison"]
    assert models["base + added"]["auc"] > models["base"]["auc"]
    assert delta["delong_p"] < 0.05 and delta["lr_p"] < 0.001
    assert delta["nri_ci_low"] > 0 and delta["idi_ci_low"] > 0
    for model in models.values():
        assert model["auc_ci_low"] < model["auc"] < model["auc_ci_high"]
        assert model["calibration_slope"] == pytest.approx(1.0, abs=1e-6)  # in-sample ML fit
        assert model["calibration_intercept"] == pytest.approx(0.0, abs=1e-6)
        assert model["auc_optimism_corrected"] < model["auc"]
        assert 0.8 < model["calibration_slope_optimism_corrected"] < 1.2
        assert model["bootstrap_resamples"] == 200


def test_noise_adds_nothing_after_optimism_correction(comparison):
    score, _, noise, outcome, _ = comparison
    result = compare_models(score[:, None], noise[:, None], outcome, resamples=200, seed=3)
    assert result["comparison"]["lr_p"] > 0.05
    corrected_gain = (result["models"]["base + added"]["auc_optimism_corrected"]
                      - result["models"]["base"]["auc_optimism_corrected"])
    assert corrected_gain < 0.01
    again = compare_models(score[:, None], noise[:, None], outcome, resamples=200, seed=3)
    assert again["models"]["base"]["auc_optimism_corrected"] == result["models"]["base"]["auc_optimism_corrected"]


def test_overfitted_model_has_a_shrunken_corrected_calibration_slope():
    """Eight noise predictors on 80 lesions: the bootstrap shows the slope such a model needs is well below 1."""
    rng = np.random.default_rng(8)
    count = 80
    base = rng.normal(size=(count, 1))
    outcome = (rng.random(count) < 1 / (1 + np.exp(-base[:, 0]))).astype(float)
    result = compare_models(base, rng.normal(size=(count, 8)), outcome, resamples=200, seed=1)
    full = result["models"]["base + added"]
    assert full["calibration_slope_optimism_corrected"] < 0.85
    assert full["auc_optimism_corrected"] < full["auc"] - 0.03


def test_likelihood_ratio_is_the_powerful_test_of_added_value_and_delong_the_conservative_one():
    """Demler, Pencina & D'Agostino (Stat Med 2012): for nested models fitted in-sample, DeLong's test of the AUC
    difference rejects far less often than the likelihood-ratio test. 60 cohorts of 207 lesions with an added
    predictor of modest true effect (OR 1.35 per SD): the likelihood-ratio test finds it at least twice as
    often, and under the null (OR 1) DeLong rejects (almost) never."""
    rng = np.random.default_rng(2012)
    rejections = {"lr": [0, 0], "delong": [0, 0]}
    for effect_index, log_or in enumerate((0.3, 0.0)):
        for _ in range(60):
            base, added = rng.normal(size=207), rng.normal(size=207)
            y = (rng.random(207) < 1 / (1 + np.exp(-(0.5 + 0.8 * base + log_or * added)))).astype(float)
            base_fit = fit_ml(sm.add_constant(base), y)
            full_x = np.column_stack([base, added])
            full_fit = fit_ml(sm.add_constant(full_x), y)
            lr_p = stats.chi2.sf(2 * (full_fit.log_likelihood - base_fit.log_likelihood), 1)
            roc = delong(sm.add_constant(base) @ base_fit.coefficients, sm.add_constant(full_x) @ full_fit.coefficients,
                         y)
            rejections["lr"][effect_index] += lr_p < 0.05
            rejections["delong"][effect_index] += roc["p"] < 0.05
    assert rejections["lr"][0] >= max(2 * rejections["delong"][0], 10)
    assert rejections["delong"][1] <= 1


def test_roc_points_equal_the_counts_at_every_cut_and_integrate_to_the_auc():
    """Against the definition (a loop over cuts), with heavy ties; the trapezoid area equals the Mann-Whitney AUC."""
    from CTOPlaqueStatsLib.figures import roc_points

    rng = np.random.default_rng(5)
    outcome = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + 0.8 * outcome, 1)  # about 50 distinct values
    fpr, tpr = roc_points(scores, outcome)
    cuts = np.unique(scores)[::-1]
    assert np.allclose(tpr[1:], [((scores >= c) & (outcome == 1)).sum() / outcome.sum() for c in cuts])
    assert np.allclose(fpr[1:], [((scores >= c) & (outcome == 0)).sum() / (outcome == 0).sum() for c in cuts])
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    u = stats.mannwhitneyu(scores[outcome == 1], scores[outcome == 0]).statistic
    assert np.trapezoid(tpr, fpr) == pytest.approx(u / (outcome.sum() * (outcome == 0).sum()), abs=1e-12)


def test_weighted_aucs_equal_the_mann_whitney_auc_of_the_resample_and_of_the_original():
    from CTOPlaqueStatsLib.prediction import weighted_aucs

    rng = np.random.default_rng(3)
    outcome = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(size=500) + outcome, 1)  # ties
    index = rng.integers(0, 500, 500)

    def mann_whitney_auc(s, y):
        return stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic / ((y == 1).sum() * (y == 0).sum())

    resample, original = weighted_aucs(scores, outcome, [np.bincount(index, minlength=500), np.ones(500)])
    assert resample == pytest.approx(mann_whitney_auc(scores[index], outcome[index]), abs=1e-12)
    assert original == pytest.approx(mann_whitney_auc(scores, outcome), abs=1e-12)
    assert resample != pytest.approx(original, abs=1e-4)


def _full_coefficients(x, outcome):
    return fit_ml(sm.add_constant(x.reshape(len(outcome), -1)), outcome).coefficients


def test_bootstrap_gives_the_same_optimism_on_any_number_of_threads(comparison):
    from CTOPlaqueStatsLib.prediction import bootstrap_optimism

    score, calcium, _, outcome, _ = comparison
    x = np.column_stack([score, calcium])
    full = _full_coefficients(x, outcome)
    one, three = (bootstrap_optimism(x, outcome, 40, 7, full, threads=t) for t in (1, 3))
    assert one == three and one["resamples_used"] == 40
    assert bootstrap_optimism(x, outcome, 40, 8, full)["auc_optimism"] != one["auc_optimism"]


@pytest.mark.parametrize("columns", [1, 2])
def test_bootstrap_optimism_equals_harrells_procedure_written_out(comparison, columns):
    """Against Harrell's bootstrap written out with statsmodels and scipy: in each resample (the same spawned
    generators) refit the model, take its AUC on the resample (Mann-Whitney) minus its AUC on the original
    data, and fit the original outcome on its linear predictor for the calibration slope. One predictor (the
    exact shortcut: no recalibration fit, one sort) and two (the general path)."""
    from CTOPlaqueStatsLib.prediction import bootstrap_optimism

    score, calcium, _, outcome, _ = comparison
    x = np.column_stack([score, calcium])[:, :columns]
    full = _full_coefficients(x, outcome)

    def mann_whitney_auc(s, y):
        return stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic / ((y == 1).sum() * (y == 0).sum())

    optimism, slopes = [], []
    for child in np.random.SeedSequence(11).spawn(30):
        index = np.random.default_rng(child).integers(0, len(outcome), len(outcome))
        refit = sm.Logit(outcome[index], sm.add_constant(x[index])).fit(disp=0).params
        tested = sm.add_constant(x) @ refit
        optimism.append(mann_whitney_auc(sm.add_constant(x[index]) @ refit, outcome[index])
                        - mann_whitney_auc(tested, outcome))
        slopes.append(sm.Logit(outcome, sm.add_constant(tested)).fit(disp=0).params[1])
    result = bootstrap_optimism(x, outcome, 30, 11, full)
    assert result["resamples_used"] == 30
    assert result["auc_optimism"] == pytest.approx(np.mean(optimism), abs=1e-9)
    assert result["calibration_slope"] == pytest.approx(np.mean(slopes), abs=1e-6)
