"""One lesion from files to files: the job behind ``ctoplaque analyze`` and each case of ``ctoplaque batch``."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .analysis import AnalysisSettings, analyze_lesion
from .centerline_extraction import extract_centerline
from .errors import CTOPlaqueInputError
from .export import check_identifier, input_provenance
from .lesion_files import write_lesion_files
from .markups_io import landmarks_by_label, markups_document, read_markups
from .scores import parse_clinical_items
from .staging import write_json
from .volume_io import read_volume

CENTERLINE_COLOR = (1.0, 0.85, 0.0)


@dataclass
class LesionJob:
    """Input paths (centerline or seeds), IDs and settings of one lesion analysis."""

    volume: str
    landmarks: str
    out_dir: str
    lesion_id: str
    patient_id: str = ""
    centerline: str = ""
    seeds: str = ""
    observer: str = ""
    settings: AnalysisSettings = None
    clinical_items: str = ""

    def input_paths(self) -> dict:
        return {"volume": self.volume, "centerline": self.centerline, "seeds": self.seeds,
                "landmarks": self.landmarks, "clinical_items": self.clinical_items}


def write_curve(path: str, points_ras) -> None:
    write_json(path, markups_document("Curve", points_ras, color=CENTERLINE_COLOR))


def read_clinical_items(path: str) -> dict:
    """Entered score items from a JSON object file, e.g. {"retry": false, "multiple_occlusions": null}."""
    try:
        with open(path, encoding="utf-8") as handle:
            values = json.load(handle)
    except (OSError, ValueError):
        raise CTOPlaqueInputError(f"cannot read clinical items from {path} (a JSON object is expected)") from None
    if not isinstance(values, dict):
        raise CTOPlaqueInputError(f"{path}: clinical items must be a JSON object")
    return parse_clinical_items(values, path)


def run_lesion_job(job: LesionJob) -> dict:
    """Analyze one lesion and write its files into ``job.out_dir``; returns the lesion document.

    With seeds instead of a centerline, the extracted centerline is saved as <lesion_id>.centerline.mrk.json.
    """
    lesion_id = check_identifier(job.lesion_id, "lesion ID")
    patient_id = check_identifier(job.patient_id or lesion_id, "patient ID")
    volume = read_volume(job.volume)
    extra_files = {}
    if job.seeds:
        centerline_ras = extract_centerline(volume, read_markups(job.seeds).points_ras)
        extra_files[f"{lesion_id}.centerline.mrk.json"] = lambda path: write_curve(path, centerline_ras)
    else:
        centerline_ras = read_markups(job.centerline).points_ras
    landmarks = landmarks_by_label(read_markups(job.landmarks), source=job.landmarks)
    clinical_items = read_clinical_items(job.clinical_items) if job.clinical_items else {}
    analysis = analyze_lesion(volume, centerline_ras, landmarks, job.settings or AnalysisSettings())
    inputs = input_provenance(job.input_paths())
    paths = write_lesion_files(job.out_dir, volume, analysis, lesion_id, patient_id, inputs, job.observer,
                               extra_files, clinical_items)
    return paths["document"]
