"""CTO difficulty scores as data: one table per score (item, weight, source), and one function that adds them up.

Item values come from the image (the lesion morphology) or are entered by the user (clinical items).
A score is missing, not zero, when any of its items is unknown; every score records which items were
computed and which were entered. A new score or a corrected weight is a change to the tables below.

Verification (search of stored publications, 2026-11): J-CTO items, one point each, and its categories
easy 0 / intermediate 1 / difficult 2 / very difficult >= 3 (Morino et al., JACC Cardiovasc Interv
2011;4:213; restated by Christopoulos et al., Circ Cardiovasc Interv 2015); the CCTA-derived J-CTO uses
the same items read on CT (Fujino et al. 2018; the seed paper's reference 10). KCCT items are those of
Yu et al., Circ Cardiovasc Imaging 2017;10:e005800 (abstract); their published point weights could not
be read in the stored material, so KCCT is marked unverified and not computed until they are entered.
CT-RECTOR items are those of Opolski et al., JACC Cardiovasc Interv 2015;8:257, one point each.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CTOPlaqueInputError

CLINICAL_ITEMS = ("retry", "previous_failed_attempt", "duration_ge_12_months_or_unknown", "multiple_occlusions",
                  "proximal_side_branch", "whole_luminal_calcification")
# Every item as a report names it.
ITEM_LABELS = {"blunt_stump": "blunt stump", "calcification": "calcification", "bending_gt_45": "bending > 45°",
               "length_ge_20mm": "length ≥ 20 mm", "length_ge_15mm": "length ≥ 15 mm",
               "severe_calcification": "severe calcification", "retry": "retry",
               "previous_failed_attempt": "previous failed attempt",
               "duration_ge_12_months_or_unknown": "duration ≥ 12 months or unknown",
               "multiple_occlusions": "multiple occlusions", "proximal_side_branch": "proximal side branch",
               "whole_luminal_calcification": "whole-luminal calcification"}


@dataclass(frozen=True)
class ScoreItem:
    item: str
    weight: float
    source: str


@dataclass(frozen=True)
class Score:
    name: str
    items: tuple
    verified: bool
    reference: str
    categories: tuple = ((0, "easy"), (1, "intermediate"), (2, "difficult"), (3, "very difficult"))

    def category(self, total: float) -> str:
        label = self.categories[0][1]
        for threshold, name in self.categories:
            if total >= threshold:
                label = name
        return label


MORINO_2011 = "Morino Y et al. JACC Cardiovasc Interv 2011;4:213-21"
FUJINO_2018 = "Fujino A et al. JACC Cardiovasc Interv 2018;11:1839-47"
OPOLSKI_2015 = "Opolski MP et al. JACC Cardiovasc Interv 2015;8:257-67"
YU_2017 = "Yu CW et al. Circ Cardiovasc Imaging 2017;10:e005800"

# Raised whenever an item, weight or category of SCORES changes, so that results know which tables made them.
SCORE_DEFINITIONS_VERSION = "1"

SCORES = (
    Score("J-CTO", (ScoreItem("blunt_stump", 1, MORINO_2011), ScoreItem("calcification", 1, MORINO_2011),
                    ScoreItem("bending_gt_45", 1, MORINO_2011), ScoreItem("length_ge_20mm", 1, MORINO_2011),
                    ScoreItem("retry", 1, MORINO_2011)), True, MORINO_2011),
    Score("CCTA J-CTO", (ScoreItem("blunt_stump", 1, FUJINO_2018), ScoreItem("calcification", 1, FUJINO_2018),
                         ScoreItem("bending_gt_45", 1, FUJINO_2018), ScoreItem("length_ge_20mm", 1, FUJINO_2018),
                         ScoreItem("retry", 1, FUJINO_2018)), True, FUJINO_2018),
    Score("CT-RECTOR", (ScoreItem("multiple_occlusions", 1, OPOLSKI_2015), ScoreItem("blunt_stump", 1, OPOLSKI_2015),
                        ScoreItem("severe_calcification", 1, OPOLSKI_2015),
                        ScoreItem("bending_gt_45", 1, OPOLSKI_2015),
                        ScoreItem("duration_ge_12_months_or_unknown", 1, OPOLSKI_2015),
                        ScoreItem("previous_failed_attempt", 1, OPOLSKI_2015)), True, OPOLSKI_2015),
    Score("KCCT", tuple(ScoreItem(item, None, YU_2017) for item in (
        "blunt_stump", "proximal_side_branch", "bending_gt_45", "length_ge_15mm", "severe_calcification",
        "whole_luminal_calcification", "retry", "duration_ge_12_months_or_unknown")), False, YU_2017),
)


MIN_CALCIUM_VOLUME_MM3 = 1.0
SEVERE_CALCIUM_FRACTION = 0.5


def image_items(morphology: dict, occlusion_length_mm: float, dense_calcium_volume_mm3: float) -> dict:
    """Score items answered by the image: True/False, or None when the image cannot tell.

    calcification (J-CTO: any calcification in the occluded segment): at least 1 mm3 of dense calcium,
    so that a single noisy voxel (about 0.1 mm3) does not count. severe_calcification (CT-RECTOR):
    dense calcium covering >= 50% of a cross-section. Lengths: >= 20 mm (J-CTO), >= 15 mm (KCCT);
    bending: > 45 degrees.
    """
    fraction = morphology.get("max_calcium_area_fraction")
    return {
        "blunt_stump": morphology.get("blunt_stump"),
        "bending_gt_45": morphology.get("bending_gt_45"),
        "length_ge_20mm": occlusion_length_mm >= 20.0,
        "length_ge_15mm": occlusion_length_mm >= 15.0,
        "severe_calcification": None if fraction is None else fraction >= SEVERE_CALCIUM_FRACTION,
        "calcification": dense_calcium_volume_mm3 >= MIN_CALCIUM_VOLUME_MM3,
    }


def parse_clinical_items(values: dict, source: str = "clinical items") -> dict:
    """Entered items {name: true/false/null}; unknown names or non-boolean values are input errors."""
    unknown = sorted(set(values) - set(CLINICAL_ITEMS))
    if unknown:
        raise CTOPlaqueInputError(f"{source}: unknown item(s) {', '.join(unknown)}; known: {', '.join(CLINICAL_ITEMS)}")
    for name, value in values.items():
        if value is not None and not isinstance(value, bool):
            raise CTOPlaqueInputError(f"{source}: {name} must be true, false or null, not {value!r}")
    return dict(values)


def compute_scores(image: dict, entered: dict) -> dict:
    """Every score: total (None if any item unknown or the score is unverified), category, item sources."""
    results = {}
    for score in SCORES:
        values, computed, entered_items, missing = {}, [], [], []
        for item in score.items:
            if entered.get(item.item) is not None:
                values[item.item] = bool(entered[item.item])
                entered_items.append(item.item)
            elif image.get(item.item) is not None:
                values[item.item] = bool(image[item.item])
                computed.append(item.item)
            else:
                missing.append(item.item)
        total = None
        note = ""
        if not score.verified:
            note = "item weights not verified against the publication; score not computed"
        elif missing:
            note = "unknown: " + ", ".join(missing)
        else:
            total = float(sum(item.weight for item in score.items if values[item.item]))
        results[score.name] = {"total": total, "category": None if total is None else score.category(total),
                               "items": values, "computed_items": computed, "entered_items": entered_items,
                               "missing_items": missing, "note": note, "reference": score.reference}
    return results


def score_column(name: str) -> str:
    """Column of a score in the flat row: "J-CTO" -> "j_cto_score"."""
    return name.lower().replace("-", "_").replace(" ", "_") + "_score"


def _as_bool(value):
    """True/False from 1/0, yes/no, true/false cells; None for empty or unknown."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip().lower().removesuffix(".0")
    return {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}.get(text)


def scores_from_row(row: dict) -> dict:
    """Scores of one flat cohort row: image items from its morphology columns, clinical items from columns
    named like CLINICAL_ITEMS (e.g. joined from a clinical CSV). Returns {score column: total or None}."""
    morphology = {"blunt_stump": _as_bool(row.get("blunt_stump")),
                  "bending_gt_45": _as_bool(row.get("bending_gt_45")),
                  "max_calcium_area_fraction": _number(row.get("max_calcium_area_fraction"))}
    image = image_items(morphology, float(row["occlusion_length_mm"]), float(row["dense_calcium_volume_mm3"]))
    entered = {item: _as_bool(row.get(item)) for item in CLINICAL_ITEMS if item in row}
    return {score_column(name): result["total"] for name, result in compute_scores(image, entered).items()}


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number
