"""One lesion from files to files: the job behind ``ctoplaque analyze`` and each case of ``ctoplaque batch``."""

from __future__ import annotations

import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from .analysis import analyze_lesion
from .centerline_extraction import extract_centerline
from .contour_masks import read_contour_segmentation
from .contour_review import automatic_contours_record, measure_with_contours
from .errors import CTOPlaqueInputError
from .export import check_identifier, check_reader, input_provenance, lesion_document
from .lesion_files import lesion_images, write_lesion_files
from .lesion_location import parse_location
from .markups_io import CURVE, POINT_LIST, landmarks_by_label, markups_document, read_markups
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
    contours: str = ""
    reading: int | None = None
    vessel: str = ""
    segment: str = ""

    def input_paths(self) -> dict:
        return {"volume": self.volume, "centerline": self.centerline, "seeds": self.seeds,
                "landmarks": self.landmarks, "clinical_items": self.clinical_items, "contours": self.contours}


def write_curve(path: str, points_ras) -> None:
    write_json(path, markups_document("Curve", points_ras, color=CENTERLINE_COLOR))


def read_seeds(path: str):
    """Seed points (RAS, ostium first) from a point list, or from the control points of a curve drawn along the
    vessel."""
    return read_markups(path, POINT_LIST + CURVE, "seeds").points_ras


def read_centerline(path: str):
    """Centerline points (RAS, proximal to distal) from an open curve; a point list is refused (its points
    would be joined by straight lines and distances measured from its first point)."""
    return read_markups(path, CURVE, "centerline").points_ras


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

    With ``contours`` (a .seg.nrrd with lumen and vessel-wall segments, e.g. the reader's edit of an earlier
    <lesion_id>.contours.seg.nrrd) the lesion is measured from them (contour_review.measure_with_contours).
    With seeds instead of a centerline, the extracted centerline is saved as <lesion_id>.centerline.mrk.json, and
    what the extraction did with the seeds (e.g. reversed them) is in the document's "notes".
    With ``dicom_out`` (the volume a DICOM series folder) the SEG and SR go there as <lesion_id>.seg.dcm and
    .sr.dcm; ``include_phi`` copies the series' patient and study attributes into the document
    (``source_dicom``), which otherwise holds none.
    """
    lesion_id = check_identifier(job.lesion_id, "lesion ID")
    patient_id = check_identifier(job.patient_id or lesion_id, "patient ID")
    check_reader(job.observer, job.reading)
    check_dicom_options(job)
    volume = read_volume(job.volume)
    provenance = _provenance_in_background(job.input_paths())
    sources, dicom_notes = _dicom_sources(job, volume)
    extra_files = {}
    notes = []
    if job.seeds:
        centerline_ras = extract_centerline(volume, read_seeds(job.seeds), job.settings.centerline, notes)
        extra_files[f"{lesion_id}.centerline.mrk.json"] = lambda path: write_curve(path, centerline_ras)
    else:
        centerline_ras = read_centerline(job.centerline)
    landmarks = landmarks_by_label(read_markups(job.landmarks, POINT_LIST, "landmarks"), source=job.landmarks)
    clinical_items = read_clinical_items(job.clinical_items) if job.clinical_items else {}
    location = parse_location(job.vessel, job.segment)
    given_masks = read_contour_segmentation(job.contours) if job.contours else None
    analysis = analyze_lesion(volume, centerline_ras, landmarks, job.settings, clinical_items)
    inputs = provenance.result()
    contours_record = automatic_contours_record()
    if given_masks is not None:
        analysis, contours_record = measure_with_contours(volume, analysis, given_masks,
                                                          os.path.basename(job.contours), inputs["contours"]["sha256"])
    document = lesion_document(analysis, lesion_id, patient_id, inputs, job.observer)
    document["notes"] += notes + dicom_notes
    document["contours"] = contours_record
    document["reading"] = job.reading
    document["location"] = location
    images = lesion_images(volume, analysis, given_masks)
    dicom_files = {}
    if job.include_phi:
        from .dicom_series import source_dicom_attributes

        document["source_dicom"] = source_dicom_attributes(sources[0])
    if job.dicom_out:
        from .dicom_results import dicom_writers

        dicom_files = dicom_writers(sources, volume, analysis, document, images)
    beside = os.path.abspath(job.dicom_out or job.out_dir) == os.path.abspath(job.out_dir)
    beside_files = {**extra_files, **(dicom_files if beside else {})}
    write_lesion_files(job.out_dir, volume, analysis, document, beside_files, images)
    remove_stale_files(job, beside_files)
    if dicom_files and not beside:
        with staged_outputs(job.dicom_out) as staging:
            for name, writer in dicom_files.items():
                writer(os.path.join(staging, name))
    return document


def _provenance_in_background(paths: dict) -> Future:
    """``input_provenance(paths)`` computed on a thread while the job goes on; ``result()`` gives it (or raises its
    error). SHA-256 and file reads release the GIL, so a free core hashes the volume during the centerline and the
    analysis: 0.11 s of a 512 x 512 x 300 volume's 157 MB off the job's wall time, none off its CPU time."""
    hashing = ThreadPoolExecutor(max_workers=1)
    future = hashing.submit(input_provenance, paths)
    hashing.shutdown(wait=False)  # the thread ends with its one task
    return future


# The lesion's files in --out that only some runs write (with seeds; with the DICOM results beside).
OPTIONAL_SUFFIXES = (".centerline.mrk.json", ".seg.dcm", ".sr.dcm")


def remove_stale_files(job: LesionJob, written: dict) -> None:
    """After a run replaced a lesion's results in ``job.out_dir`` (``--force``, a batch redoing a case), remove
    the optional files of an earlier run that this one did not write (``written``: file names), e.g. the
    centerline extracted from seeds by a run now given a centerline, or the SEG and SR of other results: beside
    the new lesion.json they would describe other results. A file this run read as an input is kept."""
    inputs = {os.path.abspath(path) for path in job.input_paths().values() if path}
    for suffix in OPTIONAL_SUFFIXES:
        path = os.path.abspath(os.path.join(job.out_dir, job.lesion_id + suffix))
        if job.lesion_id + suffix not in written and path not in inputs and os.path.isfile(path):
            os.remove(path)


def _dicom_sources(job: LesionJob, volume) -> tuple[list, list]:
    """The source series' datasets ordered by slice and notes on what was filled in (completed for the SEG and SR
    with ``dicom_out``), or none without DICOM options; read before the analysis, so that a series the SEG and
    SR cannot reference fails at once. pydicom and highdicom are imported only when DICOM is asked for."""
    if not (job.dicom_out or job.include_phi):
        return [], []
    from .dicom_series import source_datasets_by_slice, sources_for_derived_objects

    sources = source_datasets_by_slice(job.volume, volume)
    return sources_for_derived_objects(sources, volume) if job.dicom_out else (sources, [])


def check_dicom_options(job: LesionJob) -> None:
    """--dicom-out and --include-phi need the volume to be a DICOM series folder."""
    if (job.dicom_out or job.include_phi) and not os.path.isdir(job.volume):
        option = "--dicom-out" if job.dicom_out else "--include-phi"
        raise CTOPlaqueInputError(f"{option} needs a DICOM series folder as the volume; {job.volume} is a file")
