"""The segments CTOPlaque writes, coded once for every format that carries them: the DICOM SEG
(dicom_results) and Slicer's ``.seg.nrrd`` (segmentation_file, whose terminology tags hold the same codes).

Codes and meanings are those of the DICOM Standard's context groups (PS3.16): the components CID 3495
(IVUS Plaque Composition), the virtual-histology classes whose CT analogues the seed paper measures; the
whole plaque CID 3810 (Vascular Morphology); the lumen CID 3497 (IVUS Arterial Morphology); the categories
CID 7150 (Segmentation Property Category); the anatomic region CID 4. Plain data here, so that writing a
.seg.nrrd needs no DICOM library.
"""

from __future__ import annotations

from dataclasses import dataclass

from .composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS


@dataclass(frozen=True)
class Concept:
    """A coded concept: code value, coding scheme designator, code meaning."""

    value: str
    scheme: str
    meaning: str


@dataclass(frozen=True)
class Segment:
    """One segment: label shown to the reader, category and type codes, display colour (RGB, 0..1)."""

    label: str
    category: Concept
    type: Concept
    color_rgb: tuple


MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Concept("49755003", "SCT", "Morphologically Abnormal Structure")
ANATOMICAL_STRUCTURE = Concept("91723000", "SCT", "Anatomical Structure")
CORONARY_ARTERY = Concept("41801008", "SCT", "Coronary artery")
COMPONENT_TYPES = {
    "necrotic_core": Concept("122395", "DCM", "Necrotic-Lipidic Plaque"),
    "fibrofatty": Concept("122394", "DCM", "Fibro-Lipidic Plaque"),
    "fibrous": Concept("40772000", "SCT", "Fibrous Plaque"),
    "dense_calcium": Concept("237897009", "SCT", "Vascular Calcification"),
}
LUMEN = "lumen"
PLAQUE = "plaque"
# Segment name -> Segment, in segment-number order: the four components (numbers 1..4, their labelmap values),
# the lumen (5), the whole plaque between P and D (6, which holds the four components).
SEGMENTS = {
    **{name: Segment(COMPONENT_NAMES[name], MORPHOLOGICALLY_ABNORMAL_STRUCTURE, COMPONENT_TYPES[name],
                     COMPONENT_COLORS[name]) for name in COMPONENTS},
    LUMEN: Segment("Lumen", ANATOMICAL_STRUCTURE, Concept("67170007", "SCT", "Lumen of artery"), (1.0, 0.85, 0.0)),
    PLAQUE: Segment("Plaque", MORPHOLOGICALLY_ABNORMAL_STRUCTURE, Concept("1522000", "SCT", "plaque"),
                    (0.85, 0.55, 0.25)),
}


def segment_number(name: str) -> int:
    """The DICOM segment number (1-based) of segment ``name``."""
    return list(SEGMENTS).index(name) + 1
