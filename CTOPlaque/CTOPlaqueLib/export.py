"""Per-lesion export: ``lesion.json`` (schema ctoplaque.lesion/1), the flat cohort row and the profile table.

Every number comes from a LesionAnalysis; this module names it, rounds it for the files to what the method
resolves (rounded_for_export) and writes. Text cells that a spreadsheet would run as a formula (=, +, -, @
first) are neutralized.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import os
import re

import numpy as np

from . import SOFTWARE_NAME, __version__
from .analysis import LesionAnalysis
from .composition import COMPONENTS, UNCLASSIFIED, percent_of
from .errors import CTOPlaqueInputError
from .quality import (LUMEN_UNCERTAINTY_NEAR_MM, MAX_LUMEN_AREA_UNCERTAINTY, MAX_LUMEN_EDGE_UNDERSHOOT_HU,
                      REFERENCE_WINDOW_MM, is_reviewed)
from .scores import score_column

LESION_SCHEMA = "ctoplaque.lesion/1"
# Decimals of a value in the files (lesion.json, lesion.csv, profile.csv, the DICOM SR), by the unit its name
# ends with: what the method resolves, no more. Contours are placed to a fraction of a voxel along sections
# 0.25 mm apart: lengths and areas to 0.01 mm and mm2, volumes to 0.1 mm3, percentages (PAV) to 0.1 point,
# attenuation to 1 HU (and its slopes to 1 HU per mm), angles to 0.1 degree, fractions and ratios to 0.001. Longer
# suffixes are matched first.
EXPORT_DECIMALS = {"_hu_per_mm": 0, "_per_mm": 3, "_fraction": 3, "_ratio": 3, "_product": 3, "_percent": 1,
                   "_pav": 1, "_mm3": 1, "_mm2": 2, "_mm": 2, "_deg": 1, "_hu": 0}
NOT_ROUNDED = ("settings", "thresholds_hu")  # the analysis's parameters, kept exactly to reproduce it
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_identifier(value: str, what: str) -> str:
    """An ID used in file names: letters, digits, '.', '_' and '-', starting with a letter or digit."""
    if not _SAFE_ID.match(value or ""):
        raise CTOPlaqueInputError(
            f"{what} {value!r} may hold only letters, digits, '.', '_' and '-' (and start with a letter or digit)")
    return value


# DICOM PS3.5 6.2: a person name component group holds at most 64 characters, no backslash (the value separator)
# and no control characters; --observer becomes the SEG's and SR's person name.
_OBSERVER = re.compile(r"[^\\\x00-\x1f\x7f]{0,64}")


def check_reader(observer: str, reading) -> None:
    """The observer's name and reading number of ``analyze --observer --reading`` (and the panel, the manifest):
    a name the DICOM SEG and SR can carry as a person name (_OBSERVER), a reading 1, 2, ... or None."""
    if not _OBSERVER.fullmatch(observer or ""):  # match's "$" would pass a name ending in a newline
        raise CTOPlaqueInputError(f"observer {observer!r} may not hold a backslash or control characters, nor be "
                                  "longer than 64 characters (it is the person name of the DICOM SEG and SR)")
    if reading is not None and (isinstance(reading, bool) or not isinstance(reading, int) or reading < 1):
        raise CTOPlaqueInputError(f"reading {reading!r} is not a reading number (1, 2, ...)")


def sha256_of_path(path: str) -> str:
    """SHA-256 of a file, or of a folder's files (sorted by relative name; name and content hashed)."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for root, _, names in sorted(os.walk(path)):
            for name in sorted(names):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode())
                _update_with_file(digest, full)
    else:
        _update_with_file(digest, path)
    return digest.hexdigest()


def _update_with_file(digest, path: str) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def input_provenance(paths: dict) -> dict:
    """role -> {"file": base name, "sha256": ...} for each input path (None entries skipped)."""
    return {role: {"file": os.path.basename(os.path.normpath(path)), "sha256": sha256_of_path(path)}
            for role, path in paths.items() if path}


def array_provenance(name: str, array: np.ndarray, dtype=None) -> dict:
    """Provenance of an in-memory input (a Slicer node): its name and the SHA-256 of its values, as ``dtype`` where
    given (a volume's as float32, whether int16 or float32 holds them: fed one slice at a time, no copy of the
    volume)."""
    if dtype is None or array.dtype == dtype:
        return {"node": name, "sha256_values": hashlib.sha256(np.ascontiguousarray(array)).hexdigest()}  # no copy
    digest = hashlib.sha256()
    for part in array:
        digest.update(np.ascontiguousarray(part, dtype))
    return {"node": name, "sha256_values": digest.hexdigest()}


def export_decimals(name: str):
    """Decimals for a value named ``name`` (EXPORT_DECIMALS by its unit suffix), or None for no known unit."""
    return next((decimals for suffix, decimals in EXPORT_DECIMALS.items() if name.endswith(suffix)), None)


def rounded_for_export(value, decimals=None):
    """A copy of ``value`` (a document, a row, or a part of them) with every float rounded to the decimals of the
    unit in its key, or in its parent's key for the items of a dict or list (e.g. volumes_mm3 -> each component);
    keys in NOT_ROUNDED and values with no known unit are kept as they are. The analysis keeps full precision:
    only the files are rounded."""
    if isinstance(value, dict):
        return {key: item if key in NOT_ROUNDED else rounded_for_export(item, _key_decimals(key, decimals))
                for key, item in value.items()}
    if isinstance(value, list):
        return [rounded_for_export(item, decimals) for item in value]
    if isinstance(value, (float, np.floating)) and decimals is not None and np.isfinite(value):
        return round(float(value), decimals) + 0.0  # + 0.0: no "-0.0"
    return value


def _key_decimals(key, inherited):
    decimals = export_decimals(key) if isinstance(key, str) else None
    return inherited if decimals is None else decimals


def results_rows(document: dict) -> list:
    """The lesion's measurements as readable rows {"Measurement", "Value", "Unit"} for a results table."""
    rows = [("Occlusion length", document["occlusion_length_mm"], "mm"),
            ("Total plaque volume", document["total_plaque_volume_mm3"], "mm3")]
    for name in COMPONENTS:
        label = name.replace("_", " ").capitalize()
        rows.append((f"{label} volume", document["volumes_mm3"][name], "mm3"))
        rows.append((f"{label} PAV", document["pav_percent"][name], "%"))
    rows.append(("Non-calcified volume", document["noncalcified_volume_mm3"], "mm3"))
    rows.append(("Unclassified wall (< -30 HU)", document["unclassified_volume_mm3"], "mm3"))
    for label, values in sorted(document["reference"].items()):
        rows.append((f"Reference {label} lumen area", values["lumen_area_mm2"], "mm2"))
        rows.append((f"Reference {label} vessel area", values["vessel_area_mm2"], "mm2"))
        rows.append((f"Reference {label} mean lumen diameter", values["mean_lumen_diameter_mm"], "mm"))
        rows.append((f"Reference {label} lumen attenuation", values.get("lumen_hu"), "HU"))  # absent before
    for name, score in document.get("scores", {}).items():
        if score["total"] is not None:
            rows.append((f"{name} score", score["total"], f"points ({score['category']})"))
    quality = document["quality"]
    local_area_ratio = quality.get("occlusion_min_local_area_ratio")  # absent from earlier exports
    reviewed = sum(map(is_reviewed, document["warnings"]))  # shown apart, so the count is of what is still open
    rows += [("Quality: occluded wall on a fat edge", 100 * quality["occlusion_fat_edge_fraction"], "%"),
             ("Quality: lowest 2 mm of occluded wall on a fat edge",
              100 * quality["occlusion_min_fat_edge_fraction"], "%"),
             ("Quality: occlusion through contrast", 100 * quality["occlusion_contrast_fraction"], "%"),
             ("Quality: farthest landmark from the centerline", quality["landmark_max_distance_mm"], "mm"),
             ("Quality: normal segments with unresolved wall", 100 * quality["normal_wall_unresolved_fraction"], "%"),
             ("Quality: scanner blur measured on the wall (sigma)", quality["blur_sigma_mm"], "mm"),
             ("Quality: epicardial fat around the vessel", quality["fat_hu"], "HU"),
             ("Quality: narrowest occluded section against the vessel around it",
              None if local_area_ratio is None else 100 * local_area_ratio, "%"),
             ("Quality: lumen-edge undershoot below the fat (sharp kernel above "
              f"{MAX_LUMEN_EDGE_UNDERSHOOT_HU:g})", quality.get("lumen_edge_undershoot_hu"), "HU"),
             *_lumen_uncertainty_rows(quality),
             ("Quality warnings", len(document["warnings"]) - reviewed, "see the panel"),
             ("Quality warnings reviewed by the reader", reviewed or None, "contours edited there")]
    # no value: a lumen not found at S or E, too few lumen sections for the undershoot (see the warnings), no
    # warning reviewed by the reader, or a measure an earlier export does not have
    return [{"Measurement": m, "Value": float(v), "Unit": u} for m, v, u in rows if v is not None]


def _lumen_uncertainty_rows(quality: dict) -> list:
    """The lumen area's uncertainty next to each cap (quality.lumen_area_uncertainty_measures; absent from earlier
    exports, None where unmeasured) as (measurement, percent, unit) rows."""
    rows = []
    for side, where in (("proximal", "before P"), ("distal", "after D")):
        uncertainty = quality.get(f"{side}_lumen_area_uncertainty_fraction")
        window = f"{LUMEN_UNCERTAINTY_NEAR_MM:g}-{REFERENCE_WINDOW_MM:g} mm {where}"
        rows.append((f"Quality: lumen area uncertainty {window} (warning above {100 * MAX_LUMEN_AREA_UNCERTAINTY:g})",
                     None if uncertainty is None else 100 * uncertainty, "% (1 SD)"))
    return rows


def lesion_document(analysis: LesionAnalysis, lesion_id: str, patient_id: str, inputs: dict,
                    observer: str = "") -> dict:
    """The lesion.json document: the analysis's measurements, morphology and scores as they are, named."""
    total = analysis.total_plaque_volume_mm3
    return {
        "schema": LESION_SCHEMA,
        "lesion_id": lesion_id,
        "patient_id": patient_id,
        "observer": observer,
        "occlusion_length_mm": analysis.occlusion_length_mm,
        "total_plaque_volume_mm3": total,
        "vessel_volume_mm3": analysis.vessel_volume_mm3,
        "volumes_mm3": dict(analysis.volumes_mm3),
        "pav_percent": analysis.pav_percent,
        "noncalcified_volume_mm3": analysis.noncalcified_volume_mm3,
        "noncalcified_pav_percent": percent_of(total, analysis.noncalcified_volume_mm3),
        "unclassified_volume_mm3": analysis.unclassified_volume_mm3,
        "unclassified_pav_percent": percent_of(total, analysis.unclassified_volume_mm3),
        "thresholds_hu": analysis.thresholds.ranges_hu(),
        "landmarks_mm": dict(analysis.landmarks_mm),
        "reference": analysis.reference,
        "morphology": analysis.morphology,
        "quality": analysis.quality,
        "warnings": analysis.warnings,
        "notes": [],
        "clinical_items": dict(analysis.clinical_items),
        "scores": analysis.scores,
        "centerline_length_mm": analysis.centerline.length_mm,
        "settings": analysis.settings.to_dict(),
        "settings_sha256": analysis.settings.sha256(),
        "software": {"name": SOFTWARE_NAME, "version": __version__},
        "inputs": inputs,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def flat_row(document: dict) -> dict:
    """One cohort-format row (column -> value) from a lesion document."""
    row = {"lesion_id": document["lesion_id"], "patient_id": document["patient_id"],
           "observer": document.get("observer", ""),
           "reading": "" if document.get("reading") is None else document["reading"],  # absent before
           "contours_edited": int(document.get("contours", {}).get("edited", False)),  # absent before
           "target_vessel": document.get("location", {}).get("vessel", ""),  # absent before
           "scct_segment": document.get("location", {}).get("segment") or "",
           "occlusion_length_mm": document["occlusion_length_mm"],
           "total_plaque_volume_mm3": document["total_plaque_volume_mm3"],
           "vessel_volume_mm3": document["vessel_volume_mm3"]}
    for name in COMPONENTS:
        row[f"{name}_volume_mm3"] = document["volumes_mm3"][name]
        row[f"{name}_pav"] = document["pav_percent"][name]
    row["noncalcified_volume_mm3"] = document["noncalcified_volume_mm3"]
    row["noncalcified_pav"] = document["noncalcified_pav_percent"]
    row["unclassified_volume_mm3"] = document["unclassified_volume_mm3"]
    for label, values in sorted(document["reference"].items()):
        for key in ("lumen_area_mm2", "vessel_area_mm2", "mean_lumen_diameter_mm", "lumen_hu"):
            row[f"reference_{label}_{key}"] = "" if values.get(key) is None else values[key]
    for key, value in document["morphology"].items():
        row[key] = "" if value is None else (int(value) if isinstance(value, bool) else value)
    for name, score in document.get("scores", {}).items():
        row[score_column(name)] = "" if score["total"] is None else score["total"]
    row.update(quality_columns(document.get("quality", {})))  # absent from earlier exports
    for name, value in document.get("source_dicom", {}).items():  # only with --include-phi
        row[f"dicom_{name}"] = value
    row["warnings"] = " | ".join(document.get("warnings", []))
    row["settings_sha256"] = document.get("settings_sha256", "")
    row["software_version"] = document["software"]["version"]
    return row


def quality_columns(quality: dict) -> dict:
    """The quality measures as flat columns quality_<name>; booleans as 0/1, reference sections per label."""
    columns = {}
    for key, value in quality.items():
        if isinstance(value, dict):
            for label, item in sorted(value.items()):
                name = f"quality_{key.replace('reference_', f'reference_{label}_')}"
                columns[name] = int(item) if isinstance(item, bool) else item
        else:
            columns[f"quality_{key}"] = int(value) if isinstance(value, bool) else value
    return columns


def spreadsheet_safe(value):
    """Text that a spreadsheet would evaluate as a formula gets a leading apostrophe; numbers pass."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def write_rows_csv(path: str, rows: list) -> None:
    """Write dict rows (same keys) as CSV, text cells neutralized for spreadsheets."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})


def profile_rows(analysis: LesionAnalysis) -> list:
    """One row per cross-section: distance, lumen and vessel area, area of each component."""
    profile = analysis.profile
    in_occlusion = analysis.occluded_sections()
    names = (UNCLASSIFIED,) + COMPONENTS
    rows = []
    for index, distance in enumerate(profile.arc_mm):
        row = {"distance_mm": float(distance),
               "lumen_area_mm2": float(profile.lumen_area_mm2[index]),
               "vessel_area_mm2": float(profile.vessel_area_mm2[index]),
               "plaque_area_mm2": float(profile.vessel_area_mm2[index] - profile.lumen_area_mm2[index])}
        for column, name in enumerate(names):
            row[f"{name}_area_mm2"] = float(profile.component_areas_mm2[index, column])
        row["in_occlusion"] = int(in_occlusion[index])
        rows.append(row)
    return rows


def profile_component_areas(analysis: LesionAnalysis) -> dict:
    """Component name -> area (mm^2) per section, for plots."""
    return {name: analysis.profile.component_areas_mm2[:, index + 1] for index, name in enumerate(COMPONENTS)}

