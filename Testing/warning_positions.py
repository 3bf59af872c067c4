"""The positions a lesion's warnings name, read from their text, to hold against the panel's warning marks.

A warning that lies at one position says where in its own words: "6.3 mm after P", "1.5 mm before P", "2.5 mm
after D", "17.7 mm from the ostium", or "at S and E". Read back from the text (independently of quality.py's
predicates), each gives the arc position a reader should be taken to, to 0.05 mm (the text's one decimal).
"""

import re

# A phrase of each warning that lies at one position -> the start of its mark's description (section_view).
SITED_WARNINGS = {"closes in to": "wall closes in", "outside the image's wall/fat edge": "wall pushed outward",
                  "lumen contour lies on": "lumen on the outer wall",
                  "the proximal cap's shape (tapered or blunt) is not measured": "cap shape not measured",
                  "ECG-misregistration step": "misregistration step",
                  "no contrast-filled lumen was found at": "no lumen found at",
                  "is at or below the scan's resolution": "wall not resolved at",
                  "the lumen area is uncertain by": "lumen area uncertain",
                  "the wall around the lumen is thinner than the scan resolves": "lumen inside a thin wall"}
_OFFSET = re.compile(r"(\d+\.\d) mm (after|before|from) (P|D|the ostium)")
_LABELS = re.compile(r"(?:found at|the wall at) ((?:[SE])(?: and [SE])?)")


def _leading_offsets(warning: str) -> list:
    """[(distance, "after"/"before"/"from", "P"/"D"/"the ostium")] of the positions a warning opens with, joined by
    " and " where it names both sides ("2.0 mm before P and 2.0 mm after D ...")."""
    offsets, start = [], 0
    while (offset := _OFFSET.match(warning, start)):
        offsets.append(offset.groups())
        start = offset.end() + len(" and ") if warning.startswith(" and ", offset.end()) else len(warning)
    return offsets


def warned_positions(warnings: list, landmarks_mm: dict) -> list:
    """[(mark description start, arc position mm)] of the warnings that lie at one position, in any order: one per
    landmark a reference warning names (those given in ``landmarks_mm``)."""
    positions = []
    for warning in warnings:
        kinds = [kind for phrase, kind in SITED_WARNINGS.items() if phrase in warning]
        if not kinds:
            continue
        offsets = _leading_offsets(warning)
        if offsets:
            for distance, side, origin in offsets:
                base_mm = 0.0 if origin == "the ostium" else landmarks_mm[origin]
                positions.append((kinds[0], base_mm + (-1.0 if side == "before" else 1.0) * float(distance)))
        else:
            labels = _LABELS.search(warning)[1].split(" and ")
            positions += [(kinds[0], landmarks_mm[label]) for label in labels if label in landmarks_mm]
    return positions


def assert_marks_are_the_warnings(warnings: list, marks: list, landmarks_mm: dict) -> None:
    """Every warning that lies at one position has its mark there, and every mark has its warning."""
    expected = sorted(warned_positions(warnings, landmarks_mm))
    found = sorted((next(kind for kind in SITED_WARNINGS.values() if description.startswith(kind)), position_mm)
                   for description, position_mm in marks)
    assert [kind for kind, _ in found] == [kind for kind, _ in expected], (marks, warnings)
    for (_, mark_mm), (_, warned_mm) in zip(found, expected):
        assert abs(mark_mm - warned_mm) <= 0.05 + 1e-9, (marks, warnings)
