"""Run ``ctoplaque batch`` inside 3D Slicer's Python, headless.

    Slicer --no-main-window --python-script /path/to/ctoplaque_batch.py MANIFEST.csv --out DIR

Arguments are those of ``ctoplaque batch``. Cases run one after another in Slicer's interpreter
(``--in-process`` is added: Slicer's executable cannot serve as a worker process). The exit status
is that of the command line: 0 all done, 1 some case failed, 2 manifest problems or Python packages
missing (headless, the script cannot ask to install them: it names them on one line).
The same script also runs with a plain Python that has the ``ctoplaque`` package installed. The ``ctoplaque``
command lives in CTOPlaqueStatsLib (it also writes the batch's cohort table), so this script is the one file
of the CTOPlaque module that reaches the statistics package.
"""

import os
import sys

MODULE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Installed, both modules' packages sit in one folder; in the source tree CTOPlaqueStats is a sibling folder.
for folder in (MODULE_DIR, os.path.join(os.path.dirname(MODULE_DIR), "CTOPlaqueStats")):
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.insert(0, folder)

from CTOPlaqueLib.requirements import unsatisfied_requirements  # noqa: E402


def _exit(status: int) -> None:
    try:
        import slicer

        slicer.util.exit(status)
    except (ImportError, AttributeError):
        sys.exit(status)


def _run(arguments: list) -> int:
    missing = unsatisfied_requirements()
    if missing:
        print(f"error: Python packages missing: {', '.join(missing)}; install them once, e.g. by opening the "
              f"CTO Plaque module in Slicer or with slicer.util.pip_install({missing!r})", file=sys.stderr)
        return 2
    from CTOPlaqueStatsLib.command import main

    if "--in-process" not in arguments:
        arguments = [*arguments, "--in-process"]
    return main(["batch", *arguments])


if __name__ == "__main__":
    _exit(_run(sys.argv[1:]))
