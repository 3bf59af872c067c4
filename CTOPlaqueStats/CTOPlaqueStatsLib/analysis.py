"""The cohort analysis: comparisons, logistic models, figures and report, written all-or-nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from CTOPlaqueLib.staging import staged_outputs

from .comparison import comparison_rows, patients_from_lesions
from .figures import write_boxplots_png, write_calibration_png, write_forest_png, write_roc_png
from .logistic import FitFailed
from .prediction import DELONG_NESTED_CAVEAT, compare_models
from .problems import ProblemLog
from .regression import logistic_rows
from .report import prediction_display, write_report_html
from .table1 import TABLE1_COLUMNS, table_one
from .variables import (binary_outcome, category_indicators, is_categorical_text, numeric_variable,
                        spreadsheet_frame)

COMPARISON_COLUMNS = ["outcome", "variable", "level", "test", "p", "n_0", "n_1", "summary_0", "summary_1"]
LOGISTIC_COLUMNS = ["outcome", "predictor", "model", "or", "ci_low", "ci_high", "p", "sd", "or_per_sd",
                    "ci_low_per_sd", "ci_high_per_sd", "n", "events", "method", "covariates", "ci_low_cluster",
                    "ci_high_cluster", "p_cluster", "patients"]
PATIENT_RULES = ("any-failed", "any-success")


@dataclass
class StatsRequest:
    outcomes: list
    predictors: list
    adjust: list = field(default_factory=list)
    patient_vars: list = field(default_factory=list)
    patient_rule: str = "any-failed"
    base_model: list = field(default_factory=list)
    added: list = field(default_factory=list)
    bootstrap_resamples: int = 200


@dataclass
class StatsResult:
    comparison: pd.DataFrame
    logistic: pd.DataFrame
    problems: pd.DataFrame
    paths: dict
    prediction: pd.DataFrame = None
    prediction_comparison: pd.DataFrame = None
    # "outcome ~ predictor (univariate|adjusted)" -> statsmodels result of each maximum-likelihood model;
    # e.g. result.models["success ~ dense_calcium_pav (univariate)"].summary() in Slicer's Python console.
    models: dict = field(default_factory=dict)


def prediction_tables(cohort: pd.DataFrame, outcomes: dict, request: StatsRequest, problems: ProblemLog):
    """Base vs base + added model per outcome: (per-model table, comparison table, ROC/calibration curves)."""
    models, comparisons, curves = [], [], {}
    if not request.base_model or not request.added:
        return pd.DataFrame(models), pd.DataFrame(comparisons), curves
    base = _columns(cohort, request.base_model, problems)
    added = _columns(cohort, request.added, problems)
    if not base or not added:
        problems.add("prediction model", "no usable base or added columns; models not compared")
        return pd.DataFrame(models), pd.DataFrame(comparisons), curves
    for name, coded in outcomes.items():
        frame = pd.concat([coded.rename("__y"), pd.DataFrame(base), pd.DataFrame(added)], axis=1).dropna()
        events = int(frame["__y"].sum())
        if min(events, len(frame) - events) < 10:
            problems.add(f"{name} / prediction model", f"{len(frame)} complete rows with {events} events: "
                                                         "fewer than 10 in a group, models not compared")
            continue
        y = frame["__y"].to_numpy(float)
        try:
            result = compare_models(frame[list(base)].to_numpy(float), frame[list(added)].to_numpy(float), y,
                                    request.bootstrap_resamples)
        except (FitFailed, np.linalg.LinAlgError) as error:
            problems.add(f"{name} / prediction model", f"model did not converge ({error})")
            continue
        for label, values in result["models"].items():
            models.append({"outcome": name, "model": label, "n": len(frame), "events": events, **values})
        comparisons.append({"outcome": name, "base": " + ".join(base), "added": " + ".join(added),
                            **result["comparison"]})
        for label, probabilities in (("base", result["p_base"]), ("base + added", result["p_full"])):
            curves[(name, label)] = (probabilities, y, result["models"][label]["auc"])
    return pd.DataFrame(models), pd.DataFrame(comparisons), curves


def _columns(cohort: pd.DataFrame, names, problems: ProblemLog) -> dict:
    usable = {}
    for name in names:
        if name not in cohort.columns:
            problems.add(name, "column not in the cohort table; left out")
            continue
        values = numeric_variable(cohort[name], name, problems)
        if values is not None:
            usable[name] = values
    return usable


def _covariates(cohort: pd.DataFrame, names, problems: ProblemLog) -> dict:
    """Adjustment covariates: numbers as they are, text categories as 0/1 indicators (never dropped
    silently: an adjusted model that quietly lost its covariates would be reported as adjusted)."""
    usable = {}
    for name in names:
        if name in cohort.columns and is_categorical_text(cohort[name]):
            usable.update(category_indicators(cohort[name], name, problems))
        else:
            usable.update(_columns(cohort, [name], problems))
    return usable


def compute_stats(cohort: pd.DataFrame, request: StatsRequest, problems: ProblemLog):
    """Comparison and logistic tables, and the coded outcomes, for every usable outcome."""
    outcomes = {}
    for name in request.outcomes:
        if name not in cohort.columns:
            problems.add(name, "outcome column not in the cohort table; skipped")
            continue
        coded = binary_outcome(cohort[name], name, problems)
        if coded is not None:
            outcomes[name] = coded
    predictors = _columns(cohort, request.predictors, problems)
    adjusters = _covariates(cohort, request.adjust, problems)
    lesion_variables = {**predictors, **{k: v for k, v in adjusters.items() if k not in request.patient_vars}}
    patient_columns = [n for n in request.patient_vars if n in cohort.columns]
    for name in request.patient_vars:
        if name not in cohort.columns:
            problems.add(name, "patient variable not in the cohort table; left out")
    comparisons, models, tables = [], [], []
    for name, coded in outcomes.items():
        comparisons += comparison_rows(name, coded, lesion_variables, "lesion", problems)
        tables.append(table_one(name, coded, lesion_variables, "lesion"))
        if patient_columns and "patient_id" in cohort.columns:
            frame = pd.concat([cohort[["patient_id"]], coded.rename(name)], axis=1)
            for column in patient_columns:
                frame[column] = cohort[column]
            patients = patients_from_lesions(frame, name, patient_columns, request.patient_rule, problems)
            patient_variables = _columns(patients, patient_columns, ProblemLog())
            comparisons += comparison_rows(name, patients[name], patient_variables, "patient", problems)
            tables.append(table_one(name, patients[name], patient_variables, "patient"))
        models += logistic_rows(name, coded, predictors, adjusters, problems,
                                cohort["patient_id"] if "patient_id" in cohort.columns else None)
    comparison = pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS)
    logistic = pd.DataFrame(models, columns=LOGISTIC_COLUMNS)
    fitted = {f"{row['outcome']} ~ {row['predictor']} ({row['model']})": row["fitted"] for row in models
              if row["fitted"] is not None}
    table1 = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=TABLE1_COLUMNS)
    return comparison, logistic, outcomes, fitted, table1


def run_stats(cohort: pd.DataFrame, request: StatsRequest, out_dir: str, problems: ProblemLog = None,
              title: str = "CTO cohort statistics") -> StatsResult:
    """Write table1.csv, comparison.csv, logistic.csv, problems.csv, forest.png, boxplots.png and report.html."""
    problems = problems if problems is not None else ProblemLog()
    if request.patient_rule not in PATIENT_RULES:
        problems.add("patient rule", f"unknown rule {request.patient_rule!r}; any-failed used")
        request.patient_rule = "any-failed"
    comparison, logistic, outcomes, fitted, table1 = compute_stats(cohort, request, problems)
    prediction, prediction_comparison, curves = prediction_tables(cohort, outcomes, request, problems)
    problem_table = pd.DataFrame(problems.items, columns=["where", "message"])
    names = {"table1": "table1.csv", "comparison": "comparison.csv", "logistic": "logistic.csv",
             "problems": "problems.csv",
             "forest": "forest.png", "boxplots": "boxplots.png", "report": "report.html"}
    if curves:
        names.update({"prediction": "prediction.csv", "prediction_comparison": "prediction_comparison.csv",
                      "roc": "roc.png", "calibration": "calibration.png"})
    with staged_outputs(out_dir) as staging:
        def staged(kind):
            return os.path.join(staging, names[kind])

        spreadsheet_frame(table1).to_csv(staged("table1"), index=False)
        spreadsheet_frame(comparison).to_csv(staged("comparison"), index=False)
        spreadsheet_frame(logistic).to_csv(staged("logistic"), index=False)
        spreadsheet_frame(problem_table).to_csv(staged("problems"), index=False)
        write_forest_png(staged("forest"), logistic)
        write_boxplots_png(staged("boxplots"), cohort, outcomes, request.predictors)
        figures = {"Odds ratios per 1 SD of each predictor (Figure 4 of the seed paper)": staged("forest"),
                   "Predictors by outcome group (Figure 3)": staged("boxplots")}
        extra_tables = {}
        if curves:
            spreadsheet_frame(prediction).to_csv(staged("prediction"), index=False)
            spreadsheet_frame(prediction_comparison).to_csv(staged("prediction_comparison"), index=False)
            write_roc_png(staged("roc"), curves)
            write_calibration_png(staged("calibration"), curves)
            figures.update({"ROC curves, base vs base + added": staged("roc"),
                            "Calibration: deciles of predicted risk (95% CI) and lowess, one panel per model":
                                staged("calibration")})
            shown_models, shown_comparison = prediction_display(prediction, prediction_comparison)
            extra_tables = {"Prediction models": shown_models, "Incremental value of the added predictors":
                            (shown_comparison, DELONG_NESTED_CAVEAT)}
        settings = {"lesions": len(cohort), "outcomes": ", ".join(request.outcomes),
                    "predictors": ", ".join(request.predictors), "adjusted for": ", ".join(request.adjust) or "-",
                    "patient variables": ", ".join(request.patient_vars) or "-",
                    "patient rule": request.patient_rule,
                    "base model": " + ".join(request.base_model) or "-", "added": " + ".join(request.added) or "-"}
        write_report_html(staged("report"), title, settings, comparison, logistic, problem_table, figures,
                          extra_tables, table1)
    paths = {kind: os.path.join(out_dir, name) for kind, name in names.items()}
    return StatsResult(comparison, logistic, problem_table, paths, prediction, prediction_comparison, fitted)
