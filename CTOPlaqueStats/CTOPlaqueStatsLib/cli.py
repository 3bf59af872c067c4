"""``ctoplaque cohort``, ``ctoplaque stats`` and ``ctoplaque icc``: the cohort commands."""

from __future__ import annotations

import os
import sys

from CTOPlaqueLib.cli import add_out_option
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.staging import staged_outputs

from .options import AGREEMENTS, MIN_BOOTSTRAP, PATIENT_RULES, T_TESTS
from .problems import ProblemLog

# The statistics (pandas, statsmodels, matplotlib) are imported by the cohort verbs that run, not when the
# parser is built: a lesion verb does not wait for them.


def _report_problems(problems: ProblemLog) -> None:
    for item in problems.items:
        print(f"note: {item['where']}: {item['message']}", file=sys.stderr)


def run_cohort(args) -> int:
    from .cohort import build_cohort, write_cohort_csv

    problems = ProblemLog()
    cohort = build_cohort(args.inputs, args.clinical, problems)
    write_cohort_csv(args.out, cohort)
    _report_problems(problems)
    print(f"{len(cohort)} lesions of {cohort['patient_id'].nunique()} patients written to {args.out}"
          + (f" ({len(problems)} notes above)" if len(problems) else ""))
    return 0


LIST_OPTIONS = ("predictors", "adjust", "patient_vars", "base_model", "added", "reference")


def _cohort_path(args) -> str:
    """The cohort CSV: the positional argument, or, when a list option before it took it in
    (``stats --predictors a b cohort.csv``, which argparse cannot tell apart), the last value of a list option
    that is an existing .csv file; it is then removed from that list. CTOPlaqueInputError when there is none or
    more than one such value."""
    if args.cohort:
        return args.cohort
    found = [option for option in LIST_OPTIONS if getattr(args, option, None)
             and getattr(args, option)[-1].lower().endswith(".csv") and os.path.isfile(getattr(args, option)[-1])]
    if len(found) != 1:
        raise CTOPlaqueInputError("give the cohort CSV once, e.g. first: ctoplaque stats cohort.csv --outcome ... "
                                  "--predictors ... --out DIR")
    return getattr(args, found[0]).pop()


def run_stats_command(args) -> int:
    from .analysis import StatsRequest, references_from_pairs, run_stats
    from .cohort import read_table

    cohort_path = _cohort_path(args)
    request = StatsRequest(outcomes=args.outcome, predictors=args.predictors, adjust=args.adjust or [],
                           patient_vars=args.patient_vars or [], patient_rule=args.patient_rule,
                           base_model=args.base_model or [], added=args.added or [],
                           bootstrap_resamples=args.bootstrap, references=references_from_pairs(args.reference),
                           t_test=args.t_test, labels_csv=args.labels or "")
    cohort = read_table(cohort_path)
    result = run_stats(cohort, request, args.out)
    _report_problems(ProblemLog.from_table(result.problems))
    print(f"{len(result.comparison)} comparisons, {len(result.logistic)} models; report: {result.paths['report']}")
    return 0


def run_icc(args) -> int:
    import pandas as pd

    from .agreement import (BLAND_ALTMAN_COLUMNS, bland_altman_display, bland_altman_rows, icc_display,
                            results_paragraph, write_agreement_report)
    from .cohort import ratings_from_exports, read_table
    from .figures import write_bland_altman_png
    from .icc import icc_table
    from .labels import LabelTable
    from .variables import numeric_variable

    problems = ProblemLog()
    ratings = ratings_from_exports(args.ratings, problems) if os.path.isdir(args.ratings) else read_table(args.ratings)
    for column in [args.target, args.rater] + args.value:
        if column not in ratings.columns:
            raise CTOPlaqueInputError(f"column {column!r} not in {args.ratings}")
    raters = [repr(rater) if rater else "no observer or reading"
              for rater in sorted(ratings[args.rater].dropna().astype(str).unique())]
    if len(raters) < 2:
        raise CTOPlaqueInputError(
            f"{args.ratings} holds the ratings of {len(raters)} rater ({', '.join(raters)}); the ICC compares two or "
            "more (lesion exports: give each run its own analyze --observer or --reading)")
    rows, agreement_rows, panels = [], [], []
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
        pairs = bland_altman_rows(value, complete)
        agreement_rows += pairs
        panels += [(value, pair) for pair in pairs]
    icc = pd.DataFrame(rows, columns=["value", "n_targets", "n_raters", "form", "icc", "ci_low", "ci_high", "F",
                                      "df1", "df2", "p"])
    limits = pd.DataFrame(agreement_rows, columns=BLAND_ALTMAN_COLUMNS)
    labels = LabelTable.from_csv(args.labels) if args.labels else LabelTable()
    out_dir = os.path.abspath(args.out)
    with staged_outputs(out_dir) as staging:
        icc.to_csv(os.path.join(staging, "icc.csv"), index=False)
        limits.to_csv(os.path.join(staging, "bland_altman.csv"), index=False)
        if rows:
            figure = os.path.join(staging, "bland_altman.png")
            write_bland_altman_png(figure, panels, labels)
            write_agreement_report(os.path.join(staging, "report.html"), results_paragraph(icc, args.agreement, labels),
                                   icc_display(icc, labels), bland_altman_display(limits, labels), figure)
    _report_problems(problems)
    print(f"ICC of {len({r['value'] for r in rows})} value(s) written to {os.path.join(out_dir, 'icc.csv')}")
    return 0


def register(commands) -> None:
    """Add the cohort subcommands to the ``ctoplaque`` parser."""
    cohort = commands.add_parser("cohort", help="gather lesion exports and clinical data into a cohort table")
    cohort.add_argument("inputs", nargs="+", help="*.lesion.json / *.lesion.csv files or folders")
    cohort.add_argument("--clinical", help="clinical CSV with patient_id (and lesion_id) columns")
    add_out_option(cohort, "cohort CSV to write", is_folder=False)
    cohort.set_defaults(run=run_cohort)

    stats = commands.add_parser("stats", help="group comparisons, logistic regression, figures and report",
                                description="Give the cohort CSV first; after a list option (--predictors a b "
                                            "cohort.csv) it is recognized as an existing .csv file.")
    stats.add_argument("cohort", nargs="?", help="cohort CSV")
    stats.add_argument("--outcome", action="append", required=True, help="binary outcome column (repeatable)")
    stats.add_argument("--predictors", nargs="+", required=True, help="predictor columns")
    stats.add_argument("--adjust", nargs="*", help="covariates of the adjusted models")
    stats.add_argument("--patient-vars", nargs="*", help="patient-level variables, compared per patient")
    stats.add_argument("--patient-rule", choices=PATIENT_RULES, default="any-failed",
                       help="patient outcome from its lesions (default: failed if any lesion failed)")
    stats.add_argument("--base-model", nargs="*", help="predictors of the base prediction model (e.g. a score)")
    stats.add_argument("--added", nargs="*", help="predictors added to the base model (e.g. PAVs)")
    stats.add_argument("--bootstrap", type=int, default=MIN_BOOTSTRAP,
                       help=f"bootstrap resamples for optimism (>= {MIN_BOOTSTRAP}, default {MIN_BOOTSTRAP})")
    stats.add_argument("--reference", nargs="+", metavar="COLUMN=LEVEL",
                       help="reference level of a categorical variable, e.g. vendor=GE (default: the first level "
                            "in alphabetical order regardless of case and accents, as R's sort() in a UTF-8 locale)")
    stats.add_argument("--t-test", choices=sorted(T_TESTS), default="welch",
                       help="t-test of normally distributed variables (default: welch)")
    stats.add_argument("--labels", help="CSV column,label[,unit]: readable names that extend or override the "
                                        "project's label table")
    add_out_option(stats, "output folder", is_folder=True)
    stats.set_defaults(run=run_stats_command)

    icc = commands.add_parser("icc", help="intraclass correlation (Shrout & Fleiss) of repeated measurements")
    icc.add_argument("ratings", help="long CSV: one row per target and rater; or a folder of lesion exports (one "
                                     "subfolder per observer or reading), whose raters are observer and reading")
    icc.add_argument("--target", default="lesion_id", help="column naming the measured lesion (default lesion_id)")
    icc.add_argument("--rater", default="rater",
                     help="column naming the observer or reading (default rater: a folder's observer and reading)")
    icc.add_argument("--value", nargs="+", required=True, help="measurement columns")
    icc.add_argument("--agreement", choices=AGREEMENTS, default="inter-observer",
                     help="what the rater column holds: observers (inter-observer) or one observer's readings "
                          "(intra-observer); words the report's results paragraph")
    icc.add_argument("--labels", help="CSV column,label[,unit]: readable names of the measures, as for stats")
    add_out_option(icc, "output folder", is_folder=True)
    icc.set_defaults(run=run_icc)
