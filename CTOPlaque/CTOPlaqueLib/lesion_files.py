"""All per-lesion files, written all-or-nothing into one folder."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from .analysis import LesionAnalysis
from .contour_masks import ContourMasks, contour_masks, write_contour_segmentation
from .export import flat_row, profile_rows, rounded_for_export, write_rows_csv
from .labelmap import LesionLabelmaps, lesion_labelmaps, with_lumen
from .lesion_report import lesion_report_html
from .plots import write_profile_png, write_straightened_png
from .segmentation_file import write_composition_segmentation
from .segments import LUMEN, segment_number
from .staging import staged_outputs, write_json
from .straightening import StraightenedVessel, straighten
from .volume_io import Volume

OUTPUT_SUFFIXES = {"lesion_json": ".lesion.json", "lesion_csv": ".lesion.csv", "profile_csv": ".profile.csv",
                   "segmentation": ".composition.seg.nrrd", "profile_png": ".profile.png",
                   "straightened_png": ".straightened.png", "report_html": ".report.html",
                   "contours": ".contours.seg.nrrd"}


@dataclass
class LesionImages(LesionLabelmaps):
    """The images built from one analysis: the plaque, composition and lumen labelmaps on the CT grid
    (LesionLabelmaps), the lumen and outer-wall segments it was measured with (contour_masks) and the straightened
    vessel. Built once: the Slicer module shows them in the scene and passes them on to the files. The
    straightened vessel is built when first asked for (the Slicer module shows it; the files need only its two
    longitudinal sections, which the straightened PNG samples alone)."""

    contours: ContourMasks
    volume: Volume
    analysis: LesionAnalysis

    @functools.cached_property
    def straightened(self) -> StraightenedVessel:
        return straighten(self.volume, self.analysis)


def lesion_images(volume: Volume, analysis: LesionAnalysis, contours: ContourMasks = None) -> LesionImages:
    """contours: the segments the analysis was measured with where given (the reader's), else its own contours'."""
    labelmaps = lesion_labelmaps(volume, analysis)
    return LesionImages(labelmaps.plaque, labelmaps.composition, labelmaps.lumen,
                        contours or contour_masks(volume, analysis), volume, analysis)


def write_lesion_files(out_dir: str, volume: Volume, analysis: LesionAnalysis, document: dict,
                       extra_files=None, images: LesionImages = None) -> dict:
    """Write <lesion_id>.lesion.json, .lesion.csv, .profile.csv, .composition.seg.nrrd, .contours.seg.nrrd (the
    editable lumen and vessel-wall segments), .profile.png, .straightened.png and the one-page .report.html of an
    analysed lesion and its document (export.lesion_document, rounded for the files by export.rounded_for_export);
    nothing is computed here but the files' own content.

    extra_files: optional {file name: writer(path)} written in the same all-or-nothing step.
    images: the analysis's LesionImages where already built (``lesion_images(volume, analysis)`` otherwise).
    Returns {output kind (or extra file name): final path} and the lesion document under "document".
    """
    lesion_id, patient_id = document["lesion_id"], document["patient_id"]
    images = images or lesion_images(volume, analysis)
    names = {kind: lesion_id + suffix for kind, suffix in OUTPUT_SUFFIXES.items()}
    document["outputs"] = sorted(names.values())
    with staged_outputs(out_dir) as staging:
        def staged(kind):
            return os.path.join(staging, names[kind])

        exported = rounded_for_export(document)
        write_json(staged("lesion_json"), exported)
        write_rows_csv(staged("lesion_csv"), [flat_row(exported)])
        write_rows_csv(staged("profile_csv"), rounded_for_export(profile_rows(analysis)))
        write_composition_segmentation(staged("segmentation"),
                                       with_lumen(images.composition, images.lumen, segment_number(LUMEN)))
        write_contour_segmentation(staged("contours"), images.contours)
        write_profile_png(staged("profile_png"), analysis, title=f"{patient_id} / {lesion_id}")
        write_straightened_png(staged("straightened_png"), volume, analysis,
                               title=f"{patient_id} / {lesion_id}")
        with open(staged("straightened_png"), "rb") as straightened, open(staged("profile_png"), "rb") as profile:
            report = lesion_report_html(exported, straightened.read(), profile.read())
        with open(staged("report_html"), "w", encoding="utf-8") as handle:
            handle.write(report)
        for name, writer in (extra_files or {}).items():
            writer(os.path.join(staging, name))
    paths = {kind: os.path.join(out_dir, name) for kind, name in names.items()}
    paths.update({name: os.path.join(out_dir, name) for name in extra_files or {}})
    paths["document"] = document
    return paths
