"""`make slicer-install SLICER=...` against a fake Slicer install (a Slicer launcher and a bin/PythonSlicer that logs
its arguments) and a temporary HOME: the Slicer.ini it writes, the pip command it runs, a repeat, a dry run, and a
path that is not a Slicer."""

import os
import shutil
import stat
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "Resources", "Scripts", "slicer_install.py")
MODULE_FOLDERS = [f"{ROOT}/CTOPlaque".replace(os.sep, "/"), f"{ROOT}/CTOPlaqueStats".replace(os.sep, "/")]
REQUIREMENTS = os.path.join(ROOT, "CTOPlaque", "CTOPlaqueLib", "requirements.txt")
# A Slicer.ini as Slicer 5 leaves it, with another module path already added by the user.
EXISTING_INI = """[General]
language=en_US

[Modules]
AdditionalPaths=/opt/other/SlicerHeart
FavoriteModules=Data, Volumes, Models

[Python]
ConsoleFontSize=10
"""


def _executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture()
def fake_slicer(tmp_path):
    """(Slicer launcher path, pip log, HOME, Slicer.ini path) of a fake Slicer install and user."""
    root = tmp_path / "Slicer-5.8.1-linux-amd64"
    log = tmp_path / "pip.log"
    _executable(root / "Slicer", "#!/bin/sh\nexit 0\n")
    _executable(root / "bin" / "PythonSlicer", f'#!/bin/sh\necho "$@" >> "{log}"\n')
    home = tmp_path / "home"
    return root / "Slicer", log, home, home / ".config" / "slicer.org" / "Slicer.ini"


def _install(slicer, home, *options):
    return subprocess.run([sys.executable, SCRIPT, str(slicer), *options], capture_output=True, text=True,
                          env={**os.environ, "HOME": str(home)})


def test_install_adds_both_module_folders_once_and_installs_the_requirements(fake_slicer):
    slicer, log, home, ini = fake_slicer
    ini.parent.mkdir(parents=True)
    ini.write_text(EXISTING_INI)
    for _ in range(2):
        result = _install(slicer, home)
        assert result.returncode == 0, result.stderr
    expected = EXISTING_INI.replace("AdditionalPaths=/opt/other/SlicerHeart",
                                    "AdditionalPaths=/opt/other/SlicerHeart, " + ", ".join(MODULE_FOLDERS))
    assert ini.read_text() == expected
    assert "already lists both module folders" in result.stdout
    assert log.read_text().splitlines() == [f"-m pip install -r {REQUIREMENTS}"] * 2


def test_install_creates_the_settings_file_of_a_new_user(fake_slicer):
    slicer, log, home, ini = fake_slicer
    assert _install(slicer.parent, home).returncode == 0  # the install folder works as well as its launcher
    assert ini.read_text() == "[Modules]\nAdditionalPaths=" + ", ".join(MODULE_FOLDERS) + "\n"


def test_dry_run_changes_nothing(fake_slicer):
    slicer, log, home, ini = fake_slicer
    result = _install(slicer, home, "--dry-run")
    assert result.returncode == 0
    assert f"would add to AdditionalPaths in {ini}: " + ", ".join(MODULE_FOLDERS) in result.stdout
    assert f"would run: {slicer.parent}/bin/PythonSlicer -m pip install -r {REQUIREMENTS}" in result.stdout
    assert not ini.exists() and not log.exists()


@pytest.mark.parametrize("given", ["not-slicer", "missing", ""])
def test_a_path_that_is_not_slicer_is_one_error_line(tmp_path, given):
    (tmp_path / "not-slicer" / "bin").mkdir(parents=True)
    home = tmp_path / "home"
    result = _install(tmp_path / given if given else "", home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert ("SLICER=" if not given else "is not a 3D Slicer install") in lines[0]
    assert not home.exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_target_passes_slicer_and_dry_run(fake_slicer):
    slicer, log, home, ini = fake_slicer
    result = subprocess.run(["make", "-s", "-C", ROOT, "slicer-install", f"SLICER={slicer}", "DRY_RUN=1",
                             f"PYTHON={sys.executable}"], capture_output=True, text=True,
                            env={**os.environ, "HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "would add to AdditionalPaths" in result.stdout and not ini.exists()


@pytest.mark.parametrize("given", ["Slicer.app", "Slicer.app/Contents/MacOS/Slicer"])
def test_macos_application_bundle_is_found(tmp_path, given):
    log = tmp_path / "pip.log"
    _executable(tmp_path / "Slicer.app" / "Contents" / "MacOS" / "Slicer", "#!/bin/sh\nexit 0\n")
    _executable(tmp_path / "Slicer.app" / "Contents" / "bin" / "PythonSlicer", f'#!/bin/sh\necho "$@" >> "{log}"\n')
    result = _install(tmp_path / given, tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [f"-m pip install -r {REQUIREMENTS}"]
