"""Lumen and outer vessel-wall contours in polar cross-sections.

Each contour is a radius per (section, angle), in millimetres from the centerline.

Method, and why (outer wall). A CT scanner blurs the step between wall (30..1000 HU) and
epicardial fat (about -100 HU) with a roughly Gaussian point-spread function. A fixed cut such as
-30 HU then lies where the blurred profile has fallen almost to fat, about one blur sigma outside
the true edge, and inflates the area by tens of percent in a 2 mm radius vessel. The true edge of a
blurred step is its inflection point, where the intensity falls fastest, whatever the wall's HU.
So, along each ray:
  1. the edge strength is the radial intensity decrease, -dI/dr, of the profile smoothed with a
     0.1 mm Gaussian derivative, kept only at its local maxima along the ray;
  2. a position qualifies as the wall/fat edge only if the profile 0.3..0.7 mm (about one to two blur
     sigmas) outside it is on average fat, rises to tissue within 0.5 mm inside it, and lies before
     the ray re-enters tissue after fat; "fat" and "tissue" are relative to the epicardial fat
     measured around the vessel (``fat_level_hu``; -30 and 20 HU for fat at -100 HU). This rejects the
     lumen/wall edge, the wall/myocardium contact (no fat in between), the far edge of a neighbouring
     contrast-filled structure, and the ripples of noise out in the fat. In the occlusion the fat cut is
     raised by the blur tail of a wall brighter than the reference tissue (``_fat_beyond``), with the
     scanner's blur measured first on a quarter of the sections: a 200..1000 HU wall under a 0.5 mm blur
     still lifts that band above the plain cut at its true edge;
  3. the contour is the closed path around the section that maximizes the summed edge strength,
     with a bounded radius change per angle step (dynamic programming on the polar image, the
     optimal-path approach of IVUS and CT border detection). Where no edge qualifies, e.g. against
     the myocardium, the path bridges smoothly from its neighbours instead of leaking;
  4. the radii are refined to sub-sample precision (in the occlusion, on a fat edge, by fitting a blurred
     step with the measured blur, ``fitted_step_radii_mm``; elsewhere by a parabola through the peak) and
     smoothed along the vessel.
Rays whose path point is such a qualified edge are "on a fat edge" (``WallContour.fat_edge``); the
others were bridged. In a normal segment the wall (0.3..0.5 mm in health) is thinner than the blur
can resolve: where fewer than a quarter of the rays of the sections with a lumen around a section
find a fat edge, its outer wall falls back to the lumen plus NORMAL_WALL_MM, and the section is
marked unresolved.
The lumen contour is found the same way, as the steepest fall from contrast (the profile inside
still at least 60% of the section's central lumen intensity, and not calcium); where a wall brighter than
the fat lines the lumen, the wall's own fall to fat is first recognised and subtracted (``detect_lumen``).
Both contours are finally moved out by the inward shift of the steepest slope of a Gaussian-blurred disc
(``blur_corrected_mm``: exact, about sigma^2 / (2 r) for a wide one), with the scanner's blur sigma measured on the
edges themselves: for the outer wall on the mean profile across the plaque's fat edges (``profile_blur_sigma_mm``),
for the lumen on its peak slopes averaged over neighbouring rays and sections (``_averaged_edge_blur_sigma_mm``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace

import numpy as np
from scipy import ndimage, optimize, special

from .crosssection import PolarGrid

# Epicardial fat assumed where a scan shows too little of it to measure (the phantoms' and a typical CCTA's fat).
NOMINAL_FAT_HU = -100.0
# Outer wall assumed where a normal segment's wall cannot be resolved: healthy coronary intima-media is
# under 0.5 mm by IVUS (the ACC/ESC IVUS consensus takes >= 0.5 mm as plaque), so 0.4 mm.
NORMAL_WALL_MM = 0.4
# A section with a lumen whose outer wall is on a fat edge along fewer rays than this (averaged over
# 1 mm of vessel) is unresolved. On the phantoms, 0.4 mm walls put 1..34% of rays on a fat edge
# (10th..90th percentile), resolved 1.1 mm walls 31..71%, under 0.35..0.5 mm blur and 20..35 HU noise.
MIN_RESOLVED_RAY_FRACTION = 0.25
# A section needs this fraction of its outer-wall rays on a fat edge for its other rays to be placed at their mean.
MIN_FIT_FAT_EDGE_FRACTION = 0.3
RESOLUTION_WINDOW_MM = 1.0
# The narrowest ring lumen_present looks for a lumen's edge in (the fall is looked for from 0.6 mm out).
MIN_LUMEN_RING_MM = 1.2
# The percentile of the central HU of a vessel's lumen sections taken as its contrast (``_as_bright_as_contrast``).
CONTRAST_LEVEL_PERCENTILE = 90.0
# Contour points needed to measure the blur on their mean profile (a few sections' worth of rays).
MIN_PROFILE_RAYS = 200
# Rays on a bright wall's fall to fat needed to fit its blur (about two sections' worth).
MIN_WALL_STEP_RAYS = 100
# Every how many sections the blur is measured on before the outer wall's fat test is scaled with it.
PROBE_SECTION_STRIDE = 4
# How far inside a bright wall's fall to fat the lumen edge is looked for, in that fall's blur sigmas: the lumen edge
# of a 1.1 mm lining under a 0.5 mm blur lies 2.2 sigmas inside it, and 2 sigmas cut its slope peak off (rays read
# 0.3 mm inside the true edge); within 1.5 sigmas the residue of the subtracted fall made peaks of its own.
LUMEN_WALL_GAP_SIGMAS = 1.75
# The fat level's peak fit (``_dark_peak_centre_hu``): histogram bin, fitted bins either side of the peak in its
# standard deviations, and refinements.
FAT_PEAK_BIN_HU = 2.5
FAT_PEAK_BELOW_SD = 2.5
FAT_PEAK_ABOVE_SD = 0.5
FAT_PEAK_FITS = 3
# The half-normal's median in its standard deviations: the dark flank of a noise peak (the fat's) read as its SD.
HALF_NORMAL_MEDIAN_SD = 0.6745
# Epicardial fat never reads below this in CCTA: the fat level is looked for above it, and the noise read off the
# fat's dark flank (quality.image_noise_sd_hu) counts no sample below it (air, or a section's samples outside the
# volume at OUTSIDE_VOLUME_HU).
FAT_SEARCH_MIN_HU = -250.0
# Radial spacing of the ring samples the fat level is read from: closer samples are the same noise (CT noise is
# correlated over about half a millimetre) and cost time.
FAT_RING_STEP_MM = 0.15
# Edge centres tried across step_fit_shift_mm either side of a chosen edge (0.025 mm apart by default).
STEP_FIT_CENTRES = 25


@dataclass
class ContourParameters:
    """Tuning of contour detection (millimetres and HU)."""

    profile_sigma_mm: float = 0.1
    step_fit_mm: float = 0.6
    bright_wall_step_fit_inside_mm: float = 0.2
    bright_wall_step_fit_outside_mm: float = 0.8
    layered_wall_min_hu: float = 125.0
    step_fit_shift_mm: float = 0.3
    fat_probe_near_mm: float = 0.3
    fat_probe_far_mm: float = 0.7
    tissue_reference_hu: float = 100.0
    fat_cut_fraction: float = 0.35
    tissue_fraction: float = 0.6
    reentry_fraction: float = 0.5
    fat_ring_mm: float = 1.5
    fat_search_max_hu: float = 0.0
    min_fat_fraction: float = 0.1
    fat_smoothing_sections: int = 20
    fat_smoothing_arc_mm: float = 4.0
    tissue_probe_mm: float = 0.5
    normal_wall_mm: float = NORMAL_WALL_MM
    lumen_min_hu: float = 150.0
    lumen_contrast_fraction: float = 0.3
    lumen_lining_fraction: float = 0.2
    lumen_ring_mm: float = 2.2
    lumen_ring_margin_mm: float = 0.5
    lumen_wall_mm: float = 0.6
    lumen_ray_fraction: float = 0.75
    lumen_probe_mm: float = 0.3
    lumen_fraction: float = 0.6
    lumen_calcium_fraction: float = 0.25
    lumen_wall_probe_mm: float = 0.7
    lumen_wall_fraction: float = 0.12
    lumen_wall_ray_fraction: float = 0.5
    lumen_decision_rays: int = 9
    lumen_decision_sections: int = 3
    lumen_contrast_level_fraction: float = 0.7
    lumen_contrast_min_hu: float = 250.0
    min_wall_mm: float = 0.3
    peak_window_mm: float = 0.15
    step_probe_mm: float = 0.8
    max_blur_sigma_mm: float = 0.8
    max_slope_mm_per_rad: float = 1.5
    jump_penalty: float = 0.02
    along_vessel_sigma_mm: float = 0.5


def _mirrored_band_means(values: np.ndarray, near: int, far: int) -> tuple[np.ndarray, np.ndarray]:
    """For every r, the means of values[..., r + near .. r + far] (beyond) and values[..., r - far .. r - near]
    (inside), edge-padded; 0 <= near <= far. One running sum serves both."""
    padded = np.concatenate([np.repeat(values[..., :1], far, axis=-1), values,
                             np.repeat(values[..., -1:], far, axis=-1)], axis=-1)
    cumulative = np.zeros(values.shape[:-1] + (padded.shape[-1] + 1,), values.dtype)
    np.cumsum(padded, axis=-1, out=cumulative[..., 1:])
    count = values.shape[-1]

    def band(first: int) -> np.ndarray:
        start = far + first
        return (cumulative[..., start + far - near + 1: start + far - near + 1 + count]
                - cumulative[..., start: start + count]) / (far - near + 1)

    return band(near), band(-far)


def _shift_inward(values: np.ndarray, count: int) -> np.ndarray:
    """values[..., r - count] (edge-padded)."""
    if count == 0:
        return values
    padded = np.concatenate([np.repeat(values[..., :1], count, axis=-1), values], axis=-1)
    return padded[..., :values.shape[-1]]


# Sections whose closed paths are found together (optimal_closed_path).
DP_CHUNK_SECTIONS = 256


def optimal_closed_path(score: np.ndarray, max_jump: int, jump_penalty: float) -> np.ndarray:
    """Radius index per angle maximizing the summed score of a closed path, for every section.

    score: (S, A, R). Between neighbouring angles the index changes by at most ``max_jump`` (at least 1), each
    unit of change costing ``jump_penalty``. Closure is enforced approximately by running the
    dynamic programme over three turns and keeping the middle one.
    Returns (S, A) integer indices.

    The best sums of every turn step are kept ((3A, R + 2 max_jump, S) floats, -inf beyond the radii; sections
    last, so that each shift reads one contiguous block) and the path is traced back by re-evaluating the
    2 max_jump + 1 predecessors of its index only: one maximum per shift in the forward pass instead of keeping
    back pointers, and back to the middle turn's first step only. On ties the predecessor nearest the centre wins.
    The shifts +k and -k cost the same, so the forward pass subtracts that cost once from the larger of their two
    sums (the same number: rounding keeps the order of what it rounds). Sections are solved DP_CHUNK_SECTIONS at a
    time (each is independent), which bounds those sums to about 40 MB.
    """
    if max_jump < 1:
        raise ValueError(f"the closed path's largest radius change per angle must be at least 1 sample, not {max_jump}")
    return np.concatenate([_closed_paths_of(score[start:start + DP_CHUNK_SECTIONS], max_jump, jump_penalty)
                           for start in range(0, len(score), DP_CHUNK_SECTIONS)])


def _closed_paths_of(score: np.ndarray, max_jump: int, jump_penalty: float) -> np.ndarray:
    """``optimal_closed_path`` of a few sections at once."""
    sections, angles, radii = score.shape
    turns = 3 * angles
    steps = np.ascontiguousarray(score.transpose(1, 2, 0))
    shifts = np.arange(-max_jump, max_jump + 1)
    penalties = jump_penalty * np.abs(shifts)
    accumulated = np.empty((turns, radii + 2 * max_jump, sections))
    accumulated[:, :max_jump] = accumulated[:, max_jump + radii:] = -np.inf
    inner = slice(max_jump, max_jump + radii)
    accumulated[0, inner] = steps[0]
    candidate = np.empty((radii, sections))
    for step in range(1, turns):
        previous, best = accumulated[step - 1], accumulated[step, inner]
        for jump in range(1, max_jump + 1):
            np.maximum(previous[max_jump - jump:max_jump - jump + radii],
                       previous[max_jump + jump:max_jump + jump + radii], out=candidate)
            candidate -= penalties[max_jump + jump]
            np.maximum(previous[inner] if jump == 1 else best, candidate, out=best)
        best += steps[step % angles]
    columns = np.arange(sections)[:, None]
    path = np.empty((sections, turns), np.int64)
    path[:, -1] = np.argmax(accumulated[-1, inner], axis=0)
    for step in range(turns - 1, angles, -1):
        predecessors = accumulated[step - 1][path[:, step, None] + np.arange(len(shifts)), columns] - penalties
        path[:, step - 1] = path[:, step] + shifts[np.argmax(predecessors, axis=1)]
    return path[:, angles:2 * angles]


def _subsample_peak(strength: np.ndarray, index: np.ndarray, grid: PolarGrid) -> np.ndarray:
    """Radius (mm) of the strength peak near ``index``, refined by a parabola through three samples."""
    last = strength.shape[-1] - 1
    centre = np.clip(index, 1, last - 1)
    left = np.take_along_axis(strength, (centre - 1)[..., None], axis=-1)[..., 0]
    mid = np.take_along_axis(strength, centre[..., None], axis=-1)[..., 0]
    right = np.take_along_axis(strength, (centre + 1)[..., None], axis=-1)[..., 0]
    curvature = left - 2.0 * mid + right
    is_peak = (curvature < 0) & (mid >= left) & (mid >= right)
    offset = np.where(is_peak, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    return grid.radii_mm[0] + (np.where(is_peak, centre, index) + np.clip(offset, -0.5, 0.5)) * grid.radial_step_mm


def _smooth_along_vessel(radii_mm: np.ndarray, valid: np.ndarray, sigma_sections: float) -> np.ndarray:
    """Median (5 sections) then Gaussian smoothing along the vessel, over valid sections only."""
    if sigma_sections <= 0 or not np.any(valid):
        return radii_mm
    median = radii_mm.copy()
    median[valid] = ndimage.median_filter(radii_mm[valid], size=(5, 1), mode="nearest")
    weights = valid.astype(float)[:, None] * np.ones(radii_mm.shape[1])
    numerator = ndimage.gaussian_filter1d(np.where(valid[:, None], median, 0.0), sigma_sections, axis=0,
                                          mode="nearest")
    denominator = ndimage.gaussian_filter1d(weights, sigma_sections, axis=0, mode="nearest")
    smoothed = np.where(denominator > 1e-6, numerator / np.maximum(denominator, 1e-6), median)
    return np.where(valid[:, None], smoothed, radii_mm)


def _profile_and_strength(samples_hu: np.ndarray, grid: PolarGrid, params: ContourParameters):
    sigma = params.profile_sigma_mm / grid.radial_step_mm
    smooth = ndimage.gaussian_filter1d(samples_hu, sigma, axis=-1, mode="nearest")
    derivative = ndimage.gaussian_filter1d(samples_hu, sigma, axis=-1, order=1, mode="nearest")
    return smooth, np.maximum(-derivative / grid.radial_step_mm, 0.0)


def _peak_strength(strength: np.ndarray, grid: PolarGrid, params: ContourParameters) -> np.ndarray:
    """The edge strength at its local maxima along the ray (within +/- ``peak_window_mm``), 0 elsewhere: the flank
    of a strong neighbouring edge (lumen, calcium) is not an edge of its own."""
    window = 2 * int(round(params.peak_window_mm / grid.radial_step_mm)) + 1
    return np.where(strength >= ndimage.maximum_filter1d(strength, window, axis=-1, mode="nearest"), strength, 0.0)


@dataclass
class _ClosedPath:
    """A closed contour path (``_closed_contour``): radii_mm (S, A) of the steepest slope (before
    ``blur_corrected_mm``); on_edge (S, A), the path lies on an allowed edge (True) or bridges from its neighbours
    (False); index (S, A), its radius samples; edges (S, A, R), the edge strength of the allowed edges (0 elsewhere)."""

    radii_mm: np.ndarray
    on_edge: np.ndarray
    index: np.ndarray
    edges: np.ndarray

    def blur_sigma_mm(self, smooth: np.ndarray, grid: PolarGrid, params: ContourParameters) -> float:
        """The blur sigma (mm) measured on the path's peak slopes (``edge_blur_sigma_mm``; smooth: the profiles)."""
        return edge_blur_sigma_mm(smooth, self.edges, self.index, grid, params)


def _closed_contour(peak_strength: np.ndarray, allowed: np.ndarray, grid: PolarGrid,
                    params: ContourParameters) -> _ClosedPath:
    """Optimal closed path through the allowed edges, normalized per section. peak_strength: the edge strength at
    its local maxima along the ray (``_peak_strength``); allowed: (S, A, R) bool, the samples that may be the edge.
    The blur on the path's peak slopes is measured only where a caller needs it (``_ClosedPath.blur_sigma_mm``)."""
    masked = np.where(allowed, peak_strength, 0.0)
    ray_peaks = masked.max(axis=-1)
    scale = np.maximum(np.percentile(ray_peaks, 90, axis=1), 1e-6)[:, None, None]
    score = np.minimum(masked / scale, 1.5)
    max_jump = max(1, int(np.ceil(params.max_slope_mm_per_rad * grid.angle_step_rad / grid.radial_step_mm)))
    index = optimal_closed_path(score, max_jump, params.jump_penalty)
    on_edge = np.take_along_axis(masked, index[..., None], axis=-1)[..., 0] > 0
    return _ClosedPath(_subsample_peak(masked, index, grid), on_edge, index, masked)


def blurred_disc_steepest_radius_sigmas(radius_sigmas: float) -> float:
    """Where the intensity of a Gaussian-blurred disc falls fastest, in blur sigmas from its centre, for a disc of
    ``radius_sigmas`` (its radius in the same sigmas).

    A disc of radius R (value 1 inside, 0 outside) blurred by a 2D Gaussian of sigma s reads, at a distance rho from
    its centre, 1 - Q1(rho / s, R / s) (Q1: the Marcum Q function; the Rice distribution's integral), and its radial
    slope is -(R / s^2) exp(-(rho^2 + R^2) / (2 s^2)) I1(rho R / s^2). Setting the derivative of the slope's
    logarithm to zero gives, with a = rho / s, b = R / s and x = a b: a = b (I0(x) / I1(x) - 1 / x), solved here for
    a (scaled Bessel functions, so that large discs do not overflow). For a wide disc a = b - 1 / (2 b) to first
    order (the small-blur approximation sigma^2 / (2 r) inward); a disc narrower than about 1.2 sigmas has its
    steepest slope outside its edge, and every disc's lies at least one sigma out."""

    def balance(a: float) -> float:
        x = a * radius_sigmas
        return a - radius_sigmas * (special.ive(0, x) / special.ive(1, x) - 1.0 / x)

    return float(optimize.brentq(balance, 1e-9, radius_sigmas + 1.0, xtol=1e-12))


# The discs tabulated for ``blur_corrected_mm``: radii from 0.8 to 1000 blur sigmas, below which the steepest
# slope hardly moves with the radius (0.8 sigma: 1.09; 0.5 sigma: 1.03).
_DISC_RADII_SIGMAS = np.geomspace(0.8, 1000.0, 240)


@functools.cache
def _disc_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tabulated discs (``_DISC_RADII_SIGMAS``), each column increasing from an unblurred edge: sigma / their
    steepest-slope radius, sigma / their radius, and their radius / their steepest-slope radius (1 without blur)."""
    radius = np.concatenate([[np.inf], _DISC_RADII_SIGMAS[::-1]])
    steepest = np.concatenate([[np.inf], [blurred_disc_steepest_radius_sigmas(b) for b in _DISC_RADII_SIGMAS[::-1]]])
    return 1.0 / steepest, 1.0 / radius, np.concatenate([[1.0], radius[1:] / steepest[1:]])


def _scaled_radii_mm(radii_mm: np.ndarray, blur_sigma_mm: float, column: int) -> np.ndarray:
    """``radii_mm`` times the disc table's radius ratio, interpolated in sigma / radius along ``column`` (0: the radii
    are steepest-slope radii, 1: disc radii) and inverted for column 1; zero radii stay zero."""
    radii_mm = np.asarray(radii_mm, dtype=float)
    table = _disc_table()
    positive = radii_mm > 0
    ratio = np.interp(blur_sigma_mm / np.where(positive, radii_mm, 1.0), table[column], table[2])
    return np.where(positive, radii_mm * (ratio if column == 0 else 1.0 / ratio), 0.0)


def blur_corrected_mm(radii_mm: np.ndarray, blur_sigma_mm: float) -> np.ndarray:
    """The radii (mm) of the Gaussian-blurred discs (blur sigma ``blur_sigma_mm``) whose steepest slope lies at
    ``radii_mm``: the exact relation of ``blurred_disc_steepest_radius_sigmas``, inverted by linear interpolation in
    sigma / r over discs of 0.8 to 1000 sigmas (within 0.001 sigma of the exact disc). Zero radii (no contour) stay
    zero. A wide disc moves out by sigma^2 / (2 r) (1 to 4% of area); a disc 1.6 sigmas wide by 0.14 sigma, where
    that approximation gave 0.34 sigma (a 0.79 mm lumen under a 0.5 mm blur: 0.79 mm, not 0.89 mm); a steepest slope
    within 1.2 sigmas of the centre moves in. Below the table, where the steepest slope lies within 1.09 sigmas of
    the centre and hardly moves with the radius, the radius is taken in proportion (0.74 of it)."""
    return _scaled_radii_mm(radii_mm, blur_sigma_mm, 0)


def blurred_disc_steepest_mm(radii_mm: np.ndarray, blur_sigma_mm: float) -> np.ndarray:
    """Where the steepest slope of Gaussian-blurred discs of ``radii_mm`` (mm; blur sigma ``blur_sigma_mm``) lies, in
    mm from their centre: the inverse of ``blur_corrected_mm``, from the same table. Discs under 0.8 sigma, below
    the table, are scaled in proportion, which puts their steepest slope too near the centre (the exact relation
    never puts it within one sigma); the outer wall, the one caller, is 2 sigmas and wider."""
    return _scaled_radii_mm(radii_mm, blur_sigma_mm, 1)


def profiles_across_contour(samples_hu: np.ndarray, grid: PolarGrid, radii_mm: np.ndarray, rays: np.ndarray,
                            offsets_mm: np.ndarray) -> np.ndarray:
    """The profile of each chosen ray at ``offsets_mm`` from its contour point (positive outward), linearly
    interpolated along the ray: (rays, offsets). samples_hu: polar samples (S, A, R); radii_mm: (S, A) contour
    radii; rays: (S, A) bool. Rays whose profile would leave the grid are left out. Only the two samples either
    side of each offset are read (not every chosen ray's whole profile)."""
    count = samples_hu.shape[-1]
    position = (radii_mm[rays][:, None] + offsets_mm - grid.radii_mm[0]) / grid.radial_step_mm
    inside = np.all((position >= 0) & (position <= count - 1), axis=1)
    position = position[inside]
    low = np.clip(np.floor(position).astype(int), 0, count - 2)
    weight = position - low
    first = (np.flatnonzero(rays)[inside] * count)[:, None] + low
    flat = samples_hu.reshape(-1)
    return flat[first] * (1 - weight) + flat[first + 1] * weight


def profile_blur_sigma_mm(samples_hu: np.ndarray, grid: PolarGrid, radii_mm: np.ndarray, rays: np.ndarray,
                          params: ContourParameters = ContourParameters()) -> float | None:
    """Scanner blur (Gaussian sigma, mm) from the mean profile across the chosen contour points.

    samples_hu: polar samples (S, A, R); radii_mm: (S, A) contour radii; rays: (S, A) bool, the contour
    points to use. The profiles within ``step_probe_mm`` of each point are averaged, aligned on the
    contour, and an error function (a blurred step) is fitted to the mean. Averaging first removes the
    noise that inflates the peak slope of single profiles (``edge_blur_sigma_mm`` measured 0.33 mm for a
    0.6 mm blur under 40 HU noise); the contour's own jitter widens the mean slightly, so the estimate
    errs large. None with fewer than MIN_PROFILE_RAYS points or when the fit does not converge.
    """
    if np.count_nonzero(rays) < MIN_PROFILE_RAYS:
        return None
    step = grid.radial_step_mm
    offsets_mm = np.arange(-params.step_probe_mm, params.step_probe_mm + 0.5 * step, step)
    profiles = profiles_across_contour(samples_hu, grid, radii_mm, rays, offsets_mm)
    if len(profiles) < MIN_PROFILE_RAYS:
        return None
    mean = profiles.mean(axis=0)

    def blurred_step(x, outside, height, centre, sigma):
        return outside + 0.5 * height * special.erfc((x - centre) / (np.sqrt(2.0) * sigma))

    try:
        fitted, _ = optimize.curve_fit(
            blurred_step, offsets_mm, mean, p0=[mean[-1], mean[0] - mean[-1], 0.0, 0.3],
            bounds=([-np.inf, 0.0, -params.step_probe_mm, 0.02], [np.inf, np.inf, params.step_probe_mm,
                                                                    params.max_blur_sigma_mm]))
    except (RuntimeError, ValueError):
        return None
    return float(fitted[3])


def edge_blur_sigma_mm(smooth: np.ndarray, masked_strength: np.ndarray, index: np.ndarray, grid: PolarGrid,
                       params: ContourParameters) -> float:
    """Scanner blur (Gaussian sigma, mm) measured on the detected edges themselves.

    A step of height C blurred by a Gaussian of sigma s has a peak slope C / (sqrt(2 pi) s). C is read
    0.8 mm either side of each detected edge; the median over all edges is robust to the odd
    neighbouring structure. The 0.1 mm radial smoothing of the profile is removed in quadrature.
    Used to undo the inward shift of the steepest-slope point of a blurred disc (``blur_corrected_mm``), which is
    1 to 4% of area on a wide disc otherwise.
    """
    reach = int(round(params.step_probe_mm / grid.radial_step_mm))
    last = smooth.shape[-1] - 1
    inner = np.take_along_axis(smooth, np.clip(index - reach, 0, last)[..., None], axis=-1)[..., 0]
    outer = np.take_along_axis(smooth, np.clip(index + reach, 0, last)[..., None], axis=-1)[..., 0]
    peak = np.take_along_axis(masked_strength, index[..., None], axis=-1)[..., 0]
    usable = (peak > 0) & (inner - outer > 0)
    if np.count_nonzero(usable) < 8:
        return 0.0
    sigma = np.median((inner - outer)[usable] / (np.sqrt(2.0 * np.pi) * peak[usable]))
    sigma_sq = sigma ** 2 - params.profile_sigma_mm ** 2
    return float(np.sqrt(np.clip(sigma_sq, 0.0, params.max_blur_sigma_mm ** 2)))


def central_lumen_hu(samples_hu: np.ndarray, grid: PolarGrid, radius_mm: float = 0.5) -> np.ndarray:
    """Median HU within ``radius_mm`` of the centerline, per section: the lumen's contrast if any."""
    inner = grid.radii_mm <= radius_mm
    return np.median(samples_hu[:, :, inner].reshape(len(samples_hu), -1), axis=1)


def relative_level_hu(fat_hu: float, fraction: float, params: ContourParameters) -> float:
    """The HU ``fraction`` of the way from the epicardial fat to the reference wall tissue
    (``tissue_reference_hu``): the levels of the outer-wall edge test."""
    return fat_hu + fraction * (params.tissue_reference_hu - fat_hu)


def _first_index(mask: np.ndarray) -> np.ndarray:
    """Per ray, the index of the first True sample along the last axis; the number of samples where there is none."""
    return np.where(mask.any(axis=-1), mask.argmax(axis=-1), mask.shape[-1])


def _first_radii_below_mm(samples_hu: np.ndarray, grid: PolarGrid, level_hu) -> np.ndarray:
    """Per section and ray, the first radius (mm) where the profile is below ``level_hu`` (one level, or one per
    section and ray); the last radius where it never is."""
    below = samples_hu < np.asarray(level_hu)[..., None]
    return grid.radii_mm[np.minimum(_first_index(below), samples_hu.shape[-1] - 1)]


def _decision_mean(values: np.ndarray, params: ContourParameters) -> np.ndarray:
    """Polar values (S, A, R) averaged over ``lumen_decision_sections`` sections and ``lumen_decision_rays`` rays,
    where the lumen decisions are taken: noise is much smaller there than on one ray."""
    along = ndimage.uniform_filter1d(values, params.lumen_decision_sections, axis=0, mode="nearest")
    return ndimage.uniform_filter1d(along, params.lumen_decision_rays, axis=1, mode="wrap")


def _calcium_level_hu(centre_hu: np.ndarray, fat_hu: float, params: ContourParameters) -> np.ndarray:
    """Per section, the HU above which a profile inside the vessel is calcium, not lumen: the central lumen HU
    plus ``lumen_calcium_fraction`` of its contrast over the fat."""
    return centre_hu + params.lumen_calcium_fraction * (centre_hu - fat_hu)


def _opposite(values: np.ndarray) -> np.ndarray:
    """Per section and ray (S, A, ...), the value on the opposite ray (an even number of rays)."""
    return np.roll(values, values.shape[1] // 2, axis=1)


def _half_chords_mm(radii_mm: np.ndarray) -> np.ndarray:
    """Per section and ray, half the chord through the section's centre along the ray and its opposite one,
    (r(theta) + r(theta + pi)) / 2 (an even number of rays): unlike a radius, nearly independent of where the
    centre lies in a convex lumen (within a tenth of a millimetre for a 1.6 mm lumen 0.7 mm off, on the median)."""
    return 0.5 * (radii_mm + _opposite(radii_mm))


def _falls_within(samples_hu: np.ndarray, grid: PolarGrid, centre_hu: np.ndarray, fall_hu: np.ndarray,
                  calcium_hu: np.ndarray, ring_mm: float, params: ContourParameters) -> np.ndarray:
    """Per section: a centre of at least ``lumen_min_hu``, and a lumen bounded within ``ring_mm``: along
    ``lumen_ray_fraction`` of the rays the half chord (``_half_chords_mm``) between the first points where the ray and
    its opposite ray fall at least ``fall_hu`` below the centre (from 0.6 mm out) or first rise into calcium (above
    ``calcium_hu``) is within the ring, along at least ``lumen_wall_ray_fraction`` of them on a ray that falls.

    Chords, not radii: the first-pass path the centerline extraction tests runs up to a millimetre off the lumen's
    centre, and the far side's fall then lies beyond a ring sized to the lumen's own edge (seeds given from the
    distal end: 60-70% of the rays of the proximal lumen fell within 1.78 mm, none of its sections passed, and no
    occlusion was found); the chord through an off-centre point is no longer than the lumen's diameter. The centre
    must then lie inside the bright core (along ``lumen_ray_fraction`` of the rays no fall within 0.6 mm): occluded
    plaque whose centre lies on the edge of a dark core falls at once on that side, and its chords to the fat on the
    other side passed within the ring (a 60% stenosis' occlusion read as contrast 4 mm after P).
    A calcified sector bounds a lumen without a fall: a 90 degree sector under a 0.5 mm blur brightens 30% of the
    rays, and the lumen beside it failed. Calcium within 0.6 mm does not: there the centre lies in a calcified
    nodule's blooming (170-180 HU in the occlusion, its other rays falling into the necrotic core), which passed
    over 1 mm and split the occlusion of the P/D proposals. A fibrous cap with a nodule beside the centerline still
    fails: its other rays fall only at the vessel's outer edge, beyond the ring."""
    radii_mm = np.append(grid.radii_mm, np.inf)
    low = samples_hu <= (centre_hu - fall_hu)[:, None, None]
    first_low = _first_index(low & (grid.radii_mm >= 0.6))
    first_high = _first_index(samples_hu >= calcium_hu[:, None, None])
    rises = (first_high < first_low) & (radii_mm[first_high] >= 0.6)
    bounded = _half_chords_mm(radii_mm[np.where(rises, first_high, first_low)]) <= ring_mm
    falls = bounded & ~rises
    core = ~np.any(low & (grid.radii_mm <= 0.6), axis=-1)
    return ((centre_hu >= params.lumen_min_hu) & (np.mean(bounded, axis=1) >= params.lumen_ray_fraction)
            & (np.mean(falls, axis=1) >= params.lumen_wall_ray_fraction)
            & (np.mean(core, axis=1) >= params.lumen_ray_fraction))


def _half_contrast_radii_mm(samples_hu: np.ndarray, grid: PolarGrid, centre_hu: np.ndarray, ring_mm) -> np.ndarray:
    """Per section and ray, the first radius where the profile falls halfway from the centre to the ray's darkest
    value within ``ring_mm`` (one radius, or one per section and ray)."""
    within = grid.radii_mm <= np.asarray(ring_mm)[..., None]
    darkest = np.where(within, samples_hu, np.inf).min(axis=-1)
    return _first_radii_below_mm(samples_hu, grid, 0.5 * (centre_hu[:, None] + darkest))


def _lumen_ring_mm(samples_hu: np.ndarray, grid: PolarGrid, centre_hu: np.ndarray, fat_hu: float,
                   fall_hu: np.ndarray, params: ContourParameters) -> float:
    """How far out a lumen's edge lies in this vessel: the median half chord (``_half_chords_mm``) between the
    half-contrast radii of its lumens' opposite rays plus ``lumen_ring_margin_mm`` (``lumen_ring_mm`` where none is
    found); half chords, as the path may run off the lumen's centre.

    Its lumens are the sections that pass the lumen test within ``lumen_ring_mm`` (their profile halfway to
    the darkest value within it, the wall of a faint lumen), and the walled lumens: a bright core whose
    half-contrast radius (halfway to the darkest value on the whole ray) lies at least ``lumen_wall_mm``
    inside the fat (below the outer wall's fat cut), a lumen with a wall the scan resolves, however wide.
    A fibrous cap falls straight to fat: its half-contrast radius is its outer edge. A walled lumen's own radius
    is then taken halfway to the darkest value inside its wall (up to ``lumen_wall_mm`` inside the ray's fat cut),
    not to the fat: a lumen lined with bright plaque (250 HU against 330..400 HU contrast) falls halfway to the fat
    only at the lining's outer edge, which sized the ring beside a 60% stenosis to 2.8 mm, past the 2.6 mm occluded
    vessel: its fibrous caps fell to the fat within it and passed for a lumen (P proposed 2.9 mm late, 51-55% of
    the occlusion "through contrast"); now 2.1 mm. Rays that rise into calcium first (``_calcium_level_hu``) are
    left out: their fall is the calcium's outer edge. The median keeps a calcified nodule in a few sections from
    sizing the ring.
    """
    reach_mm = max(params.lumen_ring_mm, grid.radii_mm[-1] - params.fat_ring_mm)
    half_reach_mm = np.median(_half_contrast_radii_mm(samples_hu, grid, centre_hu, reach_mm), axis=1)
    fat_rays_mm = _first_radii_below_mm(samples_hu, grid, relative_level_hu(fat_hu, params.fat_cut_fraction, params))
    walled = (centre_hu >= params.lumen_min_hu) & (np.median(fat_rays_mm, axis=1) - half_reach_mm
                                                   >= params.lumen_wall_mm)
    found = _falls_within(samples_hu, grid, centre_hu, fall_hu, _calcium_level_hu(centre_hu, fat_hu, params),
                          params.lumen_ring_mm, params) & ~walled
    if not np.any(walled | found):
        return params.lumen_ring_mm
    lumens = walled | found
    ring_mm = np.where(walled[:, None], fat_rays_mm - params.lumen_wall_mm, params.lumen_ring_mm)[lumens]
    half_mm = _half_contrast_radii_mm(samples_hu[lumens], grid, centre_hu[lumens], ring_mm)
    calcium = samples_hu[lumens] >= _calcium_level_hu(centre_hu[lumens], fat_hu, params)[:, None, None]
    before_calcium = half_mm < np.append(grid.radii_mm, np.inf)[_first_index(calcium)]
    before_calcium &= _opposite(before_calcium)
    chords_mm = _half_chords_mm(half_mm)
    radius_mm = np.median(chords_mm[before_calcium] if np.any(before_calcium) else chords_mm)
    return float(np.clip(radius_mm + params.lumen_ring_margin_mm, MIN_LUMEN_RING_MM, reach_mm))


def lumen_present(samples_hu: np.ndarray, grid: PolarGrid, params: ContourParameters = ContourParameters(),
                  ring_sections: np.ndarray | None = None, fat_hu: float | None = None) -> np.ndarray:
    """Per section: does a contrast-filled lumen run through the centre?

    A lumen is a bright core inside darker wall all round, whereas a fibrous cap is as bright at its
    centre as around it and a calcified nodule beside the centerline stays bright along the rays that
    cross it. So the centre (median within 0.5 mm) must reach ``lumen_min_hu``, and along most rays
    (``lumen_ray_fraction``) the profile must fall below the centre, within a ring, by
    ``lumen_contrast_fraction`` of the centre's contrast over the epicardial fat (``fat_level_hu``).
    The fall is relative because contrast varies: 450 HU from the aorta, 150..250 HU in a distal
    lumen filled late through collaterals, where a fixed 100 HU fall under a 200 HU floor found no lumen.
    The ring is sized to the vessel's own lumen (``_lumen_ring_mm``): a 2.4 mm lumen filled at 260 HU does
    not fall within a fixed 2.2 mm, whereas the 230 HU fibrous cap of a 2.2 mm radius vessel with a 1.3 mm
    lumen does. A cap brighter than a faint lumen thus fails: it does not fall within the lumen's radius.
    A lumen lined with fibrous plaque falls onto its wall within the ring, by less than that fraction beside a
    stenosis (335 HU contrast on a 250 HU lining: 20% of the contrast over the fat); it passes when its profile
    averaged over neighbouring rays and sections (``_decision_mean``) falls by ``lumen_lining_fraction`` and most
    rays show the lining inside their fall to the fat (``_lined``, looked at only in those sections and their
    neighbours: over a whole vessel it took three times as long as the rest of the test), which a fibrous cap does
    not. Rays that rise into calcium before they fall (``_falls_within``) bound the lumen as well.
    ring_sections: (S,) bool, the sections whose lumens size the ring (all when None). The analysis passes
    those outside P..D: a homogeneous 200..300 HU occlusion under a 0.5 mm blur falls from its centre to
    the fat cut over 0.7 mm, passes for a walled lumen, sized the ring to itself (2.9 mm) and then "fell
    within" it: the centerline read as running through contrast along 75..100% of the occlusion.
    The other sections may hold plaque, and a bright fibrous cap narrower than the ring passes all of the above:
    it falls straight to the fat, as a vein does. There a lumen counts only where its centre is as bright as
    contrast (``_as_bright_as_contrast``, against the lumens of ``ring_sections``).
    fat_hu: ``fat_level_hu`` of these samples where already measured (measured here when None).
    """
    centre = central_lumen_hu(samples_hu, grid)
    fat_hu = fat_level_hu(samples_hu, grid, params) if fat_hu is None else fat_hu
    present = _bright_core_bounded(samples_hu, grid, centre, fat_hu, ring_sections, params)
    if ring_sections is None:
        return present
    return present & (ring_sections | _as_bright_as_contrast(centre, fat_hu, present & ring_sections, params))


def _as_bright_as_contrast(centre_hu: np.ndarray, fat_hu: float, lumens: np.ndarray,
                           params: ContourParameters) -> np.ndarray:
    """Per section: does the centre reach ``lumen_contrast_level_fraction`` of the vessel's contrast over the fat, and
    ``lumen_contrast_min_hu``? (All True when ``lumens`` holds none.)

    centre_hu: (S,) central HU (``central_lumen_hu``); fat_hu: the epicardial fat's HU; lumens: (S,) bool, the
    sections of the vessel's own lumen. The vessel's contrast is the CONTRAST_LEVEL_PERCENTILE-th percentile of
    their central HU: the plateau of its widest lumen, which the blur lowers in a stenosed or small lumen (380 HU in
    a 0.86 mm lumen beside a 70% stenosis filled at 400..450 HU) and which a dim distal lumen (240..260 HU, filled
    late) does not drag down. Contrast is the blood pool's HU, fibrous plaque is darker; a cap narrower than the
    ring passes every shape test (the 230 HU caps of a 1.0 mm negatively remodelled occlusion; the caps beside a 70%
    stenosis, whose lining widened the ring to 2.45 mm). The cut sits between the two, measured against the
    phantoms' contrast (about 420 HU) on the sections that passed the shape tests: the caps read 0.48..0.62 (1.0 mm
    vessel, 230 HU) and 0.50..0.69 (beside a 70% stenosis lined at 300 HU; two sections, 4% of the occlusion, 0.72
    and 0.75), the presets' up to 0.77 in at most 6% of an occlusion; a vein along the centerline 0.70..0.79 at
    300 HU (median 0.74), 0.74..0.82 at 320 HU, 0.87..0.95 at 380 HU. At 0.8 a 300..320 HU vein followed by the
    centerline read as contrast along 0..17% of the occlusion, unwarned. Where the contrast itself is faint, 70% of
    it over the fat falls below the caps (145 HU in a 250 HU scan; the 1.0 mm vessel's 230 HU caps read 153..217 HU):
    the floor, above them and below a 300 HU vein, keeps them out. Limits: a vein below about 280 HU against 420 HU
    contrast, or below 250 HU in any scan, is not counted.
    """
    if not np.any(lumens):
        return np.ones(centre_hu.shape, bool)
    contrast_hu = np.percentile(centre_hu[lumens], CONTRAST_LEVEL_PERCENTILE)
    level_hu = fat_hu + params.lumen_contrast_level_fraction * (contrast_hu - fat_hu)
    return centre_hu >= max(level_hu, params.lumen_contrast_min_hu)


def _bright_core_bounded(samples_hu: np.ndarray, grid: PolarGrid, centre_hu: np.ndarray, fat_hu: float,
                         ring_sections: np.ndarray | None, params: ContourParameters) -> np.ndarray:
    """Per section: the bright core bounded within the ring of ``lumen_present`` (every test of its docstring but
    the contrast level); centre_hu: (S,) central HU; fat_hu: the epicardial fat's HU."""
    fall = params.lumen_contrast_fraction * (centre_hu - fat_hu)
    sized = slice(None) if ring_sections is None else ring_sections
    ring_mm = _lumen_ring_mm(samples_hu[sized], grid, centre_hu[sized], fat_hu, fall[sized], params)
    calcium_hu = _calcium_level_hu(centre_hu, fat_hu, params)
    present = _falls_within(samples_hu, grid, centre_hu, fall, calcium_hu, ring_mm, params)
    onto_lining = ~present & _falls_within(_decision_mean(samples_hu, params), grid, centre_hu,
                                           params.lumen_lining_fraction * (centre_hu - fat_hu), calcium_hu, ring_mm,
                                           params)
    if not np.any(onto_lining):
        return present
    near = ndimage.binary_dilation(onto_lining, iterations=max(1, params.lumen_decision_sections // 2))
    lined = np.zeros_like(present)
    lined[near] = _lined(samples_hu[near], grid, centre_hu[near], fat_hu, params)
    return present | (onto_lining & lined)


def _lined(samples_hu: np.ndarray, grid: PolarGrid, centre_hu: np.ndarray, fat_hu: float,
           params: ContourParameters) -> np.ndarray:
    """Per section: is the centre lined with a bright wall along at least ``lumen_ray_fraction`` of the rays
    (``_bright_wall_fall``: inside the ray's steepest fall to the fat, a wall darker than the centre)? A fibrous cap is
    as bright as its centre up to that fall; next to a calcified nodule under a 0.5 mm blur ("heart") about half its
    rays pass, and the first 1.5 mm of the occlusion read as contrast with half the rays required."""
    smooth, _ = _profile_and_strength(samples_hu, grid, params)
    wall_index, _, _ = _bright_wall_fall(_decision_mean(smooth, params), centre_hu, fat_hu, grid, params)
    return np.mean(wall_index >= 0, axis=1) >= params.lumen_ray_fraction


@dataclass
class WallContour:
    """Outer vessel wall: radii_mm (S, A); fat_edge (S, A), the ray's contour lies on a qualified
    wall/fat edge; resolved (S,), False where a section with a lumen fell back to lumen + normal wall;
    blur_sigma_mm, the scanner's blur measured on the wall edges (``profile_blur_sigma_mm``); fat_hu, the
    epicardial fat level the edges were tested against (``fat_level_hu``)."""

    radii_mm: np.ndarray
    fat_edge: np.ndarray
    resolved: np.ndarray
    blur_sigma_mm: float
    fat_hu: float


def detect_contours(samples_hu: np.ndarray, grid: PolarGrid, has_lumen: np.ndarray, section_step_mm: float,
                    params: ContourParameters = ContourParameters(),
                    fat_hu: float | None = None) -> tuple[np.ndarray, WallContour]:
    """Lumen radii (S, A) in mm (0 where ``has_lumen`` is False) and the outer vessel wall, its rays without a fat
    edge at the mean of the fat-edge rays over RESOLUTION_WINDOW_MM (``bridged_from_fat_edges_mm``). The centerline
    is re-centred on the wall before that step (``detect_vessel_wall``): re-centred on the filled wall, a calcified
    shell's centerline (a third of its rays on a fat edge) left the vessel. fat_hu: ``fat_level_hu`` of these
    samples where already measured (measured here when None). The profiles are smoothed and differentiated once
    for both contours."""
    fat_hu = fat_level_hu(samples_hu, grid, params) if fat_hu is None else fat_hu
    smooth, strength = _profile_and_strength(samples_hu, grid, params)
    lumen = _lumen_radii_mm(samples_hu[has_lumen], smooth[has_lumen], strength[has_lumen], grid, has_lumen,
                            section_step_mm, fat_hu, params)
    wall_samples = _WallSamples.of(samples_hu, smooth, strength, grid, fat_hu, lumen, params)
    del smooth, strength  # the wall search keeps its local peaks only, not the strength, while it finds its path
    wall = _vessel_wall(wall_samples, grid, lumen, section_step_mm, fat_hu, params, None)
    radii_mm = np.maximum(bridged_from_fat_edges_mm(wall.radii_mm, wall.fat_edge, section_step_mm),
                          lumen + params.min_wall_mm)
    return lumen, replace(wall, radii_mm=radii_mm)


def contour_centroid_mm(radii_mm: np.ndarray, grid: PolarGrid) -> np.ndarray:
    """Centroid (u, v) in mm of the region inside polar contours r(theta), per section: (S, 2).

    x = (1/A) integral r^3/3 cos(theta) dtheta, A = integral r^2/2 dtheta (y likewise with sin).
    """
    area = 0.5 * np.sum(radii_mm ** 2, axis=-1)
    moments = np.stack([np.sum(radii_mm ** 3 * np.cos(grid.angles_rad), axis=-1),
                        np.sum(radii_mm ** 3 * np.sin(grid.angles_rad), axis=-1)], axis=-1) / 3.0
    return moments / np.maximum(area, 1e-9)[:, None]


def _bright_wall_fall(mean_hu: np.ndarray, centre_hu: np.ndarray, fat_hu: float, grid: PolarGrid,
                      params: ContourParameters) -> tuple[np.ndarray, np.ndarray, float]:
    """Where a bright wall lines the lumen: per ray, the radius index of the wall's outer fall to fat (-1 on other
    rays) and that fall's height (HU), and the blur sigma (mm) fitted to those falls (0 with too few of them).

    mean_hu: smoothed profiles (S, A, R) of the sections with a lumen averaged over ``lumen_decision_rays`` rays and
    ``lumen_decision_sections`` sections (``_decision_mean``), where noise is much smaller than on one ray and the
    decisions are taken; centre_hu: (S,) their central lumen HU. Each ray's steepest fall is a blurred step: its
    height twice its fall from the edge to ``step_probe_mm`` outside it (fat), its sigma 2 x that fall / (sqrt(2 pi)
    x peak slope). It is the wall's fall to fat when the profile two such sigmas (median over the rays; at least
    ``lumen_wall_probe_mm``) inside it is darker than the lumen by ``lumen_wall_fraction`` of the lumen's contrast
    over the fat: a lumen edge is back at the lumen's level there, a wall thicker than that is not. Under a
    0.5 mm blur (the "heart" preset) a fixed 0.7 mm probe still lay on the lumen edge's shoulder and took a third
    of the lumen away. Only sections where at least ``lumen_wall_ray_fraction`` of the rays pass count: CT-textured
    noise (30 HU, "wrap-vein") darkened the probe on scattered rays and took a quarter of the lumen at E.
    """
    mean_strength = -np.gradient(mean_hu, grid.radial_step_mm, axis=-1)
    steepest = mean_strength.argmax(axis=-1)
    half_fall = _at_index(mean_hu, steepest) - _at_index(mean_hu, steepest + int(round(
        params.step_probe_mm / grid.radial_step_mm)))
    peak = _at_index(mean_strength, steepest)
    falls = (peak > 0) & (half_fall > 0)
    if np.count_nonzero(falls) < MIN_WALL_STEP_RAYS:
        return np.full(steepest.shape, -1), np.zeros(steepest.shape), 0.0
    step_sigma_mm = 2.0 * half_fall / (np.sqrt(2.0 * np.pi) * np.maximum(peak, 1e-9))
    probe_mm = max(params.lumen_wall_probe_mm, 2.0 * float(np.median(step_sigma_mm[falls])))
    inside_hu = _at_index(mean_hu, steepest - int(round(probe_mm / grid.radial_step_mm)))
    usable = falls & (inside_hu < (centre_hu - params.lumen_wall_fraction * (centre_hu - fat_hu))[:, None])
    usable &= (np.mean(usable, axis=1) >= params.lumen_wall_ray_fraction)[:, None]
    if np.count_nonzero(usable) < MIN_WALL_STEP_RAYS:
        return np.full(steepest.shape, -1), np.zeros(steepest.shape), 0.0
    return (np.where(usable, steepest, -1), np.where(usable, 2.0 * half_fall, 0.0),
            float(np.median(step_sigma_mm[usable])))


def _without_wall_fall(strength: np.ndarray, wall_index: np.ndarray, height_hu: np.ndarray, sigma_mm: float,
                       grid: PolarGrid) -> np.ndarray:
    """Edge strength (S, A, R) less the slope of each bright wall's fall (``_bright_wall_fall``), a Gaussian of
    ``height_hu`` x 1 / (sqrt(2 pi) sigma) at its index; unchanged in the sections without one."""
    rows = np.flatnonzero(np.any(wall_index >= 0, axis=1))
    if not len(rows):
        return strength
    count = strength.shape[-1]
    offsets_mm = np.arange(-count + 1, count) * grid.radial_step_mm
    kernel = np.exp(-0.5 * (offsets_mm / sigma_mm) ** 2) / (np.sqrt(2.0 * np.pi) * sigma_mm)
    lag = np.arange(count) - np.maximum(wall_index[rows], 0)[..., None]
    fall = height_hu[rows][..., None] * kernel[lag + count - 1]
    result = strength.copy()
    result[rows] = np.maximum(strength[rows] - fall, 0.0)
    return result


def _beside_calcium(mean_hu: np.ndarray, centre_hu: np.ndarray, calcium_hu: np.ndarray,
                    params: ContourParameters) -> np.ndarray:
    """Per section and ray (S, A): does the ray cross calcium that lines the lumen, or lie beside it?

    mean_hu: profiles averaged over neighbouring rays and sections (``_decision_mean``: noise does not reach the
    calcium level there); centre_hu: (S,) central lumen HU; calcium_hu: (S, 1, 1) ``_calcium_level_hu``. A ray is
    calcified where its profile rises to the calcium level before it falls below ``lumen_fraction`` of the lumen HU:
    calcium in the wall right at the lumen, not a vein or branch beyond the wall and the fat. The rays within half
    the decision window (``lumen_decision_rays`` // 2) either side lie beside it: the calcium's blooming raises their
    lining to the lumen's level (a 200 HU lining beside a 900 HU sector under a 0.5 mm blur reads 360-410 HU at the
    true lumen edge, against 381 HU at the centre), so their steepest fall is the calcium's outer edge."""
    lumen_hu = params.lumen_fraction * centre_hu[:, None, None]
    calcified = _first_index(mean_hu >= calcium_hu) < _first_index(mean_hu < lumen_hu)
    window = 2 * (params.lumen_decision_rays // 2) + 1
    return ndimage.maximum_filter1d(calcified.astype(np.uint8), window, axis=1, mode="wrap").astype(bool)


def _interpolated_across(radii_mm: np.ndarray, gap: np.ndarray, grid: PolarGrid) -> np.ndarray:
    """Radii (S, A) with each section's ``gap`` rays (S, A bool) interpolated around the section (linearly in angle)
    between its other rays; sections whose rays all lie in the gap, or none, are kept as they are."""
    result = radii_mm.copy()
    for section in np.flatnonzero(np.any(gap, axis=1) & ~np.all(gap, axis=1)):
        inside, outside = gap[section], ~gap[section]
        result[section, inside] = np.interp(grid.angles_rad[inside], grid.angles_rad[outside],
                                            radii_mm[section, outside], period=2.0 * np.pi)
    return result


def _at_index(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[s, a, index[s, a]], the index clipped to the ray."""
    return np.take_along_axis(values, np.clip(index, 0, values.shape[-1] - 1)[..., None], axis=-1)[..., 0]


def _averaged_edge_blur_sigma_mm(mean_hu: np.ndarray, strength: np.ndarray, allowed: np.ndarray, radii_mm: np.ndarray,
                                 grid: PolarGrid, params: ContourParameters) -> float:
    """The lumen's blur sigma (mm): ``edge_blur_sigma_mm`` on the profiles and the edge strength averaged over
    neighbouring rays and sections (``_decision_mean``; mean_hu: the averaged profiles), at the averaged strength's
    highest allowed sample within ``peak_window_mm`` of each ray's edge (radii_mm, (S, A)).

    On single rays noise raises the peak slope, and the blur reads low: on stenosis-60-blunt (20 HU noise, a 0.99 mm
    lumen 140 HU above its lining) 0.363 mm, against 0.414 mm on the same phantom without noise, which under-corrects
    a narrow lumen (``blur_corrected_mm``) by about 2% of its area; averaged, 0.396 mm (0.416 mm without noise)."""
    mean_strength = np.where(allowed, _decision_mean(strength, params), 0.0)
    window = int(round(params.peak_window_mm / grid.radial_step_mm))
    index = np.rint((radii_mm - grid.radii_mm[0]) / grid.radial_step_mm).astype(int)
    candidates = np.clip(index[..., None] + np.arange(-window, window + 1), 0, strength.shape[-1] - 1)
    highest = np.take_along_axis(mean_strength, candidates, axis=-1).argmax(axis=-1)
    return edge_blur_sigma_mm(mean_hu, mean_strength, _at_index(candidates, highest), grid, params)


def detect_lumen(samples_hu: np.ndarray, grid: PolarGrid, lumen_present: np.ndarray, section_step_mm: float,
                 params: ContourParameters = ContourParameters(), fat_hu: float | None = None) -> np.ndarray:
    """Lumen radius (mm) per (section, angle); 0 where ``lumen_present`` is False.

    samples_hu: trilinear polar samples (S, A, R). The edge is the steepest fall along the ray from
    contrast: the profile ``lumen_probe_mm`` inside it at least ``lumen_fraction`` of the central lumen HU, and the
    edge before the ray first rises into calcium (``_calcium_level_hu``: the lumen HU plus ``lumen_calcium_fraction``
    of its contrast over the fat), chosen as a closed optimal path like the outer wall. Lumen meets calcium in a
    rise, not a fall: across a calcified sector no edge qualifies (a 1.1 mm, 900 HU lining blurred by 0.5 mm peaks at
    620 HU, under the former bound of half the contrast, and its outer edge took 90..160 degrees of the contour:
    lumen +56% before P). The rays beside the sector (``_beside_calcium``) have no edge of their own either: the
    calcium's blooming lifts their lining to the lumen's HU, their steepest fall was the sector's outer edge (rays
    read 1.9-2.1 mm against a 1.56 mm lumen) and the path bridged the sector from them (+24% before P). The radii of
    the calcified rays and of those beside them are interpolated around the section from the rays on either side.

    A wall brighter than the fat by more than the lumen is brighter than the wall (fibrous plaque of 150..350 HU
    lining the segments next to the caps, against contrast of 250..600 HU) falls more steeply to the fat than the
    lumen falls to it: the steepest fall of the ray is then the wall's outer edge, and a contour there reads the
    vessel as lumen (issue 26: 2.1 times the normal lumen area after a distal cap, a tapered cap read blunt).
    Such rays are recognised (``_bright_wall_fall``: the profile inside the steepest fall darker than the lumen),
    their fall to fat is subtracted as a fitted blurred step, and the lumen edge is looked for at least
    ``LUMEN_WALL_GAP_SIGMAS`` of that step's sigmas inside it, on the rest: the lumen/wall step, which may be too
    small for a slope peak of its own beside the wall's. Closer in, the residue of the subtraction (the ray's own
    edge a little off the averaged one) made slope peaks of its own: with 310 HU contrast on a 1.1 mm, 230 HU lining
    the lumen read +17% (up to +30%) after D with the edge looked for from 0.3 mm inside, +4% (-7..+14%) now.
    Farther out, 2 sigmas, the cut took the lumen edge's own peak beside a 1.1 mm lining under a 0.5 mm blur. Limits:
    the lumen/wall step must be at least about 80 HU (a 60 HU step under a 0.5 mm blur is not recognised: the lumen
    reads twice its area, and the interpolation across a calcified sector then follows the rays on the outer wall); and
    the lumen's radius must be over about 2 blur sigmas (2.2 holds, 1.65 fails): a 1 mm lumen in a 1.7 mm, 250 HU lining
    under a 0.6 mm blur (400 HU contrast) has no slope peak of its own once the wall's fall is subtracted (flat within
    6% over 0.8-1.4 mm), the wall's fall is fitted too sharp (0.50 mm) and under-subtracted, and the lumen reads
    +37..+58% without noise (+132..+164% at 0.7 mm); at 0.45 mm it reads within 4%, and its larger errors under noise
    are noise (``quality.lumen_area_uncertainty_measures``).
    fat_hu: ``fat_level_hu`` of these samples where already measured (measured here when None).
    """
    if not np.any(lumen_present):
        return np.zeros(samples_hu.shape[:2])
    fat_hu = fat_level_hu(samples_hu, grid, params) if fat_hu is None else fat_hu
    present = samples_hu[lumen_present]
    return _lumen_radii_mm(present, *_profile_and_strength(present, grid, params), grid, lumen_present,
                           section_step_mm, fat_hu, params)


def _lumen_radii_mm(present: np.ndarray, smooth: np.ndarray, strength: np.ndarray, grid: PolarGrid,
                    lumen_present: np.ndarray, section_step_mm: float, fat_hu: float,
                    params: ContourParameters) -> np.ndarray:
    """``detect_lumen`` on the lumen sections' samples (present: samples_hu[lumen_present]), their smoothed profiles
    and edge strength (``_profile_and_strength``)."""
    radii = np.zeros(lumen_present.shape + (len(grid.angles_rad),))
    if not np.any(lumen_present):
        return radii
    centre = central_lumen_hu(present, grid)
    mean_hu = _decision_mean(smooth, params)
    wall_index, wall_height_hu, wall_sigma_mm = _bright_wall_fall(mean_hu, centre, fat_hu, grid, params)
    probe = int(round(params.lumen_probe_mm / grid.radial_step_mm))
    inside = _shift_inward(smooth, probe)
    wall_gap = max(probe, int(round(LUMEN_WALL_GAP_SIGMAS * wall_sigma_mm / grid.radial_step_mm)))
    calcium_hu = _calcium_level_hu(centre, fat_hu, params)[:, None, None]
    before_calcium = _first_index(smooth >= calcium_hu)
    index = np.arange(smooth.shape[-1])
    beside_calcium = _beside_calcium(mean_hu, centre, calcium_hu, params)
    allowed = ((inside >= params.lumen_fraction * centre[:, None, None]) & (index < before_calcium[..., None])
               & ((wall_index < 0)[..., None] | (index < (wall_index - wall_gap)[..., None]))
               & ~beside_calcium[..., None])
    lumen_strength = _without_wall_fall(strength, wall_index, wall_height_hu, wall_sigma_mm, grid)
    found = _closed_contour(_peak_strength(lumen_strength, grid, params), allowed, grid, params).radii_mm
    blur_sigma_mm = _averaged_edge_blur_sigma_mm(mean_hu, lumen_strength, allowed, found, grid, params)
    radii[lumen_present] = _interpolated_across(found, beside_calcium, grid)
    sigma_sections = params.along_vessel_sigma_mm / section_step_mm
    smoothed = np.where(lumen_present[:, None], _smooth_along_vessel(radii, lumen_present, sigma_sections), 0.0)
    return blur_corrected_mm(smoothed, blur_sigma_mm)


def fat_level_hu(samples_hu: np.ndarray, grid: PolarGrid, params: ContourParameters = ContourParameters()) -> float:
    """The epicardial fat's HU around the vessel: the reference of the outer-wall edge test.

    Fat measures anywhere from about -120 to -40 HU in CCTA, with the kernel, the tube voltage and the
    partial volume of thin fat layers; a fixed cut (e.g. -30 HU) then fails where fat is bright, and the
    wall edge is missed or found far out (+18 to +29% volume at -50/-40 HU fat and 0.5 mm blur).
    samples_hu: polar samples (S, A, R) of consecutive sections. Returns the centre of the dark peak of the samples
    in the outer ``fat_ring_mm`` of every section (FAT_RING_STEP_MM apart radially), once each sample is averaged
    with its neighbours over ``fat_smoothing_sections`` sections and ``fat_smoothing_arc_mm`` of arc
    (``_fat_ring_means``), by a Gaussian fitted to the peak (``_dark_peak_centre_hu``). Where fewer than
    ``min_fat_fraction`` of those averages are below ``fat_search_max_hu`` (a vessel buried in myocardium),
    NOMINAL_FAT_HU.

    Why: under CT-textured noise the ring holds only a few hundred independent noise blobs, the histogram's top is
    flat over about 20 HU at 55 HU noise, and its mode (the former estimate, 5 HU bins) jumped with a 0.1-0.3 mm move
    of the centerline (-97.5 to -82.5 HU, true -110). A fit uses the whole peak, and moves little when a few samples
    change. The averaging runs along the vessel and around it, not radially: the wall, the myocardium and veins
    run along the vessel, so it narrows the fat peak (white noise to a few HU) without mixing them into it; averaged
    over 8 mm of arc it mixed the myocardium in (+12 to +41 HU). The fit takes the bins from 2.5 standard
    deviations below the peak to half of one above: the partial volume of the wall, the myocardium and veins is
    brighter than fat, so the dark flank is fat alone. Limits (a small phantom, fat -110 to -50 HU, 5 noise seeds,
    docs/accuracy.md): +1.1..+2.6 HU from the truth under white noise of 20-55 HU (seed-to-seed range up to 3 HU;
    the mode +2.5..+7.5); under textured noise +3.6 (20 HU) to +12.1 HU (55 HU), range up to 15 HU (the mode +5.5
    to +16.5, range up to 25): the partial volume of the tissue beside the fat within the noise's width of it, which
    no histogram separates (without noise the fit reads +3.75 HU: the averaging mixes it in). On the issue's case a
    0.1-0.3 mm move of the centerline moves it within 2.3 HU (the mode 15 HU), but on one of three other textured
    noise patterns a 0.3 mm move moved it 7.3 HU.
    """
    in_ring = np.flatnonzero(grid.radii_mm >= grid.radii_mm[-1] - params.fat_ring_mm)
    ring = samples_hu[:, :, in_ring[::max(1, int(round(FAT_RING_STEP_MM / grid.radial_step_mm)))]]
    means_hu = _fat_ring_means(ring, grid, params).ravel()
    if np.count_nonzero(means_hu < params.fat_search_max_hu) < max(1, params.min_fat_fraction * means_hu.size):
        return NOMINAL_FAT_HU
    return _dark_peak_centre_hu(means_hu, params)


def _fat_ring_means(ring_hu: np.ndarray, grid: PolarGrid, params: ContourParameters) -> np.ndarray:
    """ring_hu (S, A, Rr), samples of the outer ``fat_ring_mm`` of each section, each averaged with its neighbours
    over ``fat_smoothing_sections`` sections and ``fat_smoothing_arc_mm`` of arc at the ring's middle."""
    ring_radius_mm = grid.radii_mm[-1] - 0.5 * params.fat_ring_mm
    arc_step_mm = 2.0 * np.pi * ring_radius_mm / ring_hu.shape[1]
    sections = min(params.fat_smoothing_sections, len(ring_hu))
    means = ndimage.uniform_filter1d(ring_hu.astype(np.float32), sections, axis=0, mode="nearest")
    angles = min(max(1, int(round(params.fat_smoothing_arc_mm / arc_step_mm))), ring_hu.shape[1])
    return ndimage.uniform_filter1d(means, angles, axis=1, mode="wrap")


def _dark_peak_centre_hu(values_hu: np.ndarray, params: ContourParameters) -> float:
    """The centre of the darkest-side peak of values_hu, from one histogram of the values from FAT_SEARCH_MIN_HU to
    ``fat_search_max_hu`` in FAT_PEAK_BIN_HU bins: its mode (the counts smoothed by two bins), refined FAT_PEAK_FITS
    times by a Gaussian fitted (a parabola to the log counts, weighted by the counts) to the bins from
    FAT_PEAK_BELOW_SD standard deviations below the centre to FAT_PEAK_ABOVE_SD above it. The standard deviation is
    first read off the counts below the mode (the median distance of a half-normal is HALF_NORMAL_MEDIAN_SD of it),
    then the fitted one; at least two bins. A refinement that is not a peak, or leaves the bins fitted, is not taken."""
    bins = int(np.ceil((params.fat_search_max_hu - FAT_SEARCH_MIN_HU) / FAT_PEAK_BIN_HU))
    counts, edges = np.histogram(values_hu, bins=bins,
                                 range=(FAT_SEARCH_MIN_HU, FAT_SEARCH_MIN_HU + bins * FAT_PEAK_BIN_HU))
    centres_hu = 0.5 * (edges[:-1] + edges[1:])
    top = int(np.argmax(ndimage.gaussian_filter1d(counts.astype(float), 2.0)))
    centre_hu = float(centres_hu[top])
    below = np.cumsum(counts[top - 1::-1]) if top else np.zeros(1)
    half_normal_median_bins = int(np.searchsorted(below, 0.5 * below[-1])) + 1
    sd_hu = max(half_normal_median_bins * FAT_PEAK_BIN_HU / HALF_NORMAL_MEDIAN_SD, 2.0 * FAT_PEAK_BIN_HU)
    for _ in range(FAT_PEAK_FITS):
        low_hu, high_hu = centre_hu - FAT_PEAK_BELOW_SD * sd_hu, centre_hu + FAT_PEAK_ABOVE_SD * sd_hu
        fitted = (centres_hu >= low_hu) & (centres_hu <= high_hu) & (counts > 0)
        if np.count_nonzero(fitted) < 3:
            break
        curvature, slope, _ = np.polyfit(centres_hu[fitted] - centre_hu, np.log(counts[fitted]), 2,
                                         w=np.sqrt(counts[fitted]))
        if curvature >= 0:
            break
        refined_hu = centre_hu - slope / (2.0 * curvature)
        if not low_hu <= refined_hu <= high_hu:
            break
        centre_hu, sd_hu = refined_hu, max(float(np.sqrt(-0.5 / curvature)), 2.0 * FAT_PEAK_BIN_HU)
    return float(centre_hu)


def _plaque_blur_sigma_mm(samples_hu: np.ndarray, grid: PolarGrid, steepest_mm: np.ndarray, rays: np.ndarray,
                          section_step_mm: float, params: ContourParameters) -> float | None:
    """``profile_blur_sigma_mm`` on the chosen rays (the plaque's fat edges), aligned on the contour
    smoothed along the vessel and over 90 degrees: a single ray's radius follows its own noise, which
    steepens the mean profile (0.43 mm measured for 0.6 mm blur under 40 HU noise without this)."""
    along = _smooth_along_vessel(steepest_mm, np.ones(len(steepest_mm), bool),
                                 params.along_vessel_sigma_mm / section_step_mm)
    quarter_turn = 2 * (steepest_mm.shape[1] // 8) + 1
    aligned = ndimage.uniform_filter1d(along, quarter_turn, axis=1, mode="wrap")
    return profile_blur_sigma_mm(samples_hu, grid, aligned, rays, params)


def blur_tail_fraction(blur_sigma_mm: float, grid: PolarGrid, params: ContourParameters) -> float:
    """m: the mean, over the fat probe's offsets x (``fat_probe_near_mm``..``fat_probe_far_mm``), of
    Phi(-x / s), the fraction of a step's height that a Gaussian blur of sigma s leaves that far beyond the
    step (s combines the scanner's blur and the profile's own ``profile_sigma_mm`` smoothing). 0.001 without
    scanner blur, 0.10 at 0.35 mm, 0.17 at 0.5 mm, 0.24 at 0.7 mm."""
    sigma_mm = np.hypot(blur_sigma_mm, params.profile_sigma_mm)
    near, far = _probe_samples(params.fat_probe_near_mm, grid), _probe_samples(params.fat_probe_far_mm, grid)
    offsets_mm = np.arange(near, far + 1) * grid.radial_step_mm
    return float(np.mean(special.ndtr(-offsets_mm / sigma_mm)))


def _probe_samples(distance_mm: float, grid: PolarGrid) -> int:
    return int(round(distance_mm / grid.radial_step_mm))


def _probe_bands_hu(smooth: np.ndarray, grid: PolarGrid, params: ContourParameters) -> tuple:
    """Per sample, taken as an edge: (B, A), the means of the profile over ``fat_probe_near_mm``..``fat_probe_far_mm``
    outside it and over the mirrored band inside (``_mirrored_band_means``): what the fat test (``_fat_beyond``) and
    the wall's HU at the edge (``_edge_wall_hu``) read."""
    near, far = _probe_samples(params.fat_probe_near_mm, grid), _probe_samples(params.fat_probe_far_mm, grid)
    return _mirrored_band_means(smooth, near, far)


def _band_wall_hu(beyond_hu: np.ndarray, inside_hu: np.ndarray, tail_fraction) -> np.ndarray:
    """The wall's HU W read on the mirrored band inside an edge (``_probe_bands_hu``: B beyond, A inside): a blurred
    step from W to fat F leaves A = W - (W - F) m and B = F + (W - F) m, so W = A + (A - B) m / (1 - 2 m);
    m = ``tail_fraction`` (``blur_tail_fraction``), broadcast against B and A. In one new buffer."""
    wall_hu = (inside_hu - beyond_hu) * tail_fraction
    wall_hu /= 1.0 - 2.0 * tail_fraction
    wall_hu += inside_hu
    return wall_hu


def _edge_wall_hu(bands: tuple, index: np.ndarray, tail_fraction) -> np.ndarray:
    """The wall's HU (``_band_wall_hu``) at the chosen edge samples ``index`` (S, A) of the probe's bands
    (``_probe_bands_hu``), tail_fraction a number or one per section (S, 1): (S, A)."""
    beyond_hu, inside_hu = (np.take_along_axis(band, index[..., None], axis=-1)[..., 0] for band in bands)
    return _band_wall_hu(beyond_hu, inside_hu, tail_fraction)


def _fat_beyond(bands: tuple, fat_hu: float, tail_fraction, params: ContourParameters):
    """Per sample, taken as an edge: is the profile beyond it fat, once the blur tail of a wall brighter
    than the reference tissue is allowed for? bands: ``_probe_bands_hu`` of the smoothed profiles.

    The probe is the mean B of the profile over ``fat_probe_near_mm``..``fat_probe_far_mm`` outside. The plain
    test, B below the fat cut F + ``fat_cut_fraction`` (T - F), holds for walls up to the reference tissue T
    (``tissue_reference_hu``). A blurred step from a wall W to fat leaves B = F + (W - F) m at the true edge,
    m = ``tail_fraction`` (``blur_tail_fraction``; a number, or one per section broadcast over (S, 1, 1)), so
    a wall brighter than T lifts B by m (W - T) more than the reference tissue does, and the cut is raised by
    that: 34 HU for a 300 HU wall under a 0.5 mm blur, whose B at the true edge is -32 HU against a -30 HU
    cut. W is read on the mirrored band inside (``_band_wall_hu``). For walls up to T, and with m = 0, this is the
    plain test.
    The cut is raised only in the sections with a blur tail, in double precision, in one buffer (the wall W first,
    then the raised cut); the others keep the plain cut."""
    beyond_hu, inside_hu = bands
    cut_hu = np.float64(relative_level_hu(fat_hu, params.fat_cut_fraction, params))
    passes = beyond_hu < cut_hu
    tail = np.broadcast_to(np.asarray(tail_fraction, dtype=float), (len(beyond_hu), 1, 1))
    raised = np.flatnonzero(tail[:, 0, 0] > 0)
    if len(raised) == 0:
        return passes
    rows = slice(None) if len(raised) == len(tail) else raised
    tail, beyond_hu, inside_hu = tail[rows], beyond_hu[rows], inside_hu[rows]
    raised_cut_hu = _band_wall_hu(beyond_hu, inside_hu, tail)
    raised_cut_hu -= params.tissue_reference_hu
    np.maximum(raised_cut_hu, 0.0, out=raised_cut_hu)
    raised_cut_hu *= tail
    raised_cut_hu += cut_hu
    passes[rows] = beyond_hu < raised_cut_hu
    return passes


def _layered_bright_wall_sections(edge_wall_hu: np.ndarray, centre_hu: np.ndarray, fat_edge: np.ndarray,
                                  params: ContourParameters) -> np.ndarray:
    """Per section (S,): is the wall bright at its outer edge over a darker core: the median over the fat-edge rays
    (S, A) of the wall HU at the chosen edge samples (``edge_wall_hu`` (S, A), ``_edge_wall_hu``) above
    ``layered_wall_min_hu``, and the section's centre (``centre_hu`` (S,), ``central_lumen_hu``) below it? False
    where no ray is on a fat edge. The cut, 125 HU, lies between the presets' 100 HU fibrofatty rim (read 88-112 HU
    in most sections of the straight preset, up to 129 with noise) and the unresolved 0.6 mm, 230 HU layer (137-166
    HU); with the reference tissue's 100 HU as the cut, bend, wrap and wrap-wide moved by 0.55-0.70 pp (one
    process). On a homogeneous wall the two are equal but for noise and for the blur tail in the band (the wall read
    214-225 HU against centres of 224-251 HU on the straight preset's 230 HU caps, 281-297 against 286-312 on a 300
    HU occlusion), so such sections are seldom taken, and where noise takes one the outer-weighted fit finds a
    homogeneous disc's edge as the symmetric one does (within 0.004 mm, Testing/test_outer_wall_edge.py)."""
    rows = fat_edge.any(axis=1)
    level_hu = np.full(len(edge_wall_hu), -np.inf)
    level_hu[rows] = np.nanmedian(np.where(fat_edge[rows], edge_wall_hu[rows], np.nan), axis=1)
    return (level_hu > params.layered_wall_min_hu) & (centre_hu < level_hu)


def fitted_step_radii_mm(smooth: np.ndarray, grid: PolarGrid, index: np.ndarray, blur_sigma_mm: float,
                         params: ContourParameters, window_mm: tuple | None = None) -> np.ndarray:
    """Radius (mm) of the blurred step that best fits each ray's profile around its chosen edge sample.

    smooth: (S, A, R) profiles smoothed by ``profile_sigma_mm``; index: (S, A) chosen edge samples. Over
    ``window_mm`` (mm inside, mm outside the sample; ``step_fit_mm`` either side where None), the profile is
    fitted by least squares with O + (W - O) Phi(-(r - c) / s), s the scanner's blur combined with the profile
    smoothing, the levels W and O free and the centre c searched within ``step_fit_shift_mm`` of the sample
    (STEP_FIT_CENTRES positions, then a parabola through the best three). The steepest slope of a noisy profile
    wanders a tenth of a millimetre or more (the image's noise is correlated over a voxel), and the path takes the
    highest peak among those the fat test allows: a window that reaches farther inside than outside biases it
    inward, and the reverse outward. The fit uses the whole step, so it does not depend on that window.

    A window reaching far inside sees more than one step where the wall is layered: a bright layer at the outer
    edge thinner than about 2.5 sigmas (a 0.6 mm, 230 HU fibrous layer over 100 HU plaque under a 0.45 mm blur)
    adds its inner rise to the outer fall, whose steepest slope and fitted step then lie outside the true edge
    (+0.07 mm, +5% area, from the symmetric 0.6 mm window; docs/accuracy.md). Hence a window reaching less far
    inside and farther outside for a wall bright at its edge over a darker core (``_plaque_edges_mm``,
    ``_layered_bright_wall_sections``); a homogeneous wall keeps the symmetric one (the outer-weighted window on
    every wall brighter than the reference tissue moved nine presets, whose bright sections are homogeneous 230 HU
    caps, 0.5-1.0 pp inward; docs/accuracy.md).
    """
    step = grid.radial_step_mm
    inside_mm, outside_mm = (params.step_fit_mm, params.step_fit_mm) if window_mm is None else window_mm
    offsets = np.arange(-_probe_samples(inside_mm, grid), _probe_samples(outside_mm, grid) + 1)
    last = smooth.shape[-1] - 1
    profiles = np.take_along_axis(smooth, np.clip(index[..., None] + offsets, 0, last), axis=-1)
    centres_mm = np.linspace(-params.step_fit_shift_mm, params.step_fit_shift_mm, STEP_FIT_CENTRES)
    sigma_mm = np.hypot(blur_sigma_mm, params.profile_sigma_mm)
    basis = special.ndtr(-(offsets[None, :] * step - centres_mm[:, None]) / sigma_mm)
    basis = basis - basis.mean(axis=1, keepdims=True)
    centred = profiles - profiles.mean(axis=-1, keepdims=True)
    covariance = centred @ basis.T
    explained = np.where(covariance > 0, covariance ** 2 / np.sum(basis ** 2, axis=1), 0.0)
    best = np.clip(np.argmax(explained, axis=-1), 1, STEP_FIT_CENTRES - 2)
    left, mid, right = (np.take_along_axis(explained, (best + d)[..., None], axis=-1)[..., 0] for d in (-1, 0, 1))
    curvature = left - 2.0 * mid + right
    offset = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    centre_mm = centres_mm[best] + np.clip(offset, -1.0, 1.0) * (centres_mm[1] - centres_mm[0])
    return grid.radii_mm[0] + index * step + centre_mm


def _wall_edge_candidates(smooth: np.ndarray, grid: PolarGrid, fat_hu: float, lumen_radii_mm: np.ndarray,
                          params: ContourParameters) -> np.ndarray:
    """Per sample, the tests of a wall/fat edge that do not depend on the blur: tissue within
    ``tissue_probe_mm`` inside it, before the ray re-enters tissue after fat, at least ``min_wall_mm``
    outside the lumen."""
    tissue_reach = _probe_samples(params.tissue_probe_mm, grid)
    inside_max = ndimage.maximum_filter1d(smooth, tissue_reach + 1, axis=-1, origin=tissue_reach // 2,
                                          mode="nearest")
    tissue_inside = inside_max >= relative_level_hu(fat_hu, params.tissue_fraction, params)
    is_fat = smooth < relative_level_hu(fat_hu, params.fat_cut_fraction, params)
    count = smooth.shape[-1]
    index = np.arange(count)
    first_fat = np.where(is_fat.any(axis=-1), is_fat.argmax(axis=-1), count)
    back_in_tissue = (smooth > relative_level_hu(fat_hu, params.reentry_fraction, params)) & (
        index > first_fat[..., None])
    reentry = np.where(back_in_tissue.any(axis=-1), back_in_tissue.argmax(axis=-1), count)
    return (tissue_inside & (index < reentry[..., None])
            & (grid.radii_mm >= lumen_radii_mm[..., None] + params.min_wall_mm))


@dataclass
class _WallSamples:
    """What the outer-wall search derives once from polar samples (S, A, R): samples_hu; smooth, the profiles
    smoothed by ``profile_sigma_mm``; peaks, the edge strength at its local maxima (``_peak_strength``); candidates,
    the edge tests that do not depend on the blur (``_wall_edge_candidates``); has_lumen (S,)."""

    samples_hu: np.ndarray
    smooth: np.ndarray
    peaks: np.ndarray
    candidates: np.ndarray
    has_lumen: np.ndarray

    @classmethod
    def of(cls, samples_hu: np.ndarray, smooth: np.ndarray, strength: np.ndarray, grid: PolarGrid, fat_hu: float,
           lumen_radii_mm: np.ndarray, params: ContourParameters) -> _WallSamples:
        """From the samples, their smoothed profiles and edge strength (``_profile_and_strength``), the fat level and
        the lumen radii (S, A; 0 without a lumen)."""
        return cls(samples_hu, smooth, _peak_strength(strength, grid, params),
                   _wall_edge_candidates(smooth, grid, fat_hu, lumen_radii_mm, params),
                   np.any(lumen_radii_mm > 0, axis=-1))

    def every(self, stride: int) -> _WallSamples:
        """Every ``stride``-th section."""
        return _WallSamples(*(getattr(self, field.name)[::stride] for field in fields(self)))


def _probe_blur_sigma_mm(wall: _WallSamples, grid: PolarGrid, fat_hu: float, section_step_mm: float,
                         params: ContourParameters) -> float:
    """The scanner blur the fat test is scaled with, measured before the wall is known: the wall contour of
    every PROBE_SECTION_STRIDE-th section with the blur-free fat test (the probe's plain mean), and the blur
    on its plaque edges (``_plaque_blur_sigma_mm``; the edges' peak slopes where too few). That test moves the
    edges of bright walls outward, which shifts the mean profile but does not widen it."""
    probe = wall.every(PROBE_SECTION_STRIDE)
    allowed = probe.candidates & _fat_beyond(_probe_bands_hu(probe.smooth, grid, params), fat_hu, 0.0, params)
    path = _closed_contour(probe.peaks, allowed, grid, params)
    sigma_mm = _plaque_blur_sigma_mm(probe.samples_hu, grid, path.radii_mm, path.on_edge & ~probe.has_lumen[:, None],
                                     section_step_mm * PROBE_SECTION_STRIDE, params)
    return path.blur_sigma_mm(probe.smooth, grid, params) if sigma_mm is None else sigma_mm


def _plaque_edges_mm(wall: _WallSamples, grid: PolarGrid, fat_hu: float, blur_sigma_mm: float,
                     params: ContourParameters) -> tuple[np.ndarray, _ClosedPath]:
    """The closed wall path and its edges: (radii (S, A) of the edges before ``blur_corrected_mm``, the path). In
    sections without a lumen (the occlusion) the fat cut is raised by the blur tail of a wall brighter than the
    reference tissue (``_fat_beyond``) and the fat edges are placed by ``fitted_step_radii_mm``; beside a lumen the
    step model does not hold (the lumen's own edge lies within the probe's inner band, under a wall of 1 mm or
    less), and the plain test and the steepest slope stay."""
    plaque = ~wall.has_lumen[:, None, None]
    tail = np.where(plaque, blur_tail_fraction(blur_sigma_mm, grid, params), 0.0)
    allowed = wall.candidates & _fat_beyond(_probe_bands_hu(wall.smooth, grid, params), fat_hu, tail, params)
    path = _closed_contour(wall.peaks, allowed, grid, params)
    index = np.rint((path.radii_mm - grid.radii_mm[0]) / grid.radial_step_mm).astype(int)
    # the bands again rather than kept through the path search (peak memory); the wall's HU at the edges only
    edge_wall_hu = _edge_wall_hu(_probe_bands_hu(wall.smooth, grid, params), index, tail[..., 0])
    bright = (_layered_bright_wall_sections(edge_wall_hu, central_lumen_hu(wall.smooth, grid), path.on_edge, params)
              & plaque[:, 0, 0])
    fitted = np.empty(index.shape)
    fitted[~bright] = fitted_step_radii_mm(wall.smooth[~bright], grid, index[~bright], blur_sigma_mm, params)
    fitted[bright] = fitted_step_radii_mm(wall.smooth[bright], grid, index[bright], blur_sigma_mm, params,
                                          (params.bright_wall_step_fit_inside_mm,
                                           params.bright_wall_step_fit_outside_mm))
    return np.where(path.on_edge & plaque[..., 0], fitted, path.radii_mm), path


def _resolution_window_sections(section_step_mm: float) -> int:
    """Sections in RESOLUTION_WINDOW_MM of vessel (at least one)."""
    return max(1, int(round(RESOLUTION_WINDOW_MM / section_step_mm)))


def bridged_from_fat_edges_mm(radii_mm: np.ndarray, fat_edge: np.ndarray, section_step_mm: float) -> np.ndarray:
    """Outer-wall radii (S, A) with each bridged ray (not on a fat edge) at the mean radius of the fat-edge rays of
    its section and its neighbours over RESOLUTION_WINDOW_MM (sections ``section_step_mm`` apart): the wall as a
    circle about the (re-centred) centerline where the image shows no edge.

    The closed path bridges a gap in the fat edges (tissue touching the vessel, noise failing the fat test) at the
    radius where it entered the gap, and it enters where the edge next to the touching tissue is pulled in: on
    the phantoms bridged rays read 0.05..0.1 mm inside the true wall (0.6 to 1.8% of plaque volume on the presets,
    more under 55 HU of textured noise, which bridges 40% of the rays). Not done: an off-centre circle fitted to
    the fat-edge rays extrapolates their noise across the gap (a 55 HU case's section area 10% small).
    The mean over neighbours steadies it under noise (one section's mean moved the local-area measure by 0.02).
    Sections whose window has fewer than MIN_FIT_FAT_EDGE_FRACTION of its rays on a fat edge keep the path."""
    window = _resolution_window_sections(section_step_mm)
    count = ndimage.uniform_filter1d(np.count_nonzero(fat_edge, axis=1).astype(float), window, mode="nearest")
    total_mm = ndimage.uniform_filter1d(np.sum(np.where(fat_edge, radii_mm, 0.0), axis=1), window, mode="nearest")
    mean_mm = total_mm / np.maximum(count, 1e-9)
    kept = fat_edge | (count < MIN_FIT_FAT_EDGE_FRACTION * fat_edge.shape[1])[:, None]
    return np.where(kept, radii_mm, mean_mm[:, None])


def _interpolated_along_vessel(radii_mm: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Radii (S, A) with the ``gap`` sections (S,) interpolated along the vessel, per angle and linearly in the section
    index, between the nearest sections outside it (the first or last of those beyond the ends); unchanged where every
    section or none lies in the gap."""
    if not gap.any() or gap.all():
        return radii_mm
    sections = np.arange(len(radii_mm))
    result = radii_mm.copy()
    for angle in range(radii_mm.shape[1]):
        result[gap, angle] = np.interp(sections[gap], sections[~gap], radii_mm[~gap, angle])
    return result


def detect_vessel_wall(samples_hu: np.ndarray, grid: PolarGrid, lumen_radii_mm: np.ndarray,
                       section_step_mm: float, params: ContourParameters = ContourParameters(),
                       blur_sigma_mm: float | None = None, fat_hu: float | None = None) -> WallContour:
    """Outer vessel wall: the wall/epicardial-fat edge (see module doc), with its support per ray.

    blur_sigma_mm: the scanner's blur where it is already known for this vessel (a re-centring pass after the
    first, on nearly the same sections): it is then used as it is, neither probed first nor measured again on
    the edges found. fat_hu: ``fat_level_hu`` of these samples where already measured (measured here when None).

    The HU levels of the edge test sit between the measured fat level F (``fat_level_hu``) and a
    reference wall tissue T (``tissue_reference_hu``): fat beyond the edge is below F + 0.35 (T - F),
    tissue inside it reaches F + 0.6 (T - F), tissue re-entered after fat is above F + 0.5 (T - F)
    (-30, 20 and 0 HU for fat at -100 HU).

    "Beyond" is the mean of the profile 0.3..0.7 mm outside (a band, not a single sample: with one sample
    there, noise in a lipid core next to bright fat (-40 HU) made edges inside the plaque, -9% volume at
    30 HU noise). With that plain test alone, bright walls failed under a clinical blur: a 300 HU wall
    against -100 HU fat under a 0.5 mm blur leaves -32 HU there at the true edge, at the -30 HU cut, so
    20 HU of noise rejected the true edge on about half the rays, only edges 0.1..0.2 mm farther out
    qualified, and the volume read +7..+10% (200..300 HU, 0.5 mm). So in the occlusion the cut is raised by
    the tail of the wall's contrast above the reference tissue (``_fat_beyond``), with the blur measured
    first (``_probe_blur_sigma_mm``), and the fat edges are placed by fitting a blurred step
    (``fitted_step_radii_mm``). Not done: moving the probe out with the blur (0.85..2 sigmas) let the flanks
    of calcium and of the lumen qualify (volume -7..-9% at 0.5..0.6 mm blur on the blur/noise/fat sweep);
    removing the whole tail of the edge's contrast (not only the part above the reference tissue) widened the
    window inward for 100 HU walls, and the path then took edges inside them (-5.7% at 0.5 mm blur).
    Limits: the model is one step; a wall bright at its edge over a darker core is fitted over a window reaching
    less far inside (``fitted_step_radii_mm``); a 0.6 mm, 230 HU layer under a 0.45 mm blur and 40 HU noise still
    reads +1.7 to +2.9% (+5.1 to +5.8% with the symmetric window). Something brighter than the wall within the
    inner band (a calcified nodule within about 0.7 mm of the outer wall) raises the cut too far, and its flank
    may qualify; beside a lumen the plain test stays (see ``_plaque_edges_mm``).

    An occluded section where no ray finds a fat edge has no path of its own (every score is zero: the path lies at
    the centre); it is interpolated along the vessel from the nearest sections either side (``heart``: five sections
    5.5 mm after P, between the myocardium and the vein; the former small-blur correction sigma^2 / (2 r), with r
    floored at one radial step, had put that centre path 2.45 mm out, by chance near the true 2.5 mm wall).
    """
    fat_hu = fat_level_hu(samples_hu, grid, params) if fat_hu is None else fat_hu
    wall = _WallSamples.of(samples_hu, *_profile_and_strength(samples_hu, grid, params), grid, fat_hu, lumen_radii_mm,
                           params)
    return _vessel_wall(wall, grid, lumen_radii_mm, section_step_mm, fat_hu, params, blur_sigma_mm)


def _vessel_wall(wall: _WallSamples, grid: PolarGrid, lumen_radii_mm: np.ndarray, section_step_mm: float,
                 fat_hu: float, params: ContourParameters, blur_sigma_mm: float | None) -> WallContour:
    """``detect_vessel_wall`` on what is derived from its samples (``_WallSamples``)."""
    has_lumen = wall.has_lumen
    probe_sigma_mm = blur_sigma_mm if blur_sigma_mm is not None else _probe_blur_sigma_mm(
        wall, grid, fat_hu, section_step_mm, params)
    steepest, path = _plaque_edges_mm(wall, grid, fat_hu, probe_sigma_mm, params)
    fat_edge = path.on_edge
    wall_blur_sigma_mm = blur_sigma_mm if blur_sigma_mm is not None else _plaque_blur_sigma_mm(
        wall.samples_hu, grid, steepest, fat_edge & ~has_lumen[:, None], section_step_mm, params)
    if wall_blur_sigma_mm is None:
        wall_blur_sigma_mm = path.blur_sigma_mm(wall.smooth, grid, params)
    radii = _interpolated_along_vessel(blur_corrected_mm(steepest, wall_blur_sigma_mm),
                                       ~has_lumen & ~fat_edge.any(axis=1))
    window = _resolution_window_sections(section_step_mm)
    edge_fraction = ndimage.uniform_filter1d(np.mean(fat_edge, axis=-1), window, mode="nearest")
    resolved = ~has_lumen | (edge_fraction >= MIN_RESOLVED_RAY_FRACTION)
    radii = np.where(resolved[:, None], np.maximum(radii, lumen_radii_mm + params.min_wall_mm),
                     lumen_radii_mm + params.normal_wall_mm)
    sigma_sections = params.along_vessel_sigma_mm / section_step_mm
    smoothed = _smooth_along_vessel(radii, np.ones(len(radii), bool), sigma_sections)
    return WallContour(np.maximum(smoothed, lumen_radii_mm + params.min_wall_mm), fat_edge & resolved[:, None],
                       resolved, wall_blur_sigma_mm, fat_hu)


def angular_neighbours(angle_rad, angle_count: int):
    """For contours sampled at ``angle_count`` equal angles: the sampled angles either side of each
    angle (indices below, above, periodic) and the linear weight of the one above."""
    position = (np.asarray(angle_rad) % (2 * np.pi)) / (2 * np.pi) * angle_count
    below = np.floor(position).astype(int) % angle_count
    return below, (below + 1) % angle_count, position - np.floor(position)


def contour_area_mm2(radii_mm: np.ndarray) -> np.ndarray:
    """Area (mm^2) enclosed by polar contours r(theta) sampled at equal angles: 1/2 sum r^2 dtheta."""
    return 0.5 * np.sum(radii_mm ** 2, axis=-1) * (2.0 * np.pi / radii_mm.shape[-1])


def mean_diameter_mm(radii_mm: np.ndarray) -> np.ndarray:
    """Mean of the diameters through the centre, r(theta) + r(theta + pi), over theta."""
    half = radii_mm.shape[-1] // 2
    return np.mean(radii_mm[..., :half] + radii_mm[..., half:2 * half], axis=-1)
