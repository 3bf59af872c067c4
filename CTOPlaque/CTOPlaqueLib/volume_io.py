"""CCTA volumes from files into (voxel array, IJK->RAS matrix), and back.

Arrays are indexed ``[k, j, i]`` (slice, row, column), the order used by SimpleITK's
``GetArrayFromImage`` and by Slicer's ``arrayFromVolume``. Files store LPS physical
coordinates; the conversion to Slicer's RAS happens here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from .errors import CTOPlaqueInputError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass
class Volume:
    """A scalar volume in Hounsfield units.

    hu: float32 array indexed [k, j, i].
    ijk_to_ras: 4x4 matrix mapping homogeneous (i, j, k, 1) to RAS millimetres.
    """

    hu: np.ndarray
    ijk_to_ras: np.ndarray

    @property
    def spacing_mm(self) -> np.ndarray:
        """Voxel size along i, j, k in millimetres."""
        return np.linalg.norm(self.ijk_to_ras[:3, :3], axis=0)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(abs(np.linalg.det(self.ijk_to_ras[:3, :3])))

    def ras_to_ijk(self) -> np.ndarray:
        return np.linalg.inv(self.ijk_to_ras)


def ijk_to_ras_from_geometry(origin_ras, spacing_mm, direction_ras) -> np.ndarray:
    """4x4 IJK->RAS matrix from origin (RAS mm), spacing (i, j, k mm) and direction cosines (columns)."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.asarray(direction_ras, float) @ np.diag(np.asarray(spacing_mm, float))
    matrix[:3, 3] = origin_ras
    return matrix


def _ijk_to_ras_from_sitk(image: sitk.Image) -> np.ndarray:
    direction_lps = np.array(image.GetDirection(), float).reshape(3, 3)
    origin_lps = np.array(image.GetOrigin(), float)
    return ijk_to_ras_from_geometry(LPS_TO_RAS @ origin_lps, image.GetSpacing(), LPS_TO_RAS @ direction_lps)


def _read_dicom_series(folder: str) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    series_ids = reader.GetGDCMSeriesIDs(folder)
    if not series_ids:
        raise CTOPlaqueInputError(f"no DICOM series found in folder {folder}")
    if len(series_ids) > 1:
        raise CTOPlaqueInputError(
            f"folder {folder} holds {len(series_ids)} DICOM series; point to a folder with the CCTA series only")
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder, series_ids[0]))
    return reader.Execute()


def read_volume(path: str) -> Volume:
    """Read NRRD, NIfTI, MHA or a DICOM series folder into HU and an IJK->RAS matrix.

    Rescale slope and intercept of DICOM (and NRRD/NIfTI scaling) are applied by ITK, so the
    returned values are Hounsfield units. Any direction matrix and anisotropic spacing is kept.
    """
    if not os.path.exists(path):
        raise CTOPlaqueInputError(f"volume not found: {path}")
    try:
        image = _read_dicom_series(path) if os.path.isdir(path) else sitk.ReadImage(path)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        raise CTOPlaqueInputError(f"cannot read {path} as an image ({first_line[:120]})") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise CTOPlaqueInputError(f"{path} is not a 3D scalar CT volume")
    hu = sitk.GetArrayViewFromImage(image).astype(np.float32)  # one copy, straight from ITK's buffer
    return Volume(hu=hu, ijk_to_ras=_ijk_to_ras_from_sitk(image))


def volume_to_sitk(array: np.ndarray, ijk_to_ras: np.ndarray) -> sitk.Image:
    """SimpleITK image (LPS geometry) from an array [k, j, i] and its IJK->RAS matrix."""
    image = sitk.GetImageFromArray(array)
    spacing = np.linalg.norm(ijk_to_ras[:3, :3], axis=0)
    direction_ras = ijk_to_ras[:3, :3] / spacing
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetOrigin(tuple(float(v) for v in LPS_TO_RAS @ ijk_to_ras[:3, 3]))
    image.SetDirection(tuple(float(v) for v in (LPS_TO_RAS @ direction_ras).ravel()))
    return image


def write_volume(path: str, array: np.ndarray, ijk_to_ras: np.ndarray, compress: bool = True) -> None:
    """Write an array [k, j, i] with its IJK->RAS geometry (any ITK format by extension)."""
    sitk.WriteImage(volume_to_sitk(array, ijk_to_ras), path, compress)
