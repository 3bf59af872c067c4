"""The cohort analysis: comparisons, logistic models, figures and report, written all-or-nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.staging import staged_outputs

from .comparison import COMPARISON_COLUMNS, comparison_rows, patients_from_lesions
from .figures import write_boxplots_png, write_calibration_png, write_forest_png, write_roc_png
from .labels import LabelTable
from .logistic import FitFailed
from .options import MIN_BOOTSTRAP, PATIENT_RULES, T_TESTS
from .prediction import DELONG_NESTED_CAVEAT, compare_models
from .problems import ProblemLog
from .regression import logistic_rows
from .report import prediction_display, write_report_html
from .table1 import TABLE1_COLUMNS, group_names, table1_footnote, table_one
from .variables import analysis_variable, binary_outcome, category_indicators, numeric_variable, spreadsheet_frame

LOGISTIC_COLUMNS = ["outcome", "predictor", "model", "or", "ci_low", "ci_high", "p", "sd", "or_per_sd",
                    "ci_low_per_sd", "ci_high_per_sd", "n", "events", "method", "interval", "covariates", "patients",
                    "ci_low_model", "ci_high_model", "p_model", "label"]


@dataclass
class StatsRequest:
    """Every setting of a statistics run (written into the report).

    references: variable -> its reference level (``--reference vendor=GE``); t_test: "welch" (default) or
    "student"; labels_csv: a CSV column,label[,unit] extending the label table ("" for none)."""

    outcomes: list
    predictors: list
    adjust: list = field(default_factory=list)
    patient_vars: list = field(default_factory=list)
    patient_rule: str = "any-failed"
    base_model: list = field(default_factory=list)
    added: list = field(default_factory=list)
    bootstrap_resamples: int = MIN_BOOTSTRAP
    references: dict = field(default_factory=dict)
    t_test: str = "welch"
    labels_csv: str = ""


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
    table1: pd.DataFrame = None


@dataclass
class ComputedStats:
    """The tables of ``compute_stats`` and what went into them: ``used`` maps "predictors", "adjusted for" and
    "patient variables" to the usable names and "reference levels" to {categorical variable: its reference};
    ``clustered`` says whether the models are clustered by patient."""

    comparison: pd.DataFrame
    logistic: pd.DataFrame
    outcomes: dict
    fitted: dict
    table1: pd.DataFrame
    used: dict
    clustered: bool


def references_from_pairs(pairs) -> dict:
    """{"vendor": "GE"} from ["vendor=GE"] (``--reference``, the Stats panel's reference levels); CTOPlaqueInputError
    for an item without '=', column or level."""
    references = {}
    for pair in pairs or []:
        name, separator, level = pair.partition("=")
        if not separator or not name.strip() or not level.strip():
            raise CTOPlaqueInputError(f"--reference {pair}: give it as COLUMN=LEVEL, e.g. vendor=GE")
        references[name.strip()] = level.strip()
    return references


def validate_request(request: StatsRequest) -> None:
    """Settings a run cannot start with: CTOPlaqueInputError naming the setting."""
    if request.bootstrap_resamples < MIN_BOOTSTRAP:
        raise CTOPlaqueInputError(f"--bootstrap {request.bootstrap_resamples}: at least {MIN_BOOTSTRAP} resamples "
                                  "are needed for a stable optimism correction (Harrell; Steyerberg uses 200)")
    if request.t_test not in T_TESTS:
        raise CTOPlaqueInputError(f"t-test {request.t_test!r}: choose one of {', '.join(T_TESTS)}")
    if request.patient_rule not in PATIENT_RULES:
        raise CTOPlaqueInputError(f"patient rule {request.patient_rule!r}: choose one of {', '.join(PATIENT_RULES)}")
    analysed = set(request.predictors) | set(request.adjust) | set(request.patient_vars)
    unknown = sorted(set(request.references) - analysed)
    if unknown:
        raise CTOPlaqueInputError(f"--reference for {', '.join(unknown)}: not a predictor, covariate or patient "
                                  "variable of this analysis")


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


def _usable(table: pd.DataFrame, names, problems: ProblemLog, convert,
            missing: str = "column not in the cohort table; left out") -> dict:
    """name -> convert(column, name, problems) of the columns ``names`` of ``table`` that it can use (not None); a
    name with no column is noted in ``problems`` with ``missing``."""
    usable = {}
    for name in names:
        if name not in table.columns:
            problems.add(name, missing)
            continue
        converted = convert(table[name], name, problems)
        if converted is not None:
            usable[name] = converted
    return usable


def _columns(cohort: pd.DataFrame, names, problems: ProblemLog) -> dict:
    """name -> numbers (``numeric_variable``) of the usable columns among ``names``."""
    return _usable(cohort, names, problems, numeric_variable)


def _variables(table: pd.DataFrame, names, references: dict, problems: ProblemLog) -> dict:
    """name -> Variable (``analysis_variable``) of the usable columns among ``names``, each reported once."""
    return _usable(table, dict.fromkeys(names), problems,
                   lambda column, name, log: analysis_variable(column, name, log, references.get(name)))


def _coded_outcomes(cohort: pd.DataFrame, names, problems: ProblemLog) -> dict:
    """name -> 0/1 coding (``binary_outcome``) of the usable outcome columns among ``names``."""
    return _usable(cohort, names, problems, binary_outcome, "outcome column not in the cohort table; skipped")


def _nothing_to_run(what: str, names, problems: ProblemLog) -> CTOPlaqueInputError:
    """The error of a run where no analysis can run, with the notes on the columns that could not be used."""
    reasons = [f"{item['where']}: {item['message']}" for item in problems.items if item["where"] in set(names)]
    return CTOPlaqueInputError(f"no analysis can run: no usable {what}" + (f" ({'; '.join(reasons)})" if reasons
                                                                            else ""))


def clustering_patients(cohort: pd.DataFrame, problems: ProblemLog):
    """The pre-specified clustering rule: the patient of each lesion when some patient has more than one lesion
    in the cohort (then every lesion-level maximum-likelihood model is clustered by patient), else None.
    A lesion without a patient_id counts as a patient of its own (noted)."""
    if "patient_id" not in cohort.columns:
        return None
    patients = cohort["patient_id"].astype(object)
    unnamed = patients.isna()
    if unnamed.any():
        problems.add("patient_id", f"{int(unnamed.sum())} lesion(s) without a patient_id: each counted as a patient "
                                   "of its own")
        patients = patients.where(~unnamed, ["__lesion_" + str(i) for i in cohort.index])
    return patients if patients.duplicated().any() else None


def _compared(outcome_name: str, outcome: pd.Series, variables: dict, level: str, request: StatsRequest,
              problems: ProblemLog, labels: LabelTable):
    """Comparison rows and the Table 1 built from them, for one outcome at one level."""
    rows = comparison_rows(outcome_name, outcome, variables, level, problems, labels, request.t_test)
    table = table_one(pd.DataFrame(rows, columns=COMPARISON_COLUMNS), outcome_name, level, group_names(outcome),
                      labels)
    return rows, table


def _patient_level(cohort: pd.DataFrame, outcome_name: str, outcome: pd.Series, names: list, request: StatsRequest,
                   problems: ProblemLog, labels: LabelTable) -> list:
    """[(comparison rows, Table 1)] at patient level (one row per patient, its outcome by the patient rule, its
    variables from its first lesion with a value), or [] without patient variables or patient_id."""
    if not names or "patient_id" not in cohort.columns:
        return []
    frame = pd.concat([cohort[["patient_id"]], outcome.rename(outcome_name), cohort[names]], axis=1)
    patients = patients_from_lesions(frame, outcome_name, names, request.patient_rule, problems)
    variables = _variables(patients, names, request.references, ProblemLog())  # already reported per lesion
    return [_compared(outcome_name, patients[outcome_name], variables, "patient", request, problems, labels)]


def compute_stats(cohort: pd.DataFrame, request: StatsRequest, problems: ProblemLog, labels: LabelTable = None):
    """Comparison, logistic and Table 1 tables, coded outcomes and fitted models, for every usable outcome.

    Raises CTOPlaqueInputError when no analysis can run: no usable outcome, or none of the predictors,
    covariates and patient variables usable."""
    labels = labels or LabelTable()
    outcomes = _coded_outcomes(cohort, request.outcomes, problems)
    if not outcomes:
        raise _nothing_to_run("outcome", request.outcomes, problems)
    named = [*request.predictors, *request.adjust, *request.patient_vars]
    variables = _variables(cohort, named, request.references, problems)
    if not variables:
        raise _nothing_to_run("predictor", named, problems)
    predictors = {}
    for name in request.predictors:
        if name in variables and variables[name].numeric():
            predictors[name] = variables[name].values.astype(float)
        elif name in variables:
            problems.add(name, "text predictor: compared in Table 1, not modelled" + (
                "; adjusted for, as it is also a covariate" if name in request.adjust
                else " (add it with --adjust to adjust for it)"))
    adjusters = {}
    for name in request.adjust:
        if name in variables:
            adjusters.update(category_indicators(variables[name], problems))
    lesion_variables = {name: variables[name] for name in [*request.predictors, *request.adjust]
                        if name in variables and name not in request.patient_vars}
    patient_columns = [name for name in dict.fromkeys(request.patient_vars) if name in variables]
    patients = clustering_patients(cohort, problems)
    comparisons, models, tables = [], [], []
    for name, coded in outcomes.items():
        for rows, table in [_compared(name, coded, lesion_variables, "lesion", request, problems, labels),
                            *_patient_level(cohort, name, coded, patient_columns, request, problems, labels)]:
            comparisons += rows
            tables.append(table)
        models += logistic_rows(name, coded, predictors, adjusters, problems, patients)
    comparison = pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS)
    logistic = pd.DataFrame(models, columns=LOGISTIC_COLUMNS).astype({"patients": "Int64"})
    logistic["label"] = [labels.text(name) for name in logistic["predictor"]]
    fitted = {f"{row['outcome']} ~ {row['predictor']} ({row['model']})": row["fitted"] for row in models
              if row["fitted"] is not None}
    table1 = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=TABLE1_COLUMNS)
    used = {"predictors": list(predictors), "adjusted for": [n for n in request.adjust if n in variables],
            "patient variables": patient_columns,
            "reference levels": {name: variable.reference for name, variable in variables.items()
                                 if variable.kind == "categorical"}}
    return ComputedStats(comparison, logistic, outcomes, fitted, table1, used, patients is not None)


def _settings(cohort: pd.DataFrame, request: StatsRequest, computed: ComputedStats, labels: LabelTable) -> dict:
    """The report's settings: every option of the run, and which of the named columns were usable."""
    def named(kind, requested):
        used = computed.used[kind]
        left_out = [n for n in dict.fromkeys(requested) if n not in used]
        text = ", ".join(labels.text(n) for n in used) or "-"
        return text + (f" (left out, see the problems: {', '.join(left_out)})" if left_out else "")

    patients = cohort["patient_id"].nunique() if "patient_id" in cohort.columns else "?"
    references = ", ".join(f"{labels.name(n)}: {level}" for n, level in computed.used["reference levels"].items())
    return {"lesions": f"{len(cohort)} of {patients} patients",
            "outcomes": ", ".join(labels.name(n) for n in request.outcomes),
            "predictors": named("predictors", request.predictors),
            "adjusted for": named("adjusted for", request.adjust),
            "patient variables": named("patient variables", request.patient_vars),
            "patient rule": request.patient_rule,
            "clustering": ("lesions clustered by patient in every maximum-likelihood model (some patient has more "
                           "than one lesion)") if computed.clustered else "none (one lesion per patient)",
            "t-test": T_TESTS[request.t_test], "reference levels": references or "-",
            "labels": request.labels_csv or "the project's label table",
            "base model": " + ".join(labels.text(n) for n in request.base_model) or "-",
            "added": " + ".join(labels.text(n) for n in request.added) or "-",
            "bootstrap resamples": request.bootstrap_resamples}


def run_stats(cohort: pd.DataFrame, request: StatsRequest, out_dir: str, problems: ProblemLog = None,
              title: str = "CTO cohort statistics") -> StatsResult:
    """Write table1.csv, comparison.csv, logistic.csv, problems.csv, forest.png, boxplots.png and report.html
    (and the prediction tables and figures when a base model is compared), all or nothing.

    Raises CTOPlaqueInputError, before writing anything, for an invalid setting (``validate_request``, a bad
    labels file) or when no analysis can run (``compute_stats``)."""
    problems = problems if problems is not None else ProblemLog()
    validate_request(request)
    labels = LabelTable.from_csv(request.labels_csv) if request.labels_csv else LabelTable()
    computed = compute_stats(cohort, request, problems, labels)
    comparison, logistic, outcomes, table1 = computed.comparison, computed.logistic, computed.outcomes, computed.table1
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
        write_forest_png(staged("forest"), logistic, labels)
        write_boxplots_png(staged("boxplots"), cohort, outcomes, request.predictors, labels)
        figures = {"Odds ratios per 1 SD of each predictor (Figure 4 of the seed paper)": staged("forest"),
                   "Predictors by outcome group (Figure 3)": staged("boxplots")}
        extra_tables = {}
        if curves:
            spreadsheet_frame(prediction).to_csv(staged("prediction"), index=False)
            spreadsheet_frame(prediction_comparison).to_csv(staged("prediction_comparison"), index=False)
            write_roc_png(staged("roc"), curves, labels)
            write_calibration_png(staged("calibration"), curves, labels)
            figures.update({"ROC curves, base vs base + added": staged("roc"),
                            "Calibration: deciles of predicted risk (95% CI) and lowess, one panel per model":
                                staged("calibration")})
            shown_models, shown_comparison = prediction_display(prediction, prediction_comparison, labels)
            extra_tables = {"Prediction models": shown_models, "Incremental value of the added predictors":
                            (shown_comparison, DELONG_NESTED_CAVEAT)}
        write_report_html(staged("report"), title, _settings(cohort, request, computed, labels), comparison, logistic,
                          problem_table, figures, extra_tables, table1, table1_footnote(request.t_test),
                          computed.clustered, labels)
    paths = {kind: os.path.join(out_dir, name) for kind, name in names.items()}
    return StatsResult(comparison, logistic, problem_table, paths, prediction, prediction_comparison,
                       computed.fitted, table1)
