"""DICOM CT series: a volume written as one (for phantoms and tests), and the source datasets of a volume
read from a DICOM folder, each with its slice index k in the volume (for SEG and SR that reference them).

Geometry: DICOM stores LPS. Slice k of the volume is the dataset whose Image Position (Patient) maps
to voxel (0, 0, k) through the volume's RAS->IJK matrix; rows run along j and columns along i, as
SimpleITK reads the series (volume_io.read_volume).
"""

from __future__ import annotations

import datetime
import os

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from .errors import CTOPlaqueInputError
from .volume_io import LPS_TO_RAS, Volume

RESCALE_INTERCEPT_HU = -1024.0
# Attributes copied from the source series into derived objects (SEG, SR), as the IODs require.
PATIENT_STUDY_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                            "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")
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
