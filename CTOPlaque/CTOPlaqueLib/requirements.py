"""The Python packages the extension needs beyond what 3D Slicer bundles: one list, ``requirements.txt``.

pyproject.toml reads its dependencies from that file, and the Slicer modules hand it to
``slicer.packaging.pip_ensure`` on Slicer versions that have it. On older Slicers, and in the headless batch
script, ``unsatisfied_requirements`` checks it here (no subprocess, nothing imported) and the module installs
what is missing with ``slicer.util.pip_install`` after the user agrees.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re

REQUIREMENTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
# The file's one form of line: a distribution name and a lowest version.
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*(?P<version>[0-9][0-9A-Za-z.+!-]*)$")


def requirement_lines(path: str = REQUIREMENTS_FILE) -> list:
    """The requirement strings of a requirements file (comments and blank lines left out), e.g. 'scipy>=1.15'.
    Raises ValueError on a line that is not 'name>=version'."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    requirements = [line for line in lines if line]
    for line in requirements:
        if not _REQUIREMENT.match(line):
            raise ValueError(f"{path}: requirement {line!r} is not of the form name>=version")
    return requirements


def unsatisfied_requirements(path: str = REQUIREMENTS_FILE) -> list:
    """Requirements of ``path`` not met by this Python: the distribution is absent or older than asked.

    A distribution without installed metadata counts as present when its name is an importable module (a
    package built into Slicer's Python may lack pip's metadata); versions are compared with the ``packaging``
    library when this Python has it, and otherwise only presence is checked."""
    return [line for line in requirement_lines(path) if not _satisfied(*_name_and_version(line))]


def _name_and_version(line: str) -> tuple:
    match = _REQUIREMENT.match(line)
    return match["name"], match["version"]


def _satisfied(name: str, lowest: str) -> bool:
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return _importable(name.replace("-", "_"))
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return True
    try:
        return Version(installed) >= Version(lowest)
    except InvalidVersion:
        return True  # an unparsable local build version: trust that it is there


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a spec (e.g. blocked as None)
        return False
