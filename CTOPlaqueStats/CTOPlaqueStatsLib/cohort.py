"""The cohort table: per-lesion exports gathered and joined with clinical data.

Inputs are ``*.lesion.json`` or ``*.lesion.csv`` files, or folders holding them. A folder's CSV
whose JSON sibling exists is the same lesion and is not read twice. Lesions are keyed by
(patient_id, lesion_id, observer, reading); a second export with the same key is a duplicate: the first is
kept and the duplicate reported. Clinical rows join on patient_id and, when the clinical table has a
lesion_id column, on lesion_id too. Lesions without clinical rows stay in the cohort (clinical cells
empty) and are reported; clinical rows without lesions are reported. Clinical columns named like the
entered score items (retry, previous_failed_attempt, ...) complete the difficulty scores.
"""

from __future__ import annotations

import json
import os

import pandas as pd

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.export import flat_row
from CTOPlaqueLib.scores import CLINICAL_ITEMS, scores_from_row
from CTOPlaqueLib.staging import staged_outputs

from .problems import ProblemLog
from .variables import spreadsheet_frame

KEY = ["patient_id", "lesion_id", "observer", "reading"]


def _lesion_files(inputs) -> list:
    files = []
    for path in inputs:
        if os.path.isdir(path):
            names = sorted(os.listdir(path))
            json_stems = {n[: -len(".lesion.json")] for n in names if n.endswith(".lesion.json")}
            for name in names:
                if name.endswith(".lesion.json") or (
                        name.endswith(".lesion.csv") and name[: -len(".lesion.csv")] not in json_stems):
                    files.append(os.path.join(path, name))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise CTOPlaqueInputError(f"lesion export not found: {path}")
    return files


def _read_lesion(path: str) -> list:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        if not isinstance(document, dict) or document.get("schema") != "ctoplaque.lesion/1":
            raise ValueError("not a ctoplaque.lesion/1 document")
        return [flat_row(document)]
    frame = pd.read_csv(path, dtype={"patient_id": str, "lesion_id": str, "observer": str}, keep_default_na=False)
    if "lesion_id" not in frame.columns:
        raise ValueError("no lesion_id column")
    return frame.to_dict("records")


def gather_lesions(inputs, problems: ProblemLog) -> pd.DataFrame:
    """All lesion rows from the inputs, duplicates and unreadable files reported in ``problems``."""
    rows, seen = [], {}
    for path in _lesion_files(inputs):
        try:
            found = _read_lesion(path)
        except (OSError, ValueError, KeyError) as error:
            problems.add(os.path.basename(path), f"unreadable lesion export, skipped: {error}")
            continue
        for row in found:
            row.setdefault("observer", "")
            row.setdefault("reading", "")  # absent from earlier exports
            row = {**row, "source_file": os.path.basename(path)}
            key = tuple(str(row.get(k, "")) for k in KEY)
            if key in seen:
                problems.add(os.path.basename(path), f"duplicate of lesion {key[1]} (patient {key[0]}) already read "
                                                     f"from {seen[key]}; this copy skipped")
                continue
            seen[key] = row["source_file"]
            rows.append(row)
    if not rows:
        raise CTOPlaqueInputError("no lesion exports (*.lesion.json or *.lesion.csv) found in the inputs")
    return pd.DataFrame(rows)


def ratings_from_exports(folder: str, problems: ProblemLog) -> pd.DataFrame:
    """Every lesion export under ``folder`` (and its subfolders: one per observer or reading) as one row per lesion
    and reading, with a ``rater`` column naming the observer and reading ("A", "A reading 2"), for the ICC."""
    lesions = gather_lesions([root for root, _, _ in sorted(os.walk(folder))], problems)
    readings = lesions["reading"].map(lambda value: "" if pd.isna(value) or value == "" else f" reading {int(value)}")
    return lesions.assign(rater=lesions["observer"].fillna("").astype(str) + readings)


def join_clinical(lesions: pd.DataFrame, clinical: pd.DataFrame, problems: ProblemLog) -> pd.DataFrame:
    """Left-join clinical columns onto lesions; report unmatched rows on both sides and clinical duplicates."""
    if "patient_id" not in clinical.columns:
        raise CTOPlaqueInputError("the clinical table needs a patient_id column")
    keys = ["patient_id", "lesion_id"] if "lesion_id" in clinical.columns else ["patient_id"]
    clinical = clinical.copy()
    for key in keys:
        clinical[key] = clinical[key].astype(str)
    duplicated = clinical.duplicated(keys, keep="first")
    for _, row in clinical[duplicated].iterrows():
        problems.add("clinical", f"duplicate clinical row for {', '.join(str(row[k]) for k in keys)}; first one used")
    clinical = clinical[~duplicated]
    overlap = [c for c in clinical.columns if c in lesions.columns and c not in keys]
    if overlap:
        problems.add("clinical", f"columns also in the lesion exports kept from the exports: {', '.join(overlap)}")
        clinical = clinical.drop(columns=overlap)
    merged = lesions.merge(clinical, on=keys, how="left", indicator=True)
    for _, row in merged[merged["_merge"] == "left_only"].iterrows():
        problems.add("clinical", f"lesion {row['lesion_id']} (patient {row['patient_id']}) has no clinical row")
    matched = set(map(tuple, lesions[keys].astype(str).values))
    for _, row in clinical.iterrows():
        if tuple(str(row[k]) for k in keys) not in matched:
            problems.add("clinical", f"clinical row {', '.join(str(row[k]) for k in keys)} has no lesion export")
    return merged.drop(columns="_merge")


def read_table(path: str) -> pd.DataFrame:
    """A CSV table with IDs kept as text."""
    if not os.path.isfile(path):
        raise CTOPlaqueInputError(f"table not found: {path}")
    try:
        return pd.read_csv(path, dtype={"patient_id": str, "lesion_id": str, "observer": str})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise CTOPlaqueInputError(f"cannot read {path} as a CSV table ({str(error).splitlines()[0][:100]})") from None


def rescore_with_clinical_items(cohort: pd.DataFrame, problems: ProblemLog) -> pd.DataFrame:
    """Recompute the difficulty scores where the table has clinical-item columns (e.g. retry)."""
    present = [item for item in CLINICAL_ITEMS if item in cohort.columns]
    needed = {"occlusion_length_mm", "dense_calcium_volume_mm3"}
    if not present or not needed <= set(cohort.columns):
        return cohort
    scores = pd.DataFrame([scores_from_row(row) for row in cohort.to_dict("records")], index=cohort.index)
    problems.add("scores", f"difficulty scores recomputed with the clinical columns {', '.join(present)}")
    return cohort.assign(**{column: scores[column] for column in scores.columns})


def note_mixed_settings(lesions: pd.DataFrame, problems: ProblemLog) -> None:
    """A note when the lesions were analysed with different settings (settings_sha256): mixing them in one
    analysis is usually a mistake, e.g. a sensitivity run on other HU bins gathered with the main run."""
    if "settings_sha256" not in lesions.columns:
        return
    hashes = lesions["settings_sha256"].fillna("").astype(str)
    groups = lesions.groupby(hashes)["lesion_id"].apply(list)
    if len(groups) > 1:
        described = [f"{digest[:12] or 'unrecorded'} ({len(ids)}: {', '.join(map(str, ids[:5]))}"
                     f"{', ...' if len(ids) > 5 else ''})" for digest, ids in groups.items()]
        problems.add("settings", f"lesions analysed with {len(groups)} different settings: " + "; ".join(described))


def build_cohort(inputs, clinical_path, problems: ProblemLog) -> pd.DataFrame:
    lesions = gather_lesions(inputs, problems)
    note_mixed_settings(lesions, problems)
    lesions["patient_id"] = lesions["patient_id"].astype(str)
    lesions["lesion_id"] = lesions["lesion_id"].astype(str)
    if not clinical_path:
        return lesions
    return rescore_with_clinical_items(join_clinical(lesions, read_table(clinical_path), problems), problems)


def write_cohort_csv(path: str, cohort: pd.DataFrame) -> None:
    """Write the cohort table atomically, its text cells safe to open in a spreadsheet."""
    folder = os.path.dirname(os.path.abspath(path))
    with staged_outputs(folder) as staging:
        spreadsheet_frame(cohort).to_csv(os.path.join(staging, os.path.basename(path)), index=False)
