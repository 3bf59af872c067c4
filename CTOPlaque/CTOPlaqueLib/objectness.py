"""Frangi's Hessian objectness of bright tubes (1-D objects in 3-D), on numpy arrays.

The measure of ITK's HessianToObjectnessMeasureImageFilter as SimpleITK's ObjectnessMeasure applies it (Antiga,
Insight Journal 2007, after Frangi et al., MICCAI 1998; alpha = beta = 0.5, gamma = 5, scaled by the largest
eigenvalue magnitude, bright objects), written out with closed-form eigenvalues in float32, computed only where
the Hessian's trace is negative (as it is in every bright tube): three to four times faster than ITK's per-voxel
eigen-solver on a crop around a coronary artery, and within 5e-5 of ITK's largest value on the bench crops
(Testing/test_objectness.py compares the two; ITK's Hessian is float32 as well).
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.5
BETA = 0.5
GAMMA = 5.0


def hessian_kji(image: np.ndarray, spacing_kji) -> tuple:
    """Second derivatives (d2/dk2, d2/dj2, d2/di2, d2/dkdj, d2/dkdi, d2/djdi) of ``image`` (indexed [k, j, i],
    float32) per mm^2: central differences on the voxel grid of ``spacing_kji`` (mm), the border voxel repeated
    outside."""
    padded = np.pad(image.astype(np.float32, copy=False), 1, mode="edge")
    shape = image.shape

    def shifted(offset) -> np.ndarray:
        return padded[tuple(slice(1 + o, 1 + o + n) for o, n in zip(offset, shape))]

    unit = np.eye(3, dtype=int)
    twice_centre = 2.0 * shifted((0, 0, 0))
    pure = [(shifted(unit[a]) + shifted(-unit[a]) - twice_centre) / np.float32(spacing_kji[a] ** 2) for a in range(3)]
    mixed = [(shifted(unit[a] + unit[b]) - shifted(unit[a] - unit[b]) - shifted(unit[b] - unit[a])
              + shifted(-unit[a] - unit[b])) / np.float32(4.0 * spacing_kji[a] * spacing_kji[b])
             for a, b in ((0, 1), (0, 2), (1, 2))]
    return (*pure, *mixed)


def symmetric_eigenvalues(hessian: tuple) -> tuple:
    """Eigenvalues (largest, middle, smallest) of the symmetric 3x3 matrices given by their six entries
    (a11, a22, a33, a12, a13, a23; arrays of one shape): the trigonometric closed form (Smith, Commun ACM 1961)."""
    a11, a22, a33, a12, a13, a23 = hessian
    mean = (a11 + a22 + a33) / 3.0
    b11, b22, b33 = a11 - mean, a22 - mean, a33 - mean
    spread = np.sqrt((b11 * b11 + b22 * b22 + b33 * b33 + 2.0 * (a12 * a12 + a13 * a13 + a23 * a23)) / 6.0)
    determinant = b11 * (b22 * b33 - a23 * a23) - a12 * (a12 * b33 - a23 * a13) + a13 * (a12 * a23 - b22 * a13)
    with np.errstate(invalid="ignore", divide="ignore"):
        half_cosine = determinant / (2.0 * spread ** 3)
    angle = np.arccos(np.clip(np.nan_to_num(half_cosine, copy=False), -1.0, 1.0)) / 3.0
    largest = mean + 2.0 * spread * np.cos(angle)
    smallest = mean + 2.0 * spread * np.cos(angle + 2.0 * np.pi / 3.0)
    return largest, 3.0 * mean - largest - smallest, smallest


def bright_tube_objectness(image: np.ndarray, spacing_kji) -> np.ndarray:
    """Objectness of bright tubes at every voxel of ``image`` (indexed [k, j, i], voxel size ``spacing_kji`` mm),
    float32, >= 0. With the eigenvalues ordered by magnitude |l1| <= |l2| <= |l3|: 0 unless l2 and l3 are < 0 (a
    bright ridge across two directions), else (1 - exp(-Ra^2 / 2 alpha^2)) exp(-Rb^2 / 2 beta^2)
    (1 - exp(-S^2 / 2 gamma^2)) |l3| with Ra = |l2| / |l3| (a tube, not a plate), Rb = |l1| / sqrt(|l2 l3|) (not a
    blob) and S^2 the sum of the squared eigenvalues (structure, not noise). ``image`` is usually smoothed at the
    tube's scale and multiplied by the scale squared (scale-normalised derivatives)."""
    hessian = hessian_kji(image, spacing_kji)
    # a bright tube's trace l1 + l2 + l3 <= |l1| - |l2| - |l3| is negative: the eigenvalues are needed there only
    candidates = hessian[0] + hessian[1] + hessian[2] < 0.0
    first, second, third = symmetric_eigenvalues(tuple(entry[candidates] for entry in hessian))
    del hessian
    # first >= second >= third: a bright tube has second and third < 0, and first the smallest in magnitude
    tube = (second < 0.0) & (np.abs(first) <= -second)
    l1, l2, l3 = np.abs(first), -second, -third
    with np.errstate(all="ignore"):  # outside tubes (set to 0 below) l2 may be <= 0
        plate_term = 1.0 - np.exp(-0.5 * (l2 / l3) ** 2 / ALPHA ** 2)
        blob_term = np.exp(-0.5 * l1 * l1 / (l2 * l3) / BETA ** 2)
        structure_term = 1.0 - np.exp(-0.5 * (l1 * l1 + l2 * l2 + l3 * l3) / GAMMA ** 2)
        measure = plate_term * blob_term * structure_term * l3
    objectness = np.zeros(image.shape, np.float32)
    objectness[candidates] = np.where(tube, measure, 0.0)
    return objectness
