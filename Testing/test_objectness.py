"""The tube measure's objectness (objectness.py) against ITK's (SimpleITK ObjectnessMeasure), an independent
implementation of the same measure, and its eigenvalues against LAPACK's."""

import numpy as np
import SimpleITK as sitk

from CTOPlaqueLib.objectness import bright_tube_objectness, symmetric_eigenvalues

SPACING_KJI = (0.5, 0.45, 0.4)


def _tube_and_plate_kji() -> np.ndarray:
    """A 30 x 36 x 40 image (indexed [k, j, i], voxels SPACING_KJI mm) of -100 HU fat holding a 250 HU tube of 1.2 mm
    radius running obliquely and a 100 HU plate 2 mm thick, with 20 HU white noise."""
    k, j, i = np.meshgrid(*(np.arange(n) * s for n, s in zip((30, 36, 40), SPACING_KJI)), indexing="ij")
    point = np.stack([k - 7.5, j - 8.0, i - 8.0], axis=-1)
    axis = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    radial_mm = np.linalg.norm(point - (point @ axis)[..., None] * axis, axis=-1)
    image = np.full(k.shape, -100.0)
    image[np.abs(j - 12.0) < 1.0] = 100.0
    image[radial_mm < 1.2] = 250.0
    return (image + np.random.default_rng(5).normal(0.0, 20.0, image.shape)).astype(np.float32)


def test_objectness_matches_itk_at_each_scale():
    """At sigma 0.8, 1.2 and 1.8 mm (the tube measure's scales) on the smoothed, scale-normalised image: within 1e-4
    of ITK's largest value everywhere (both take float32 Hessians), zero (no tube) at the same voxels but for a few
    where two eigenvalues are equal to rounding, and the tube scores far above the plate."""
    image = sitk.GetImageFromArray(_tube_and_plate_kji())
    image.SetSpacing(SPACING_KJI[::-1])
    for sigma_mm in (0.8, 1.2, 1.8):
        smoothed = sitk.SmoothingRecursiveGaussian(image, sigma_mm) * sigma_mm ** 2
        expected = sitk.GetArrayFromImage(sitk.ObjectnessMeasure(smoothed, objectDimension=1, brightObject=True))
        measured = bright_tube_objectness(sitk.GetArrayFromImage(smoothed), SPACING_KJI)
        assert measured.dtype == np.float32 and measured.shape == expected.shape
        assert np.max(np.abs(measured - expected)) <= 1e-4 * expected.max()
        assert np.count_nonzero((measured > 0) != (expected > 0)) <= 1e-3 * expected.size
        assert measured[15, 18, 20] > 0.5 * measured.max()  # on the tube's axis
        assert measured[15, 26, 36] < 0.05 * measured.max()  # on the plate, away from the tube


def test_closed_form_eigenvalues_match_lapack():
    """Random symmetric matrices: largest, middle and smallest eigenvalue within 1e-12 of numpy.linalg.eigvalsh's
    (relative to the matrix's largest eigenvalue magnitude); matrices with two equal eigenvalues, where the closed
    form loses half the digits, within 1e-7."""
    rng = np.random.default_rng(3)
    matrices = rng.normal(size=(2000, 3, 3))
    matrices = matrices + np.swapaxes(matrices, 1, 2)
    rotations = np.linalg.qr(rng.normal(size=(200, 3, 3)))[0]
    matrices[:200] = rotations @ np.diag([2.0, -1.0, -1.0]) @ np.swapaxes(rotations, 1, 2)
    entries = tuple(matrices[:, a, b] for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)))
    expected = np.linalg.eigvalsh(matrices)[:, ::-1]
    measured = np.stack(symmetric_eigenvalues(entries), axis=1)
    error = np.abs(measured - expected) / np.max(np.abs(expected), axis=1, keepdims=True)
    assert np.max(error[200:]) < 1e-12
    assert np.max(error[:200]) < 1e-7
