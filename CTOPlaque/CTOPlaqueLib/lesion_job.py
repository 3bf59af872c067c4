"""One lesion from files to files: the job behind ``ctoplaque analyze`` and each case of ``ctoplaque batch``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .analysis import analyze_lesion
from .centerline_extraction import extract_centerline
from .errors import CTOPlaqueInputError
from .export import check_identifier, input_provenance, lesion_document
from .lesion_files import lesion_images, write_lesion_files
from .markups_io import landmarks_by_label, markups_document, read_markups
from .scores import parse_clinical_items
from .settings import AnalysisSettings
from .staging import staged_outputs, write_json
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
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    clinical_items: str = ""
    dicom_out: str = ""
    include_phi: bool = False

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

    With seeds instead of a centerline, the extracted centerline is saved as <lesion_id>.centerline.mrk.json, and
    what the extraction did with the seeds (e.g. reversed them) is in the document's "notes".
    With ``dicom_out`` (the volume a DICOM series folder) the SEG and SR go there as <lesion_id>.seg.dcm and
    .sr.dcm; ``include_phi`` copies the series' patient and study attributes into the document
    (``source_dicom``), which otherwise holds none.
    """
    lesion_id = check_identifier(job.lesion_id, "lesion ID")
    patient_id = check_identifier(job.patient_id or lesion_id, "patient ID")
    check_dicom_options(job)
    volume = read_volume(job.volume)
    extra_files = {}
    notes = []
    if job.seeds:
        centerline_ras = extract_centerline(volume, read_markups(job.seeds).points_ras, job.settings.centerline,
                                            notes)
        extra_files[f"{lesion_id}.centerline.mrk.json"] = lambda path: write_curve(path, centerline_ras)
    else:
        centerline_ras = read_markups(job.centerline).points_ras
    landmarks = landmarks_by_label(read_markups(job.landmarks), source=job.landmarks)
    clinical_items = read_clinical_items(job.clinical_items) if job.clinical_items else {}
    analysis = analyze_lesion(volume, centerline_ras, landmarks, job.settings, clinical_items)
    inputs = input_provenance(job.input_paths())
    document = lesion_document(analysis, lesion_id, patient_id, inputs, job.observer)
    if notes:
        document["notes"] = notes
    images = lesion_images(volume, analysis)
    dicom_files = {}
    if job.dicom_out or job.include_phi:  # pydicom and highdicom only when DICOM is asked for
        from .dicom_results import dicom_writers
        from .dicom_series import source_datasets_by_slice, source_dicom_attributes

        sources = source_datasets_by_slice(job.volume, volume)
        if job.include_phi:
            document["source_dicom"] = source_dicom_attributes(sources[0])
        if job.dicom_out:
            dicom_files = dicom_writers(sources, volume, analysis, document, images.composition)
    beside = os.path.abspath(job.dicom_out or job.out_dir) == os.path.abspath(job.out_dir)
    write_lesion_files(job.out_dir, volume, analysis, document, {**extra_files, **(dicom_files if beside else {})},
                       images)
    if dicom_files and not beside:
        with staged_outputs(job.dicom_out) as staging:
            for name, writer in dicom_files.items():
                writer(os.path.join(staging, name))
    return document


def check_dicom_options(job: LesionJob) -> None:
    """--dicom-out and --include-phi need the volume to be a DICOM series folder."""
    if (job.dicom_out or job.include_phi) and not os.path.isdir(job.volume):
        option = "--dicom-out" if job.dicom_out else "--include-phi"
        raise CTOPlaqueInputError(f"{option} needs a DICOM series folder as the volume; {job.volume} is a file")
