"""Every setting of a lesion analysis in one frozen, validated object: defaults, file form and hash.

The command line (``--settings FILE.json``, ``--thresholds-hu``, ``--step-mm``), the batch, the Slicer
panel and the tests take their defaults from ``AnalysisSettings()``; ``lesion.json`` records the
complete effective settings and their SHA-256 (``settings_sha256``), and the batch treats a case as
up to date only when that hash matches too. A settings file is a JSON object holding any part of
``AnalysisSettings().to_dict()`` (as pyradiomics' parameter files hold any part of its defaults):

    {"thresholds_hu": [-30, 76, 131, 351], "step_mm": 0.25, "contour": {"fat_cut_fraction": 0.35}}

An unknown key, a value of the wrong type or out of its range (a whole-number setting counts something and must be
at least 1) is a CTOPlaqueInputError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

from .centerline_extraction import ExtractionParameters
from .composition import HuThresholds
from .contours import ContourParameters
from .crosssection import PolarGrid
from .errors import CTOPlaqueInputError
from .scores import SCORE_DEFINITIONS_VERSION

# (low, high) inclusive ranges of the top-level numbers; every other number must be finite, and >= 0 unless
# it is in HU (its name ends in _hu).
RANGES = {"step_mm": (0.01, 0.25), "max_radius_mm": (2.0, 10.0), "radial_step_mm": (0.01, 0.2),
          "angle_count": (16, 360)}


@dataclass(frozen=True)
class AnalysisSettings:
    """step_mm: distance between cross-sections (mm); thresholds: HU bins of the components; the polar grid
    (max_radius_mm, radial_step_mm, angle_count); contour detection (ContourParameters); centerline
    extraction from seeds (ExtractionParameters); the version of the difficulty-score tables."""

    step_mm: float = 0.25
    thresholds: HuThresholds = field(default_factory=HuThresholds)
    max_radius_mm: float = 4.5
    radial_step_mm: float = 0.05
    angle_count: int = 72
    contour: ContourParameters = field(default_factory=ContourParameters)
    centerline: ExtractionParameters = field(default_factory=ExtractionParameters)
    scores_version: str = SCORE_DEFINITIONS_VERSION

    def __post_init__(self):
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise CTOPlaqueInputError(f"setting {name} = {value:g} is outside {low:g}..{high:g}")
        if self.angle_count % 2:  # the lumen test pairs each ray with its opposite (contours._opposite)
            raise CTOPlaqueInputError(f"setting angle_count = {self.angle_count} must be even")
        for group in ("contour", "centerline"):
            for key, value in dataclasses.asdict(getattr(self, group)).items():
                for number in value if isinstance(value, (list, tuple)) else [value]:
                    if not (math.isfinite(number) and (number >= 0 or key.endswith("_hu"))):
                        raise CTOPlaqueInputError(f"setting {group}.{key} = {value} must be a finite number"
                                                  + ("" if key.endswith("_hu") else " >= 0"))
                if isinstance(value, int) and value < 1:  # whole-number settings count passes, rays or sections
                    raise CTOPlaqueInputError(f"setting {group}.{key} = {value} must be at least 1")

    def grid(self) -> PolarGrid:
        return PolarGrid.make(self.max_radius_mm, self.radial_step_mm, self.angle_count)

    def to_dict(self) -> dict:
        """The complete settings as JSON-ready values (the form of a settings file)."""
        return {"step_mm": self.step_mm, "thresholds_hu": list(self.thresholds.lower_bounds_hu),
                "max_radius_mm": self.max_radius_mm, "radial_step_mm": self.radial_step_mm,
                "angle_count": self.angle_count, "contour": _plain(dataclasses.asdict(self.contour)),
                "centerline": _plain(dataclasses.asdict(self.centerline)), "scores_version": self.scores_version}

    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of ``to_dict()``: equal settings, equal hash."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_dict(cls, values: dict, source: str = "settings") -> "AnalysisSettings":
        """Defaults overridden by ``values`` (any part of ``to_dict()``); errors name ``source`` and the key."""
        if not isinstance(values, dict):
            raise CTOPlaqueInputError(f"{source}: settings must be a JSON object")
        defaults = cls().to_dict()
        merged = _merge(defaults, values, source, "")
        try:
            return cls(step_mm=float(merged["step_mm"]),
                       thresholds=HuThresholds(tuple(map(float, merged["thresholds_hu"]))),
                       max_radius_mm=float(merged["max_radius_mm"]), radial_step_mm=float(merged["radial_step_mm"]),
                       angle_count=int(merged["angle_count"]), contour=ContourParameters(**merged["contour"]),
                       centerline=_extraction_parameters(merged["centerline"]),
                       scores_version=str(merged["scores_version"]))
        except CTOPlaqueInputError as error:
            raise CTOPlaqueInputError(f"{source}: {error}") from None

    def with_overrides(self, step_mm=None, thresholds_hu: str = "") -> "AnalysisSettings":
        """These settings with the command line's --step-mm and --thresholds-hu applied where given."""
        changes = {}
        if step_mm is not None:
            changes["step_mm"] = step_mm
        if thresholds_hu:
            changes["thresholds"] = HuThresholds.parse(thresholds_hu)
        return dataclasses.replace(self, **changes)


def _plain(values: dict) -> dict:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


def _extraction_parameters(values: dict) -> ExtractionParameters:
    tuples = {key: tuple(value) for key, value in values.items() if isinstance(value, list)}
    return ExtractionParameters(**{**values, **tuples})


def _merge(defaults: dict, values: dict, source: str, prefix: str) -> dict:
    """``defaults`` with ``values`` applied key by key; unknown keys and wrong types are errors."""
    merged = dict(defaults)
    for key, value in values.items():
        name = prefix + key
        if key not in defaults:
            raise CTOPlaqueInputError(f"{source}: unknown setting {name!r} (known: {', '.join(sorted(defaults))})")
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise CTOPlaqueInputError(f"{source}: setting {name!r} must be an object")
            merged[key] = _merge(default, value, source, name + ".")
        elif isinstance(default, list):
            if not (isinstance(value, list) and len(value) == len(default) and all(_is_number(v) for v in value)):
                raise CTOPlaqueInputError(f"{source}: setting {name!r} must be a list of {len(default)} numbers")
            merged[key] = value
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise CTOPlaqueInputError(f"{source}: setting {name!r} must be text")
            merged[key] = value
        elif not _is_number(value) or (isinstance(default, int) and not float(value).is_integer()):
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise CTOPlaqueInputError(f"{source}: setting {name!r} must be {kind}, not {value!r}")
        else:
            merged[key] = type(default)(value)
    return merged


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_settings_file(path: str) -> AnalysisSettings:
    """AnalysisSettings from a JSON settings file (any part of the defaults)."""
    try:
        with open(path, encoding="utf-8") as handle:
            values = json.load(handle)
    except OSError:
        raise CTOPlaqueInputError(f"settings file not found or unreadable: {path}") from None
    except ValueError as error:
        raise CTOPlaqueInputError(f"{path} is not valid JSON ({error})") from None
    return AnalysisSettings.from_dict(values, path)
