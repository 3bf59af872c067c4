"""The ``ctoplaque`` command: one parser for the lesion verbs (``CTOPlaqueLib.cli``) and the cohort verbs
(``CTOPlaqueStatsLib.cli``).

It lives in the statistics package because that is the upper layer: it may import the lesion engine,
never the reverse. A batch run ends with the cohort table of its finished cases, which is written here,
by the layer that owns the cohort table.

Bad input ends with one line ``error: ...`` on stderr and exit status 2; nothing is left behind
in the output folder. Set CTOPLAQUE_DEBUG=1 to see a traceback for unexpected failures.
"""

from __future__ import annotations

import argparse
import os
import sys

from CTOPlaqueLib import __version__
from CTOPlaqueLib import cli as lesion_cli
from CTOPlaqueLib.errors import CTOPlaqueInputError

from . import cli as cohort_cli
from .problems import ProblemLog


def write_batch_cohort(out_dir: str, case_folders: list) -> str:
    """cohort.csv (the table ``ctoplaque cohort`` writes) of a batch's finished cases; '' when none finished."""
    if not case_folders:
        return ""
    from .cohort import gather_lesions, write_cohort_csv

    path = os.path.join(out_dir, "cohort.csv")
    write_cohort_csv(path, gather_lesions(case_folders, ProblemLog()))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctoplaque", description="Quantitative CCTA of chronic total occlusions.")
    parser.add_argument("--version", action="version", version=f"ctoplaque {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    lesion_cli.register(commands, after_batch=write_batch_cohort)
    cohort_cli.register(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lesion_cli.check_output_options(args)
        return args.run(args)
    except CTOPlaqueInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return lesion_cli.EXIT_INPUT_ERROR
    except (OSError, MemoryError) as error:
        if os.environ.get("CTOPLAQUE_DEBUG"):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
