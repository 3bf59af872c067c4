"""All-or-nothing output folders: files are written to a staging folder, then renamed into place."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

from .errors import CTOPlaqueInputError


@contextlib.contextmanager
def staged_outputs(out_dir: str):
    """Yield a staging folder; on success move every file in it into ``out_dir``.

    ``out_dir`` is created only when the block succeeds, and each file arrives by an atomic
    ``os.replace``, so a failure or interruption leaves no partial file in ``out_dir``.
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".ctoplaque-staging-", dir=parent)
    try:
        yield staging
        os.makedirs(out_dir, exist_ok=True)
        for name in sorted(os.listdir(staging)):
            os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_output_path(path: str, is_folder: bool, option: str = "--out") -> None:
    """Refuse, before any work, an output path that cannot be written as asked: an existing file where a folder
    is to be written (or a folder where a file is), or a path below an existing file."""
    path = os.path.abspath(path)
    if is_folder and os.path.exists(path) and not os.path.isdir(path):
        raise CTOPlaqueInputError(f"{option} {path} is an existing file; give a folder (new or existing)")
    if not is_folder and os.path.isdir(path):
        raise CTOPlaqueInputError(f"{option} {path} is a folder; give a file name")
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise CTOPlaqueInputError(f"{option} {path} cannot be written: {parent} is a file, not a folder")


def write_json(path: str, document) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
