"""Where the lesion is: its target vessel and SCCT coronary segment, and the SNOMED CT concept of that artery.

The seed paper located lesions by the SCCT segment model, and every CTO cohort reports the target vessel
(LAD, LCX and RCA occlusions differ). Segments are those of the SCCT 2014 guidelines for the interpretation of
coronary CT angiography (Leipsic et al., J Cardiovasc Comput Tomogr 2014;8:342), 1-18; each belongs to one of
the target vessels below, so a vessel and a segment that do not go together are an input error. The DICOM SR
codes the finding site with the artery's concept from DICOM CID 3015 "Coronary Artery" (code and meaning as the
standard gives them, read from pydicom's copy of it); where the artery depends on the segment (the first or
second diagonal or marginal, the right or left posterior descending and posterolateral), the segment decides.
"""

from __future__ import annotations

from .errors import CTOPlaqueInputError

# SCCT 2014 segment number -> name.
SCCT_SEGMENTS = {1: "proximal RCA", 2: "mid RCA", 3: "distal RCA", 4: "R-PDA", 5: "left main", 6: "proximal LAD",
                 7: "mid LAD", 8: "distal LAD", 9: "D1", 10: "D2", 11: "proximal LCX", 12: "OM1",
                 13: "mid and distal LCX", 14: "OM2", 15: "L-PDA", 16: "R-PLB", 17: "ramus intermedius",
                 18: "L-PLB"}
# Target vessel -> its SCCT segments.
VESSEL_SEGMENTS = {"LM": (5,), "LAD": (6, 7, 8), "diagonal": (9, 10), "LCX": (11, 13), "obtuse marginal": (12, 14),
                   "ramus": (17,), "RCA": (1, 2, 3), "PDA": (4, 15), "posterolateral": (16, 18)}
# SNOMED CT artery (CID 3015 keyword of pydicom's codes.SCT) by vessel, and by segment where the segment decides.
VESSEL_ARTERY = {"LM": "LeftMainCoronaryArtery", "LAD": "LeftAnteriorDescendingCoronaryArtery",
                 "LCX": "CircumflexCoronaryArtery", "obtuse marginal": "MarginalCoronaryArtery",
                 "ramus": "IntermediateArteryRamus", "RCA": "RightCoronaryArtery"}
SEGMENT_ARTERY = {9: "_1stDiagonalCoronaryArtery", 10: "_2ndDiagonalCoronaryArtery",
                  12: "_1stMarginalCoronaryArtery", 14: "_2ndMarginalCoronaryArtery",
                  4: "PosteriorDescendingRightCoronaryArtery", 15: "LeftPosteriorDescendingCircumflexCoronaryArtery",
                  16: "PosterolateralBranchOfRightCoronaryArtery", 18: "LeftPosterolateralCircumflexCoronaryArtery"}


def parse_location(vessel: str = "", segment=None) -> dict:
    """{"vessel", "segment", "segment_name"} from an entered vessel (one of VESSEL_SEGMENTS, any case) and SCCT
    segment (1-18, a number or its text); either may be missing (None, "") and the vessel follows from the
    segment. {} when neither is given. CTOPlaqueInputError for an unknown vessel or segment, or a pair that
    does not go together."""
    vessel = (vessel or "").strip()
    segment_text = "" if segment is None else str(segment).strip()
    if not vessel and not segment_text:
        return {}
    number = None
    if segment_text:
        if not segment_text.isdecimal() or int(segment_text) not in SCCT_SEGMENTS:
            raise CTOPlaqueInputError(f"SCCT segment {segment_text!r} is not a number from 1 to 18")
        number = int(segment_text)
    if vessel:
        known = {name.lower(): name for name in VESSEL_SEGMENTS}
        if vessel.lower() not in known:
            raise CTOPlaqueInputError(f"target vessel {vessel!r} is not one of {', '.join(VESSEL_SEGMENTS)}")
        vessel = known[vessel.lower()]
    else:
        vessel = next(name for name, numbers in VESSEL_SEGMENTS.items() if number in numbers)
    if number is not None and number not in VESSEL_SEGMENTS[vessel]:
        raise CTOPlaqueInputError(
            f"SCCT segment {number} ({SCCT_SEGMENTS[number]}) is not on the {vessel}, whose segments are "
            + ", ".join(f"{n} ({SCCT_SEGMENTS[n]})" for n in VESSEL_SEGMENTS[vessel]))
    return {"vessel": vessel, "segment": number, "segment_name": None if number is None else SCCT_SEGMENTS[number]}


def artery_keyword(location: dict) -> str | None:
    """The CID 3015 keyword (pydicom codes.SCT) of the lesion's artery; None without a location, or for a
    diagonal, PDA or posterolateral branch without its segment (which of two arteries is unknown)."""
    if not location:
        return None
    return SEGMENT_ARTERY.get(location["segment"]) or VESSEL_ARTERY.get(location["vessel"])


def location_text(location: dict) -> str:
    """"LAD, SCCT segment 7 (mid LAD)", "LAD", or "not entered"."""
    if not location:
        return "not entered"
    if location["segment"] is None:
        return location["vessel"]
    return f"{location['vessel']}, SCCT segment {location['segment']} ({location['segment_name']})"
