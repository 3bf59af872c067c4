"""DICOM CT series: a volume written as one (for phantoms and tests), and the source datasets of a volume
read from a DICOM folder, each with its slice index k in the volume (for SEG and SR that reference them).

Geometry: DICOM stores LPS. Slice k of the volume is the dataset whose Image Position (Patient) maps
to voxel (0, 0, k) through the volume's RAS->IJK matrix; rows run along j and columns along i, as
SimpleITK reads the series (volume_io.read_volume).
"""

from __future__ import annotations

import copy
import datetime
import os

import numpy as np
import pydicom
from pydicom.datadict import dictionary_description, tag_for_keyword
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from .errors import CTOPlaqueInputError
from .volume_io import LPS_TO_RAS, Volume

RESCALE_INTERCEPT_HU = -1024.0
# Attributes copied from the source series into derived objects (SEG, SR), as the IODs require.
PATIENT_STUDY_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                            "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")
# Type 1 attributes of the source slices (SOP Common, General Study and Series, Frame of Reference, Image Plane
# modules) that the SEG and SR copy or reference: without one of them no valid derived object can be made.
REQUIRED_SOURCE_ATTRIBUTES = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
                              "FrameOfReferenceUID", "ImageOrientationPatient", "PixelSpacing")
# Type 2 attributes of the Patient and General Study modules: the SEG and SR must hold them, empty where unknown.
PATIENT_STUDY_TYPE2_ATTRIBUTES = tuple(name for name in PATIENT_STUDY_ATTRIBUTES
                                       if name not in REQUIRED_SOURCE_ATTRIBUTES)
# The analysed series, for the patient record: which reconstruction of the study was measured.
SOURCE_SERIES_ATTRIBUTES = ("SeriesInstanceUID", "SeriesDescription", "ConvolutionKernel")


def write_ct_series(folder: str, hu_kji: np.ndarray, ijk_to_ras: np.ndarray, patient_id: str,
                    patient_name: str = "", study_uid: str = "") -> list:
    """Write ``hu_kji`` as a CT Image Storage series, one file per slice (IM0001.dcm, ...); returns the paths.

    Stored values are HU + 1024 as unsigned 16 bit with RescaleIntercept -1024; the geometry
    (orientation, positions, spacing) is that of ``ijk_to_ras``, whose axes must be orthogonal."""
    os.makedirs(folder, exist_ok=True)
    spacing = np.linalg.norm(ijk_to_ras[:3, :3], axis=0)
    direction_lps = LPS_TO_RAS @ (ijk_to_ras[:3, :3] / spacing)
    stored = np.clip(np.round(hu_kji - RESCALE_INTERCEPT_HU), 0, 65535).astype(np.uint16)
    study_uid, series_uid, frame_uid = study_uid or generate_uid(), generate_uid(), generate_uid()
    now = datetime.datetime.now()
    paths = []
    for k in range(hu_kji.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = os.path.join(folder, f"IM{k + 1:04d}.dcm")
        ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID = patient_name or f"Phantom^{patient_id}", patient_id
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.BodyPartExamined = "HEART"
        ds.Manufacturer, ds.PositionReferenceIndicator = "", ""
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP, ds.AcquisitionNumber, ds.PatientPosition = "120", 1, "HFS"
        position_lps = LPS_TO_RAS @ (ijk_to_ras[:3, :3] @ np.array([0.0, 0.0, k]) + ijk_to_ras[:3, 3])
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position_lps]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in np.concatenate([direction_lps[:, 0], direction_lps[:, 1]])]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]  # row spacing (j), column spacing (i)
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = hu_kji.shape[1], hu_kji.shape[2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = f"{RESCALE_INTERCEPT_HU:g}", "1", "HU"
        ds.PixelData = stored[k].tobytes()
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _files_of(source) -> list:
    if isinstance(source, str):
        return [os.path.join(root, name) for root, _, names in os.walk(source) for name in names]
    return list(source)


def source_datasets_by_slice(source, volume: Volume) -> list:
    """The datasets (headers, no pixel data) of the DICOM series in ``source`` (a folder, or a list of its
    files), ordered as the volume's slices k = 0, 1, ...; an error when they do not tile the volume's grid."""
    folder = source if isinstance(source, str) else os.path.dirname(next(iter(source), ""))
    datasets = []
    for path in _files_of(source):
        try:
            datasets.append(pydicom.dcmread(path, stop_before_pixels=True))
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
    datasets = [ds for ds in datasets if "ImagePositionPatient" in ds]
    if len(datasets) != volume.hu.shape[0]:
        raise CTOPlaqueInputError(
            f"{folder} holds {len(datasets)} image slices, the volume {volume.hu.shape[0]}: not the analysed series")
    ras_to_ijk = volume.ras_to_ijk()
    by_slice = {}
    for ds in datasets:
        ijk = ras_to_ijk[:3, :3] @ (LPS_TO_RAS @ np.array(ds.ImagePositionPatient, float)) + ras_to_ijk[:3, 3]
        k = int(round(ijk[2]))
        if np.max(np.abs(ijk - [0.0, 0.0, k])) > 0.01 or not 0 <= k < volume.hu.shape[0] or k in by_slice:
            raise CTOPlaqueInputError(f"{folder}: slice {ds.get('InstanceNumber', '?')} does not lie on the "
                                      "volume's grid; write DICOM results only for the series that was analysed")
        by_slice[k] = ds
    return [by_slice[k] for k in range(len(by_slice))]


def source_dicom_attributes(source) -> dict:
    """The patient and study attributes (PATIENT_STUDY_ATTRIBUTES) and the series' own
    (SOURCE_SERIES_ATTRIBUTES) of a source dataset, as text; a multi-valued one (e.g. a kernel "FC03\\AIDR")
    joined with backslashes, as DICOM writes it."""
    def text(value):
        return "\\".join(str(item) for item in value) if isinstance(value, MultiValue) else str(value)

    return {name: text(source.get(name, "")) for name in PATIENT_STUDY_ATTRIBUTES + SOURCE_SERIES_ATTRIBUTES}


def _attribute_name(keyword: str) -> str:
    """An attribute as the standard names it, with its tag: "Slice Thickness (0018,0050)"."""
    tag = Tag(tag_for_keyword(keyword))
    return f"{dictionary_description(tag)} ({tag.group:04X},{tag.element:04X})"


def sources_for_derived_objects(sources: list, volume: Volume) -> tuple[list, list]:
    """The source datasets (ordered by slice) completed for building a SEG and an SR on them, and one note per
    attribute that had to be filled in (for lesion.json and a ``note:`` line).

    * A Type 1 attribute (REQUIRED_SOURCE_ATTRIBUTES) missing or empty in any slice is an input error.
    * Type 2 patient and study attributes (PATIENT_STUDY_TYPE2_ATTRIBUTES) missing are added empty, as the
      Patient and General Study modules of the SEG and SR allow.
    * A missing or empty Slice Thickness (0018,0050, Type 2 in the Image Plane module), which the SEG's pixel
      measures need, is taken as the slice spacing of the volume (mm between adjacent slice centres): the
      thickness of the SEG's own voxels, which lie on the series' grid. The measurement never uses it.
    The sources are copied when something is filled in, never changed."""
    for keyword in REQUIRED_SOURCE_ATTRIBUTES:
        lacking = sum(not ds.get(keyword) for ds in sources)
        if lacking:
            raise CTOPlaqueInputError(
                f"{lacking} of {len(sources)} DICOM slices have no {_attribute_name(keyword)}, which a DICOM SEG and "
                "SR need to reference the series; analyse without DICOM results, or export the series with it")
    absent = [keyword for keyword in PATIENT_STUDY_TYPE2_ATTRIBUTES if any(keyword not in ds for ds in sources)]
    no_thickness = any(not ds.get("SliceThickness") for ds in sources)
    if not absent and not no_thickness:
        return sources, []
    completed = [copy.deepcopy(ds) for ds in sources]
    notes = []
    if absent:
        for ds in completed:
            for keyword in absent:
                if keyword not in ds:
                    setattr(ds, keyword, "")
        notes.append("the DICOM series has no " + ", ".join(_attribute_name(keyword) for keyword in absent)
                     + ": the SEG and SR carry " + ("it" if len(absent) == 1 else "them") + " empty")
    if no_thickness:
        thickness_mm = float(volume.spacing_mm[2])
        for ds in completed:
            if not ds.get("SliceThickness"):
                ds.SliceThickness = f"{thickness_mm:.6g}"
        notes.append(f"the DICOM series has no {_attribute_name('SliceThickness')}: the SEG's pixel measures "
                     f"give the slice spacing, {thickness_mm:.3f} mm, as its slice thickness")
    return completed, notes
