"""Readable names and number formats of the statistics tables: the reader never sees a column id.

One table (``PROJECT_LABELS``) gives the label and unit of every project column of the flat lesion row
(``CTOPlaqueLib.export.flat_row``) and of the cohort's clinical items; ``LabelTable`` looks names up in it,
with a user's ``labels.csv`` (columns ``column,label[,unit]``) extending or overriding it. A column in
neither gets a label built from its id (underscores to spaces, unit from the suffix: ``_mm`` -> mm,
``_mm2`` -> mm², ``_mm3`` -> mm³, ``_hu`` -> HU, ``_pav`` -> %, ``_deg`` -> °). A dummy of a text covariate,
"vendor=GE", reads "Vendor: GE".

Numbers as journals print them (and as the seed paper does): p as "<0.001" or with 3 decimals, odds ratios
with their interval at a fixed number of decimals (3, as the seed paper: "0.966 (0.944–0.990)"),
percentages with 1 decimal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from CTOPlaqueLib.errors import CTOPlaqueInputError


@dataclass(frozen=True)
class Label:
    """A readable name and its unit ("" when the value has none, e.g. a yes/no item or a score)."""

    name: str
    unit: str = ""

    @property
    def text(self) -> str:
        """'Occlusion length (mm)', or the name alone without a unit."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


_COMPONENTS = {"necrotic_core": "Necrotic core", "fibrofatty": "Fibrofatty", "fibrous": "Fibrous",
               "dense_calcium": "Dense calcium", "noncalcified": "Non-calcified", "unclassified": "Unclassified wall"}
_REFERENCES = {"S": "proximal reference (S)", "E": "distal reference (E)"}
_REFERENCE_MEASURES = {"lumen_area_mm2": ("lumen area", "mm²"), "vessel_area_mm2": ("vessel area", "mm²"),
                       "mean_lumen_diameter_mm": ("mean lumen diameter", "mm"),
                       "lumen_hu": ("lumen attenuation", "HU")}


def _project_labels() -> dict:
    """column -> Label for the project's own columns (flat lesion row, scores, clinical items, method)."""
    labels = {
        "lesion_id": Label("Lesion"), "patient_id": Label("Patient"), "observer": Label("Observer"),
        "reading": Label("Reading"), "contours_edited": Label("Contours edited by the reader"),
        "target_vessel": Label("Target vessel"), "scct_segment": Label("SCCT segment"),
        "occlusion_length_mm": Label("Occlusion length", "mm"),
        "total_plaque_volume_mm3": Label("Total plaque volume", "mm³"),
        "vessel_volume_mm3": Label("Vessel volume", "mm³"),
        "max_bending_deg": Label("Maximum bending", "°"),
        "bending_gt_45": Label("Bending > 45°"),
        "max_calcium_area_fraction": Label("Maximum calcium area fraction"),
        "severe_calcification": Label("Severe calcification (≥ 50% of a cross-section)"),
        "length_ge_20mm": Label("Occlusion length ≥ 20 mm"),
        "length_ge_15mm": Label("Occlusion length ≥ 15 mm"),
        "calcification": Label("Calcification"),
        "proximal_cap_slope_per_mm": Label("Proximal cap slope", "per mm"),
        "proximal_cap": Label("Proximal cap"),
        "blunt_stump": Label("Blunt stump"),
        "j_cto_score": Label("J-CTO score"), "ccta_j_cto_score": Label("CCTA J-CTO score"),
        "ct_rector_score": Label("CT-RECTOR score"), "kcct_score": Label("KCCT score"),
        "retry": Label("Retry (previous attempt)"),
        "previous_failed_attempt": Label("Prior failed attempt"),
        "duration_ge_12_months_or_unknown": Label("Occlusion ≥ 12 months or unknown"),
        "multiple_occlusions": Label("Multiple occlusions"),
        "proximal_side_branch": Label("Proximal side branch"),
        "whole_luminal_calcification": Label("Whole-luminal calcification"),
        "crossing_success": Label("Guidewire crossing ≤ 30 min"),
        "procedural_success": Label("Procedural success"),
        "success": Label("Success"),
        "age": Label("Age", "years"), "male": Label("Male"), "sex": Label("Sex"),
        "bmi": Label("BMI", "kg/m²"), "lvef": Label("LVEF", "%"),
        "diabetes": Label("Diabetes mellitus"), "hypertension": Label("Hypertension"),
        "hyperlipidemia": Label("Hyperlipidemia"), "smoking": Label("Smoking"),
        "warnings": Label("Warnings"), "settings_sha256": Label("Settings (SHA-256)"),
        "software_version": Label("Software version"),
    }
    for column, name in _COMPONENTS.items():
        labels[f"{column}_volume_mm3"] = Label(f"{name} volume", "mm³")
        labels[f"{column}_pav"] = Label(f"{name} PAV", "%")
    for reference, place in _REFERENCES.items():
        for key, (measure, unit) in _REFERENCE_MEASURES.items():
            labels[f"reference_{reference}_{key}"] = Label(f"{measure.capitalize()}, {place}", unit)
    return labels


PROJECT_LABELS = _project_labels()
_SUFFIX_UNITS = (("_mm3", "mm³"), ("_mm2", "mm²"), ("_mm", "mm"), ("_hu", "HU"), ("_pav", "%"), ("_deg", "°"),
                 ("_percent", "%"))
METHOD_NAMES = {"ml": "maximum likelihood", "firth": "Firth"}
OR_DECIMALS = 3


def label_from_id(column: str) -> Label:
    """A label built from a column id: 'reference_X_lumen_hu' -> 'Reference X lumen (HU)'."""
    stem, unit = column, ""
    for suffix, suffix_unit in _SUFFIX_UNITS:
        if column.endswith(suffix) and len(column) > len(suffix):
            stem, unit = column[: -len(suffix)], suffix_unit
            break
    words = stem.replace("_", " ").strip()
    return Label(words[:1].upper() + words[1:], unit)


class LabelTable:
    """Readable labels: the project's table, extended or overridden by ``overrides`` (column -> Label)."""

    def __init__(self, overrides: dict = None):
        self._labels = {**PROJECT_LABELS, **(overrides or {})}

    def label(self, column: str) -> Label:
        """The Label of a column; a dummy 'name=level' reads '<name's label>: level' (without the unit)."""
        column = str(column)
        if column in self._labels:
            return self._labels[column]
        if "=" in column:
            name, level = column.split("=", 1)
            return Label(f"{self.label(name).name}: {level}")
        return label_from_id(column)

    def text(self, column: str) -> str:
        """'Occlusion length (mm)': the name with its unit."""
        return self.label(column).text

    def name(self, column: str) -> str:
        """'Occlusion length': the name without its unit."""
        return self.label(column).name

    def unit(self, column: str) -> str:
        return self.label(column).unit

    @classmethod
    def from_csv(cls, path: str) -> "LabelTable":
        """The project's labels with those of a CSV (columns column,label[,unit]; one row per column id).

        Raises CTOPlaqueInputError for a missing file, missing columns, or an empty column id or label."""
        if not os.path.isfile(path):
            raise CTOPlaqueInputError(f"labels file not found: {path}")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise CTOPlaqueInputError(f"labels file {path} is not a readable CSV ({error})") from None
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        if not {"column", "label"} <= set(frame.columns):
            raise CTOPlaqueInputError(f"labels file {path} needs the columns column,label[,unit]; "
                                      f"it has {', '.join(frame.columns)}")
        overrides = {}
        for line, row in enumerate(frame.to_dict("records"), start=2):
            column, name = row["column"].strip(), row["label"].strip()
            if not column or not name:
                raise CTOPlaqueInputError(f"labels file {path}, line {line}: empty column id or label")
            overrides[column] = Label(name, row.get("unit", "").strip())
        return cls(overrides)


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def format_p(p) -> str:
    """'<0.001', '>0.999' (a p that rounds to 1 is not 1: AMA Manual of Style, 'P > .99' rather than 'P = 1.0'),
    or p with 3 decimals ('0.035'); '' when absent."""
    if _missing(p):
        return ""
    return "<0.001" if p < 0.001 else ">0.999" if p >= 0.9995 else f"{p:.3f}"


def format_number(value, decimals: int) -> str:
    """``value`` with a fixed number of decimals; '' when absent."""
    return "" if _missing(value) else f"{value:.{decimals}f}"


def format_or_ci(value, low=None, high=None, decimals: int = OR_DECIMALS) -> str:
    """'0.966 (0.944–0.990)': an odds ratio (or any ratio) and its interval, all at ``decimals`` decimals;
    the estimate alone when the interval is absent, '' when the estimate is."""
    if _missing(value):
        return ""
    interval = "" if _missing(low) or _missing(high) else \
        f" ({format_number(low, decimals)}–{format_number(high, decimals)})"
    return f"{format_number(value, decimals)}{interval}"


def format_percent(value) -> str:
    """A percentage with 1 decimal ('84.6'); '' when absent."""
    return format_number(value, 1)


def format_count_percent(count: int, total: int) -> str:
    """'170 (84.6%)'; '0 (0.0%)' of an empty group."""
    share = 100.0 * count / total if total else 0.0
    return f"{int(count)} ({format_percent(share)}%)"


def format_method(method: str) -> str:
    """'maximum likelihood' or 'Firth' for the method codes of logistic.csv ('ml', 'firth')."""
    return METHOD_NAMES.get(method, str(method))
