"""``ctoplaque cohort``, ``ctoplaque stats`` and ``ctoplaque icc``: the cohort commands."""

from __future__ import annotations

import os
import sys

import pandas as pd

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.staging import staged_outputs

from .analysis import PATIENT_RULES, StatsRequest, run_stats
from .cohort import build_cohort, ratings_from_exports, read_table, write_cohort_csv
from .icc import icc_table
from .problems import ProblemLog
from .variables import numeric_variable


def _report_problems(problems: ProblemLog) -> None:
    for item in problems.items:
        print(f"note: {item['where']}: {item['message']}", file=sys.stderr)


def run_cohort(args) -> int:
    problems = ProblemLog()
    cohort = build_cohort(args.inputs, args.clinical, problems)
    write_cohort_csv(args.out, cohort)
    _report_problems(problems)
    print(f"{len(cohort)} lesions of {cohort['patient_id'].nunique()} patients written to {args.out}"
          + (f" ({len(problems)} notes above)" if len(problems) else ""))
    return 0


def run_stats_command(args) -> int:
    cohort = read_table(args.cohort)
    request = StatsRequest(outcomes=args.outcome, predictors=args.predictors, adjust=args.adjust or [],
                           patient_vars=args.patient_vars or [], patient_rule=args.patient_rule,
                           base_model=args.base_model or [], added=args.added or [],
                           bootstrap_resamples=args.bootstrap)
    result = run_stats(cohort, request, args.out)
    _report_problems(ProblemLog.from_table(result.problems))
    print(f"{len(result.comparison)} comparisons, {len(result.logistic)} models; report: {result.paths['report']}")
    return 0


def run_icc(args) -> int:
    problems = ProblemLog()
    ratings = ratings_from_exports(args.ratings, problems) if os.path.isdir(args.ratings) else read_table(args.ratings)
    for column in [args.target, args.rater] + args.value:
        if column not in ratings.columns:
            raise CTOPlaqueInputError(f"column {column!r} not in {args.ratings}")
    rows = []
    for value in args.value:
        numbers = numeric_variable(ratings[value], value, problems)
        if numbers is None:
            continue
        wide = pd.DataFrame({"target": ratings[args.target], "rater": ratings[args.rater], "value": numbers}) \
            .pivot_table(index="target", columns="rater", values="value", aggfunc="first")
        complete = wide.dropna()
        if len(complete) < len(wide):
            problems.add(value, f"{len(wide) - len(complete)} target(s) without a rating from every rater left out")
        if len(complete) < 2 or complete.shape[1] < 2:
            problems.add(value, "fewer than two targets rated by two or more raters; no ICC")
            continue
        rows += [{"value": value, "n_targets": len(complete), "n_raters": complete.shape[1], **row}
                 for row in icc_table(complete.to_numpy(float))]
    out_dir = os.path.abspath(args.out)
    with staged_outputs(out_dir) as staging:
        pd.DataFrame(rows, columns=["value", "n_targets", "n_raters", "form", "icc", "ci_low", "ci_high", "F",
                                    "df1", "df2", "p"]).to_csv(os.path.join(staging, "icc.csv"), index=False)
    _report_problems(problems)
    print(f"ICC of {len({r['value'] for r in rows})} value(s) written to {os.path.join(out_dir, 'icc.csv')}")
    return 0


def register(commands) -> None:
    """Add the cohort subcommands to the ``ctoplaque`` parser."""
    cohort = commands.add_parser("cohort", help="gather lesion exports and clinical data into a cohort table")
    cohort.add_argument("inputs", nargs="+", help="*.lesion.json / *.lesion.csv files or folders")
    cohort.add_argument("--clinical", help="clinical CSV with patient_id (and lesion_id) columns")
    cohort.add_argument("--out", required=True, help="cohort CSV to write")
    cohort.set_defaults(run=run_cohort)

    stats = commands.add_parser("stats", help="group comparisons, logistic regression, figures and report")
    stats.add_argument("cohort", help="cohort CSV")
    stats.add_argument("--outcome", action="append", required=True, help="binary outcome column (repeatable)")
    stats.add_argument("--predictors", nargs="+", required=True, help="predictor columns")
    stats.add_argument("--adjust", nargs="*", help="covariates of the adjusted models")
    stats.add_argument("--patient-vars", nargs="*", help="patient-level variables, compared per patient")
    stats.add_argument("--patient-rule", choices=PATIENT_RULES, default="any-failed",
                       help="patient outcome from its lesions (default: failed if any lesion failed)")
    stats.add_argument("--base-model", nargs="*", help="predictors of the base prediction model (e.g. a score)")
    stats.add_argument("--added", nargs="*", help="predictors added to the base model (e.g. PAVs)")
    stats.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for optimism (>= 200)")
    stats.add_argument("--out", required=True, help="output folder")
    stats.set_defaults(run=run_stats_command)

    icc = commands.add_parser("icc", help="intraclass correlation (Shrout & Fleiss) of repeated measurements")
    icc.add_argument("ratings", help="long CSV: one row per target and rater; or a folder of lesion exports (one "
                                     "subfolder per observer or reading), whose raters are observer and reading")
    icc.add_argument("--target", default="lesion_id", help="column naming the measured lesion (default lesion_id)")
    icc.add_argument("--rater", default="rater",
                     help="column naming the observer or reading (default rater: a folder's observer and reading)")
    icc.add_argument("--value", nargs="+", required=True, help="measurement columns")
    icc.add_argument("--out", required=True, help="output folder")
    icc.set_defaults(run=run_icc)
