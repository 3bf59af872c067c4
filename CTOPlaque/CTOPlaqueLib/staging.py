"""All-or-nothing output folders: files are written to a staging folder, then renamed into place."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile


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


def write_json(path: str, document) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
