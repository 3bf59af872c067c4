"""Install CTOPlaque into a 3D Slicer from this checkout (``make slicer-install SLICER=/path/to/Slicer``).

Two steps, both safe to repeat:

1. add this checkout's two module folders (``CTOPlaque``, ``CTOPlaqueStats``) to Slicer's additional module
   paths, the ``AdditionalPaths`` key of the ``[Modules]`` section of the user's ``Slicer.ini``
   (``~/.config/slicer.org/Slicer.ini`` on Linux and macOS, ``%APPDATA%\\slicer.org\\Slicer.ini`` on Windows),
   which is what *Edit > Application Settings > Modules > Additional module paths* edits. Only that line is
   rewritten; paths already listed stay, in their order, and are not added twice.
2. install the run-time requirements (``CTOPlaque/CTOPlaqueLib/requirements.txt``) into Slicer's Python with
   ``PythonSlicer -m pip install -r``, which leaves a package Slicer bundles alone when its version suffices.

``--dry-run`` prints what would be done and changes nothing. Close Slicer first: it writes its settings on exit.
Bad input (SLICER not a Slicer install) is one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_FOLDERS = [os.path.join(ROOT, "CTOPlaque"), os.path.join(ROOT, "CTOPlaqueStats")]
REQUIREMENTS = os.path.join(ROOT, "CTOPlaque", "CTOPlaqueLib", "requirements.txt")
SECTION, KEY = "[Modules]", "AdditionalPaths"


class InstallError(Exception):
    """A Slicer path or settings file that cannot be used; the message says which and why."""


def python_slicer(slicer: str) -> str:
    """Slicer's Python launcher (``bin/PythonSlicer``) of a Slicer install given as its folder, its ``Slicer``
    launcher, or its macOS ``Slicer.app`` (or the launcher inside it, ``Contents/MacOS/Slicer``)."""
    if not slicer:
        raise InstallError("give the Slicer install: make slicer-install SLICER=/path/to/Slicer")
    root = os.path.dirname(os.path.abspath(slicer)) if os.path.isfile(slicer) else os.path.abspath(slicer)
    for folder in (root, os.path.join(root, "Contents"), os.path.dirname(root)):
        for name in ("PythonSlicer", "PythonSlicer.exe"):
            candidate = os.path.join(folder, "bin", name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    raise InstallError(f"{slicer} is not a 3D Slicer install (no bin/PythonSlicer in {root})")


def default_settings_file() -> str:
    """The user's Slicer.ini: %APPDATA%/slicer.org on Windows, ~/.config/slicer.org elsewhere."""
    base = os.environ.get("APPDATA") if os.name == "nt" else os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "slicer.org", "Slicer.ini")


def parse_qt_list(value: str) -> list:
    """The items of a QSettings ini string list: comma-separated, an item with a comma or quote in double quotes,
    backslash escapes; an empty list is written ``@Invalid()``."""
    if value.strip().startswith("@Invalid("):
        return []
    items, current, quoted, escaped = [], "", False, False
    for char in value:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return [item for item in items if item]


def format_qt_list(items: list) -> str:
    """A string list as QSettings writes it into an ini file (backslashes escaped, items with a comma or quote
    quoted)."""
    def item_text(item):
        escaped = item.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"' if any(char in item for char in ',"') or item != item.strip() else escaped
    return ", ".join(item_text(item) for item in items)


def with_module_paths(ini_text: str, folders: list) -> tuple:
    """The ini text with ``folders`` appended to [Modules] AdditionalPaths where missing (the section and key are
    added when absent; every other line is kept as it is), and the folders that were added."""
    lines = ini_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        lines += ([""] if lines and lines[-1].strip() else []) + [SECTION]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("[")), len(lines))
    key_line = next((i for i in range(start + 1, end) if lines[i].split("=", 1)[0].strip() == KEY), None)
    listed = parse_qt_list(lines[key_line].split("=", 1)[1]) if key_line is not None else []
    added = [folder for folder in folders if folder not in listed]
    new_line = f"{KEY}={format_qt_list(listed + added)}"
    if key_line is None:
        lines.insert(start + 1, new_line)
    else:
        lines[key_line] = new_line
    return "\n".join(lines) + "\n", added


def write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".Slicer.ini.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def install(slicer: str, settings_file: str, dry_run: bool) -> None:
    """Add the module paths to ``settings_file`` and pip-install the requirements with Slicer's Python."""
    python = python_slicer(slicer)
    try:
        with open(settings_file, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as error:
        raise InstallError(f"cannot read Slicer's settings {settings_file}: {error}") from None
    new_text, added = with_module_paths(text, [folder.replace(os.sep, "/") for folder in MODULE_FOLDERS])
    prefix = "would " if dry_run else ""
    if added:
        print(f"{prefix}add to {KEY} in {settings_file}: " + ", ".join(added))
        if not dry_run:
            write_atomically(settings_file, new_text)
    else:
        print(f"{settings_file} already lists both module folders")
    pip = [python, "-m", "pip", "install", "-r", REQUIREMENTS]
    print(f"{prefix}run: " + " ".join(pip))
    if not dry_run and subprocess.run(pip).returncode != 0:
        raise InstallError("pip could not install the requirements into Slicer's Python (see above); the module "
                           "offers to install them when first opened")
    if not dry_run:
        print("done: restart Slicer, then find the modules under Cardiac > CTO Plaque")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Add CTOPlaque from this checkout to a 3D Slicer install.")
    parser.add_argument("slicer", nargs="?", default="",
                        help="Slicer install folder, its Slicer launcher, or Slicer.app")
    parser.add_argument("--settings", default="", help=f"Slicer.ini to edit (default {default_settings_file()})")
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    args = parser.parse_args(argv)
    try:
        install(args.slicer, args.settings or default_settings_file(), args.dry_run)
    except (InstallError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
