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
# Fewest voxels along any axis of a volume read: ITK's recursive Gaussian smoothing (vesselness, lumen) refuses fewer
# than 4, and a DICOM "volume" of one slice has a made-up 1 mm slice spacing.
MIN_VOXELS_PER_AXIS = 4


@dataclass
class Volume:
    """A scalar volume in Hounsfield units.

    hu: array indexed [k, j, i]: int16 when the file or node stores integers that int16 holds (``hu_array``: half
        the memory of float32), else float32. Sampling returns float32 either way, with the same values.
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


def sitk_ijk_to_ras(image: sitk.Image) -> np.ndarray:
    """IJK->RAS 4x4 of a SimpleITK image (whose geometry is LPS)."""
    direction_lps = np.array(image.GetDirection(), float).reshape(3, 3)
    origin_lps = np.array(image.GetOrigin(), float)
    return ijk_to_ras_from_geometry(LPS_TO_RAS @ origin_lps, image.GetSpacing(), LPS_TO_RAS @ direction_lps)


def _read_dicom_series(folder: str) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    series_ids = reader.GetGDCMSeriesIDs(folder)
    if not series_ids:
        subfolders = any(entry.is_dir() for entry in os.scandir(folder))
        raise CTOPlaqueInputError(f"no DICOM series found in folder {folder}" + (
            " (its subfolders are not searched: give the folder that holds the CCTA series' files)" if subfolders
            else ""))
    if len(series_ids) > 1:
        raise CTOPlaqueInputError(
            f"folder {folder} holds {len(series_ids)} DICOM series; point to a folder with the CCTA series only")
    files = reader.GetGDCMSeriesFileNames(folder, series_ids[0])
    check_pixel_spacing(files[0])
    check_slice_geometry(files)
    reader.SetFileNames(files)
    return reader.Execute()


def _slice_header(path: str) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Image Position (Patient), the two Image Orientation (Patient) direction cosines and the (columns, rows) of
    one file."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()
    position = np.array(reader.GetMetaData("0020|0032").split("\\"), float)
    orientation = np.array(reader.GetMetaData("0020|0037").split("\\"), float)
    return position, orientation, tuple(reader.GetSize()[:2])


def _check_slices_alike(files, headers) -> None:
    """Every slice of a series must have the first one's matrix and orientation: another is a localizer or a
    second reconstruction filed under the same Series Instance UID, which ITK cannot stack (or stacks wrongly)."""
    _, orientation, size = headers[0]
    for number, (path, (_, other_orientation, other_size)) in enumerate(zip(files, headers), start=1):
        if other_size != size or not np.allclose(other_orientation, orientation, atol=1e-4):
            raise CTOPlaqueInputError(
                f"DICOM slice {number} ({os.path.basename(path)}) differs from slice 1 in "
                + ("matrix size" if other_size != size else "orientation")
                + ": a localizer or another reconstruction in the series; remove it or export the CCTA series alone")


def _check_no_duplicate_positions(files, along_normal_mm: np.ndarray, tolerance_mm: float) -> None:
    """Two slices at one position (a slice exported twice, or two reconstructions of one series) are an error
    naming them: stacked, they would lengthen the volume by one slice per copy."""
    order = np.argsort(along_normal_mm, kind="stable")
    same = np.flatnonzero(np.diff(along_normal_mm[order]) <= tolerance_mm)
    if len(same):
        first, second = sorted(order[same[0]:same[0] + 2])
        raise CTOPlaqueInputError(
            f"DICOM slices {first + 1} and {second + 1} ({os.path.basename(files[first])}, "
            f"{os.path.basename(files[second])}) lie at the same position: remove the duplicated slice")


def check_pixel_spacing(path: str) -> None:
    """A CT slice must state its Pixel Spacing (0028,0030, Type 1): without it ITK takes 1 mm, and every
    distance, area and volume would be off by the true spacing's factor."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()
    if not reader.HasMetaDataKey("0028|0030") or not reader.GetMetaData("0028|0030").strip():
        raise CTOPlaqueInputError(f"the DICOM slice {os.path.basename(path)} has no Pixel Spacing (0028,0030): "
                                  "distances and volumes cannot be measured; export the series with it")


def check_slice_geometry(files, tolerance_mm: float = 0.01) -> None:
    """A DICOM series must be a regular stack before it is read as a volume: SimpleITK takes the first
    two slices' distance for all of them and the slice normal for the stacking direction, so uneven
    spacing, a missing slice or a gantry tilt would silently distort every distance and volume.

    files: the series' files in ITK's order. Errors name the problem and the slice numbers."""
    if len(files) < 3:
        return
    headers = [_slice_header(path) for path in files]
    if any(len(position) != 3 or len(orientation) != 6 for position, orientation, _ in headers):
        raise CTOPlaqueInputError("DICOM series without Image Position/Orientation (Patient) in every slice")
    _check_slices_alike(files, headers)
    orientation = headers[0][1]
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([position for position, _, _ in headers])
    _check_no_duplicate_positions(files, positions @ normal, tolerance_mm)
    steps = np.diff(positions, axis=0)
    along = steps @ normal
    across = np.linalg.norm(steps - along[:, None] * normal, axis=1)
    if np.max(across) > tolerance_mm:
        raise CTOPlaqueInputError(
            f"the DICOM slices are shifted sideways by up to {np.max(across):.2f} mm from one to the next "
            "(gantry tilt or a sheared stack); resample the series to an orthogonal grid first")
    spacing = float(np.median(along))
    uneven = np.flatnonzero(np.abs(along - spacing) > max(tolerance_mm, 0.01 * abs(spacing)))
    if len(uneven):
        first = int(uneven[0])
        missing = round(along[first] / spacing) - 1 if spacing else 0
        problem = (f"{missing} slice(s) missing" if missing >= 1 and abs(along[first] - (missing + 1) * spacing)
                   <= max(tolerance_mm, 0.01 * abs(spacing)) else "uneven slice spacing")
        raise CTOPlaqueInputError(
            f"DICOM series with {problem}: {along[first]:.3f} mm between slices {first + 1} and {first + 2} "
            f"against {spacing:.3f} mm elsewhere; use the complete, evenly spaced series")


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
    if min(image.GetSize()) < MIN_VOXELS_PER_AXIS:
        raise CTOPlaqueInputError(
            f"{path} is {' x '.join(str(n) for n in image.GetSize())} voxels: a CCTA volume is needed, not a single "
            f"slice or a few (its slice spacing is unknown, and the filters need {MIN_VOXELS_PER_AXIS} voxels "
            "along each axis)")
    return Volume(hu=hu_of_image(image), ijk_to_ras=sitk_ijk_to_ras(image))


# Array types whose every value int16 holds exactly.
INT16_TYPES = (np.int8, np.uint8, np.int16)


def hu_array(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` (HU [k, j, i]) as ``Volume.hu`` holds them: int16 for integers that int16 holds
    (``INT16_TYPES``), else float32 (rescaled DICOM with a fractional slope, float files, wider integer types)."""
    return values.astype(_hu_dtype(values))


def _hu_dtype(values: np.ndarray):
    return np.int16 if values.dtype in INT16_TYPES else np.float32


class _ImageBuffer:
    """A SimpleITK image's pixel buffer through NumPy's array interface: an array made from it is writable and keeps
    the image (its buffer's owner) alive for as long as the array lives."""

    def __init__(self, image: sitk.Image, view: np.ndarray):
        """view: sitk.GetArrayViewFromImage(image) (read-only; the buffer is the image's alone after its
        MakeUnique)."""
        self.image = image
        address, _ = view.__array_interface__["data"]
        self.__array_interface__ = {**view.__array_interface__, "data": (address, False)}  # False: not read-only


def hu_of_image(image: sitk.Image) -> np.ndarray:
    """``Volume.hu`` of a SimpleITK image just read: ITK's own buffer where it already holds the type ``hu_array``
    gives (int16, float32), no copy (a 512 x 512 x 300 copy took 0.3 s, most of it the fresh allocation's page
    faults); else ``hu_array``'s copy. Either way a writable array [k, j, i] that nothing else shares."""
    values = sitk.GetArrayViewFromImage(image)
    return np.asarray(_ImageBuffer(image, values)) if values.dtype == _hu_dtype(values) else hu_array(values)


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


def check_values_present(hu: np.ndarray, where: str) -> None:
    """An error when ``hu`` (voxels or samples of the region analysed) holds NaN: a missing value has no HU
    class (sorted past every bound it would read as dense calcium) and spreads through every filter."""
    missing = int(np.count_nonzero(np.isnan(hu)))
    if missing:
        raise CTOPlaqueInputError(
            f"the volume has no value (NaN) at {missing} samples {where}; fill the missing voxels "
            "(or use a series whose field of view covers the vessel)")
