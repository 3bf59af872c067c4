"""The epicardial fat level (contours.fat_level_hu), the reference of the outer-wall edge test, against the fat HU
the phantom was written with.

A small noise-free phantom (the default curved vessel with its myocardium below and vein above, 8 mm proximal,
14 mm occlusion, 8 mm distal, fat -110 HU) is given noise by the test itself: independent per voxel ("white"), or
white noise low-pass filtered by a Gaussian of phantom.NOISE_TEXTURE_SIGMA_MM and rescaled to the SD ("textured",
as CT reconstruction correlates neighbouring voxels). It is sampled on the true centerline with the analysis's
polar grid. Under textured noise part of the error is the partial volume of the wall, myocardium and vein
within the noise's width of the fat, which the dark flank of the peak does not separate (docs/accuracy.md).
"""

import numpy as np
import pytest
from conftest import generated_phantom
from scipy import ndimage

from CTOPlaqueLib.analysis import AnalysisSettings
from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.contours import fat_level_hu
from CTOPlaqueLib.crosssection import sample_sections
from CTOPlaqueLib.phantom import NOISE_TEXTURE_SIGMA_MM, PhantomSpec
from CTOPlaqueLib.volume_io import Volume

FAT_HU = -110.0
SPEC = PhantomSpec(proximal_mm=8.0, occlusion_length_mm=14.0, distal_mm=8.0, noise_sd_hu=0.0, fat_hu=FAT_HU)
NOISE_SD_HU = 55.0


def _fat_level(volume: Volume, centerline_ras: np.ndarray) -> float:
    """fat_level_hu of the sections along ``centerline_ras`` on the analysis's polar grid and section step."""
    settings = AnalysisSettings()
    grid = settings.grid()
    samples = sample_sections(volume, sample_centerline(centerline_ras, settings.step_mm), grid, order=1)
    return fat_level_hu(samples, grid, settings.contour)


def _fat_level_with_noise(texture: str, seed: int) -> float:
    """fat_level_hu of the noise-free phantom plus ``texture`` noise of NOISE_SD_HU (``seed``), on its true
    centerline."""
    phantom = generated_phantom(SPEC)
    noise = np.random.default_rng(seed).normal(0.0, 1.0, phantom.hu.shape)
    if texture == "textured":
        noise = ndimage.gaussian_filter(noise, NOISE_TEXTURE_SIGMA_MM / np.asarray(SPEC.spacing_mm)[::-1], mode="wrap")
        noise /= noise.std()
    volume = Volume(np.round(phantom.hu + NOISE_SD_HU * noise).astype(np.float32), phantom.ijk_to_ras)
    return _fat_level(volume, phantom.centerline_ras)


def test_noise_free_fat_level_is_the_fat():
    """Without noise the dark peak lies just above the fat's own HU: the averaging over 4 mm of arc and 20 sections
    mixes the blur tails of the wall, myocardium and vein into the fat beside them (measured -106.25 HU; the
    former mode -107.5)."""
    phantom = generated_phantom(SPEC)
    level_hu = _fat_level(Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras), phantom.centerline_ras)
    assert FAT_HU <= level_hu <= FAT_HU + 5.0


def test_fat_level_under_white_noise_within_4_hu():
    """Averaged over 20 sections and 4 mm of arc, white noise of 55 HU leaves a narrow fat peak: measured
    +2.4..+3.4 HU over these 3 seeds (the former 5 HU histogram mode: +7.5 on each)."""
    errors = [_fat_level_with_noise("white", seed) - FAT_HU for seed in range(3)]
    assert max(map(abs, errors)) <= 4.0, errors


def test_fat_level_under_textured_noise_is_biased_by_at_most_15_hu_and_spreads_less_than_8():
    """Textured noise of 55 HU, 5 seeds: mean error +12.1 HU, standard deviation 6.1 HU measured (the former mode
    +16.5 HU and 9.6 HU: it fails both)."""
    errors = np.array([_fat_level_with_noise("textured", seed) - FAT_HU for seed in range(1000, 1005)])
    assert abs(errors.mean()) <= 15.0, errors
    assert errors.std(ddof=1) <= 8.0, errors


def test_fat_level_holds_when_the_centerline_moves_a_few_tenths_of_a_millimetre():
    """The issue's case (test_outer_wall_sweep.py's ct-noise55-fat-110: textured noise 55 HU, fat -110 HU): a
    0.1-0.3 mm move of the two-seed centerline moved the former mode from -97.5 to -82.5 HU and the outer wall
    closed in. The true centerline moved by 0.1, 0.2, 0.3 mm along each axis and by -0.3 mm: the fat level within
    3 HU of the unmoved one (measured within 1.8 HU, -92.4..-94.9 HU; the mode -87.5..-102.5 HU)."""
    phantom = generated_phantom(PhantomSpec(proximal_mm=8.0, occlusion_length_mm=14.0, distal_mm=8.0, seed=41,
                                            noise_texture="ct", noise_sd_hu=55.0, fat_hu=FAT_HU))
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    unmoved_hu = _fat_level(volume, phantom.centerline_ras)
    for shift_mm in (0.1, 0.2, 0.3, -0.3):
        for axis in np.eye(3):
            moved_hu = _fat_level(volume, phantom.centerline_ras + shift_mm * axis)
            assert moved_hu == pytest.approx(unmoved_hu, abs=3.0), (shift_mm, axis)
