"""Univariable and adjusted logistic models for each outcome and predictor (seed paper Table 4).

Pre-specified primary analysis (docs/statistics.md): when lesions are clustered by patient (``patients`` given:
some patient has more than one lesion in the cohort), every maximum-likelihood row's interval and p are the
cluster-robust ones by patient, and the model-based (Wald, lesions independent) interval and p are the
secondary columns ``ci_low_model``, ``ci_high_model``, ``p_model``. Otherwise the model-based interval is the
primary one and those columns stay empty. Firth rows (separated data) have the profile penalized-likelihood
interval and no clustered one. ``interval`` names the primary interval of each row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .logistic import FitFailed, cluster_robust_summary, logistic_effect, odds_ratio_summary
from .problems import ProblemLog

_INTERVAL_KEYS = ("beta", "se", "beta_low", "beta_high", "ci_low", "ci_high", "p")
INTERVALS = {"cluster": "cluster-robust by patient", "model": "model-based (Wald)",
             "firth": "profile penalized likelihood (Firth; not clustered)"}


def logistic_rows(outcome_name: str, outcome: pd.Series, predictors: dict, adjusters: dict,
                  problems: ProblemLog, patients: pd.Series = None) -> list:
    """Rows: outcome, predictor, model (univariate / adjusted), or, ci_low, ci_high, p (per unit of the
    predictor; the primary interval and p), sd (the predictor's SD in the complete rows) with or_per_sd,
    ci_low_per_sd, ci_high_per_sd (per 1 SD: OR^sd, comparable between predictors of different units), n, events,
    method, interval (INTERVALS), covariates (those actually in the model), patients (clusters), ci_low_model,
    ci_high_model, p_model (the model-based interval and p where the primary one is clustered), and fitted: the
    statsmodels result of a maximum-likelihood model (None for Firth), for .summary().

    predictors, adjusters: name -> float Series aligned with ``outcome`` (text covariates as their 0/1
    indicators). patients: the patient of each lesion when the analysis is clustered by patient, else None.
    """
    rows = []
    for name, values in predictors.items():
        models = [("univariate", {})]
        others = {k: v for k, v in adjusters.items() if k != name}
        if others:  # a predictor that is the only covariate has no adjusted model: it would repeat the univariate one
            models.append(("adjusted", others))
        for model, covariates in models:
            row = _fit_row(outcome_name, outcome, name, values, model, covariates, problems, patients)
            if row:
                rows.append(row)
    return rows


def _complete_rows(outcome: pd.Series, columns: dict, where: str, problems: ProblemLog) -> pd.DataFrame:
    """The complete cases of the model's columns among the rows with a rated outcome; when some are left out,
    a note says how many and for which missing values, per variable (the indicators "smoking=former",
    "smoking=never" of a text covariate are missing together: "smoking (4)")."""
    frame = pd.DataFrame({"__y": outcome, **columns})[outcome.notna()]
    complete = frame.dropna()
    if len(complete) < len(frame):
        missing = frame.drop(columns="__y").isna().sum()
        missing = missing.groupby(lambda column: column.split("=", 1)[0], sort=False).max()
        reasons = ", ".join(f"{name} ({count})" for name, count in missing[missing > 0].items())
        problems.add(where, f"complete-case analysis: n {len(frame)} -> {len(complete)}; "
                            f"{len(frame) - len(complete)} left out for a missing value of {reasons}")
    return complete


def _without_constant_covariates(frame: pd.DataFrame, covariates: dict, where: str, problems: ProblemLog) -> dict:
    """The covariates that vary among the complete rows; a constant one (which would make the design singular)
    is left out of this model with a note, so that "adjusted for" lists only what the model holds."""
    kept = {name: values for name, values in covariates.items() if frame[name].nunique() > 1}
    for name in [name for name in covariates if name not in kept]:
        problems.add(where, f"covariate {name} constant among the complete rows: left out of this model")
    return kept


def _fit_row(outcome_name, outcome, name, values, model, covariates, problems, patients=None):
    where = f"{outcome_name} / {name} ({model})"
    frame = _complete_rows(outcome, {name: values, **covariates}, where, problems)
    events = int(frame["__y"].sum())
    if len(frame) < 3 or events == 0 or events == len(frame):
        problems.add(where, f"{len(frame)} complete rows with {events} events: no model fitted")
        return None
    if frame[name].nunique() < 2:
        problems.add(where, "predictor constant among complete rows: no model fitted")
        return None
    covariates = _without_constant_covariates(frame, covariates, where, problems)
    columns = [name, *covariates]
    design = np.column_stack([np.ones(len(frame)), frame[columns].to_numpy(float)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        problems.add(where, "predictor and covariates are collinear: no model fitted")
        return None
    y = frame["__y"].to_numpy(float)
    try:
        effect = logistic_effect(design, y, index=1, names=["intercept", *columns])
    except (FitFailed, np.linalg.LinAlgError, ValueError) as error:
        problems.add(where, f"model did not converge ({error})")
        return None
    if effect["separated"]:
        separating = ", ".join(columns[i - 1] for i in effect["separating"] if i > 0) or "the intercept"
        problems.add(where, f"separation by {separating}: maximum-likelihood estimates do not exist (they are "
                            "infinite); Firth's penalized likelihood used, profile-likelihood CI, no clustered "
                            "interval")
    primary = _primary_interval(design, y, effect, patients, frame.index, where, problems)
    sd = float(frame[name].std(ddof=1))
    per_sd = odds_ratio_summary(*(primary[key] * sd for key in ("beta", "se", "beta_low", "beta_high")), primary["p"])
    return {"outcome": outcome_name, "predictor": name, "model": model, "or": effect["or"],
            **{key: primary[key] for key in ("ci_low", "ci_high", "p")},
            "sd": sd, "or_per_sd": per_sd["or"], "ci_low_per_sd": per_sd["ci_low"], "ci_high_per_sd": per_sd["ci_high"],
            "n": len(frame), "events": events,
            "method": effect["method"], "interval": INTERVALS[primary["interval"]], "covariates": ", ".join(covariates),
            "patients": primary["patients"], "ci_low_model": primary["ci_low_model"],
            "ci_high_model": primary["ci_high_model"], "p_model": primary["p_model"], "fitted": effect["model"]}


def _primary_interval(design, outcome, effect, patients, index, where, problems) -> dict:
    """The row's primary interval and p (cluster-robust by patient when ``patients`` is given, for a
    maximum-likelihood model) and the secondary, model-based ones where the primary is clustered; with beta, its
    SE and its bounds (``odds_ratio_summary``), from which the per-SD odds ratios are computed."""
    primary = {key: effect[key] for key in _INTERVAL_KEYS} | {
        "patients": None, "ci_low_model": None, "ci_high_model": None, "p_model": None,
        "interval": "firth" if effect["method"] == "firth" else "model"}
    if patients is None or effect["method"] != "ml":
        return primary
    try:
        robust = cluster_robust_summary(design, outcome, patients.reindex(index).to_numpy(), index=1)
    except (FitFailed, np.linalg.LinAlgError, ValueError) as error:
        problems.add(where, f"cluster-robust interval by patient not computed ({error}); model-based interval shown")
        return primary
    return {key: robust[key] for key in _INTERVAL_KEYS} | {
        "patients": robust["clusters"], "ci_low_model": effect["ci_low"], "ci_high_model": effect["ci_high"],
        "p_model": effect["p"], "interval": "cluster"}
