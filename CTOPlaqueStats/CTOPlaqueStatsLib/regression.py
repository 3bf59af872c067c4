"""Univariable and adjusted logistic models for each outcome and predictor (seed paper Table 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .logistic import FitFailed, cluster_robust_summary, logistic_effect
from .problems import ProblemLog


def logistic_rows(outcome_name: str, outcome: pd.Series, predictors: dict, adjusters: dict,
                  problems: ProblemLog, patients: pd.Series = None) -> list:
    """Rows: outcome, predictor, model (univariate / adjusted), or, ci_low, ci_high, p (per unit of the
    predictor), sd (the predictor's SD in the complete rows) with or_per_sd, ci_low_per_sd, ci_high_per_sd
    (per 1 SD: OR^sd, comparable between predictors of different units), n, events, method,
    covariates (those actually in the model), and
    fitted: the statsmodels result of a maximum-likelihood model (None for Firth), for .summary().
    patients: the patient of each lesion; where a patient has several lesions among the complete rows, a
    maximum-likelihood row also gets the cluster-robust interval and p by patient (ci_low_cluster,
    ci_high_cluster, p_cluster, patients), empty otherwise."""
    rows = []
    for name, values in predictors.items():
        models = [("univariate", {})]
        if adjusters:
            models.append(("adjusted", {k: v for k, v in adjusters.items() if k != name}))
        for model, covariates in models:
            row = _fit_row(outcome_name, outcome, name, values, model, covariates, problems, patients)
            if row:
                rows.append(row)
    return rows


def _fit_row(outcome_name, outcome, name, values, model, covariates, problems, patients=None):
    frame = pd.DataFrame({"__y": outcome, name: values, **covariates}).dropna()
    where = f"{outcome_name} / {name} ({model})"
    events = int(frame["__y"].sum())
    if len(frame) < 3 or events == 0 or events == len(frame):
        problems.add(where, f"{len(frame)} complete rows with {events} events: no model fitted")
        return None
    if frame[name].nunique() < 2:
        problems.add(where, "predictor constant among complete rows: no model fitted")
        return None
    design = np.column_stack([np.ones(len(frame)), frame.drop(columns="__y").to_numpy(float)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        problems.add(where, "predictor and covariates are collinear: no model fitted")
        return None
    try:
        effect = logistic_effect(design, frame["__y"].to_numpy(float), index=1,
                                 names=["intercept", *frame.columns.drop("__y")])
    except (FitFailed, np.linalg.LinAlgError, ValueError) as error:
        problems.add(where, f"model did not converge ({error})")
        return None
    if effect["separated"]:
        problems.add(where, "separation in the data: the maximum-likelihood odds ratio is infinite; "
                            "Firth's penalized likelihood used (profile-likelihood CI)")
    sd = float(frame[name].std(ddof=1))
    return {"outcome": outcome_name, "predictor": name, "model": model, "or": effect["or"],
            "ci_low": effect["ci_low"], "ci_high": effect["ci_high"], "p": effect["p"],
            "sd": sd, "or_per_sd": effect["or"] ** sd, "ci_low_per_sd": effect["ci_low"] ** sd,
            "ci_high_per_sd": effect["ci_high"] ** sd, "n": len(frame),
            "events": events, "method": effect["method"], "covariates": ", ".join(covariates),
            **_clustered(design, frame["__y"].to_numpy(float), effect, patients, frame.index, where, problems),
            "fitted": effect["model"]}


def _clustered(design, outcome, effect, patients, index, where, problems) -> dict:
    """The cluster-robust columns of a row (empty unless some patient has several complete lesions)."""
    empty = {"ci_low_cluster": None, "ci_high_cluster": None, "p_cluster": None, "patients": None}
    if patients is None or effect["method"] != "ml":
        return empty
    groups = patients.reindex(index)
    if groups.isna().any() or not groups.duplicated().any():
        return empty
    try:
        robust = cluster_robust_summary(design, outcome, groups.to_numpy(), index=1)
    except (FitFailed, np.linalg.LinAlgError, ValueError) as error:
        problems.add(where, f"cluster-robust interval by patient not computed ({error})")
        return empty
    return {"ci_low_cluster": robust["ci_low"], "ci_high_cluster": robust["ci_high"], "p_cluster": robust["p"],
            "patients": robust["clusters"]}
