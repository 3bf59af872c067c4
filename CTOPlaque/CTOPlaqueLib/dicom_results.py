"""A lesion's results as DICOM objects that PACS and viewers show beside the source CT series.

* SEG (``ID.seg.dcm``): one binary segment per plaque component between P and D and one for the lumen,
  on the source series' frames, with its Frame of Reference, Patient and Study. Components are coded
  with DICOM CID 3495 (IVUS Plaque Composition), the virtual-histology classes whose CT analogues the
  seed paper measures: necrotic core = Necrotic-Lipidic Plaque (DCM 122395), fibrofatty = Fibro-Lipidic
  Plaque (DCM 122394), fibrous = Fibrous Plaque (SCT 40772000), dense calcium = Calcified (SCT
  237897009); category Morphologically Altered Structure (SCT 49755003). The lumen is Lumen of artery
  (SCT 67170007), category Anatomical Structure. Colours are the paper's, in CIELab.
* SR (``ID.sr.dcm``): a TID 1500 Measurement Report (Comprehensive 3D SR). One measurement group for
  the lesion (tracking identifier: lesion ID and UID; finding: occlusion of a coronary artery) with
  the occlusion length, total plaque and vessel volume, the S/E reference lumen and vessel areas, mean
  lumen diameter and lumen attenuation, and the computed difficulty scores; one volumetric group per
  component that references its SEG segment, with the component's volume and PAV. Units are UCUM. Concepts
  with no standard code (PAV, the reference-section measurements, the scores) use the local scheme
  99CTOPLAQUE, as TID 1500 allows; the observer (``--observer``) is the person observer, CTOPlaque the device.
Written with highdicom, the library of the DICOM Standard's own SR and SEG examples; Slicer's
QuantitativeReporting reads this TID 1500 layout (groups referencing SEG segments).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from . import SOFTWARE_NAME, __version__
from .composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS
from .labelmap import composition_labelmap, labels_on_volume_grid, lumen_labelmap
from .lesion_location import artery_keyword
from .volume_io import Volume

LOCAL_SCHEME = "99CTOPLAQUE"
MORPHOLOGICALLY_ALTERED_STRUCTURE = CodedConcept("49755003", "SCT", "Morphologically Altered Structure")
COMPONENT_CODES = {
    "necrotic_core": CodedConcept("122395", "DCM", "Necrotic-Lipidic Plaque"),
    "fibrofatty": CodedConcept("122394", "DCM", "Fibro-Lipidic Plaque"),
    "fibrous": CodedConcept("40772000", "SCT", "Fibrous Plaque"),
    "dense_calcium": CodedConcept("237897009", "SCT", "Calcified"),
}
LUMEN_SEGMENT = len(COMPONENTS) + 1
LUMEN_COLOR = (1.0, 0.85, 0.0)
PAV = CodedConcept("PAV", LOCAL_SCHEME, "Percent atheroma volume")
UNITS = {"mm": codes.UCUM.Millimeter, "mm2": codes.UCUM.SquareMillimeter, "mm3": codes.UCUM.CubicMillimeter,
         "%": codes.UCUM.Percent, "points": CodedConcept("{points}", "UCUM", "points"), "HU": codes.UCUM.HounsfieldUnit}


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(name=SOFTWARE_NAME, version=__version__,
                                              family=CodedConcept("128480", "DCM", "Analytical Algorithm"))


def _cielab(rgb: tuple) -> hd.color.CIELabColor:
    """DICOM's recommended display colour (CIELab) of an RGB colour with channels in 0..1."""
    return hd.color.CIELabColor.from_rgb(*(int(round(255 * channel)) for channel in rgb))


def _segment_descriptions(lesion_id: str) -> list:
    descriptions = []
    for number, name in enumerate(COMPONENTS, start=1):
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=COMPONENT_NAMES[name],
            segmented_property_category=MORPHOLOGICALLY_ALTERED_STRUCTURE,
            segmented_property_type=COMPONENT_CODES[name], algorithm_type="AUTOMATIC",
            algorithm_identification=_algorithm(), tracking_uid=hd.UID(), tracking_id=f"{lesion_id} {name}",
            anatomic_regions=[codes.SCT.CoronaryArtery], display_color=_cielab(COMPONENT_COLORS[name])))
    descriptions.append(hd.seg.SegmentDescription(
        segment_number=LUMEN_SEGMENT, segment_label="Lumen", segmented_property_category=codes.SCT.AnatomicalStructure,
        segmented_property_type=codes.SCT.LumenOfArtery, algorithm_type="AUTOMATIC",
        algorithm_identification=_algorithm(), tracking_uid=hd.UID(), tracking_id=f"{lesion_id} lumen",
        anatomic_regions=[codes.SCT.CoronaryArtery], display_color=_cielab(LUMEN_COLOR)))
    return descriptions


def build_segmentation(volume: Volume, analysis, sources: list, lesion_id: str,
                       composition=None) -> hd.seg.Segmentation:
    """The SEG of the module docstring on the slices of ``sources`` (datasets ordered by slice k) that
    hold a segment. composition: the analysis's composition labelmap where already built."""
    labels = labels_on_volume_grid(volume, composition or composition_labelmap(volume, analysis))
    labels[labels_on_volume_grid(volume, lumen_labelmap(volume, analysis)) > 0] = LUMEN_SEGMENT
    occupied = np.flatnonzero(labels.reshape(len(labels), -1).any(axis=1))
    first, last = (int(occupied[0]), int(occupied[-1])) if len(occupied) else (0, 0)
    return hd.seg.Segmentation(
        source_images=sources[first:last + 1], pixel_array=labels[first:last + 1],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=_segment_descriptions(lesion_id),
        series_instance_uid=hd.UID(), series_number=901, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=SOFTWARE_NAME, manufacturer_model_name=SOFTWARE_NAME, software_versions=__version__,
        device_serial_number="1", series_description=f"CTOPlaque {lesion_id} composition"[:64])


def person_name(text: str) -> str:
    """A DICOM person name (Family^Given...): a name typed without carets is taken as the family name."""
    return text if "^" in text else f"{text}^"


def _measurement(name: CodedConcept, value: float, unit: str) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=UNITS[unit])


def _lesion_measurements(document: dict) -> list:
    """(concept, value, unit) of the lesion-level measurements of ``document`` (lesion.json)."""
    rows = [(codes.SCT.Length, document["occlusion_length_mm"], "mm"),
            (codes.DCM.TotalPlaqueVolume, document["total_plaque_volume_mm3"], "mm3"),
            (CodedConcept("VESSVOL", LOCAL_SCHEME, "Vessel volume between caps"), document["vessel_volume_mm3"], "mm3")]
    names = {"S": "proximal", "E": "distal"}
    for label, values in sorted(document["reference"].items()):
        for key, meaning, unit in (("lumen_area_mm2", "lumen area", "mm2"), ("vessel_area_mm2", "vessel area", "mm2"),
                                   ("mean_lumen_diameter_mm", "mean lumen diameter", "mm"),
                                   ("lumen_hu", "lumen attenuation", "HU")):
            code = CodedConcept(f"REF{label}{key.split('_')[0][:3].upper()}{unit.upper()}", LOCAL_SCHEME,
                                f"Reference {meaning}, {names[label]} ({label})")
            if values.get(key) is not None:  # None: no lumen found there (see the warnings); absent before
                rows.append((code, values[key], unit))
    for name, score in document.get("scores", {}).items():
        if score["total"] is not None:
            rows.append((CodedConcept(name.upper().replace("-", "")[:16], LOCAL_SCHEME, f"{name} score"),
                         score["total"], "points"))
    return [_measurement(*row) for row in rows]


CONTOURS_EDITED = CodedConcept("CONTEDIT", LOCAL_SCHEME, "Contours edited by the reader")


def contour_review_evaluations(document: dict) -> list:
    """Whether the reader edited the automatic contours before these measurements (lesion.json's ``contours``
    block, contour_review.py): Yes or No (SCT), under a local concept; where, and the automatic figures, are in
    lesion.json."""
    edited = bool((document.get("contours") or {}).get("edited"))
    return [hd.sr.QualitativeEvaluation(CONTOURS_EDITED, codes.SCT.Yes if edited else codes.SCT.No)]


def finding_sites(document: dict) -> list:
    """The lesion's finding site: the SNOMED CT concept of its artery (lesion_location, DICOM CID 3015) where the
    target vessel was entered, else the generic coronary artery."""
    keyword = artery_keyword(document.get("location") or {})
    return [hd.sr.FindingSite(getattr(codes.SCT, keyword or "CoronaryArtery"))]


def build_report(document: dict, segmentation: hd.seg.Segmentation, sources: list) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 SR of the module docstring for one lesion document."""
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=SOFTWARE_NAME, manufacturer_name=SOFTWARE_NAME, model_name=__version__))
    person = None
    if document.get("observer"):
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=person_name(document["observer"])))
    lesion_tracking = hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"lesion {document['lesion_id']}")
    groups = [hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=lesion_tracking, finding_type=codes.SCT.Occlusion,
        finding_sites=finding_sites(document), measurements=_lesion_measurements(document),
        qualitative_evaluations=contour_review_evaluations(document))]
    source_series = hd.sr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID)
    for number, name in enumerate(COMPONENTS, start=1):
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=segmentation.SegmentSequence[number - 1].TrackingUID,
                identifier=f"lesion {document['lesion_id']} {name}"),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=segmentation.SOPClassUID, sop_instance_uid=segmentation.SOPInstanceUID,
                segment_number=number, source_series=source_series),
            finding_type=COMPONENT_CODES[name], finding_sites=finding_sites(document),
            measurements=[_measurement(codes.SCT.Volume, document["volumes_mm3"][name], "mm3"),
                          _measurement(PAV, document["pav_percent"][name], "%")]))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device),
        procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=groups)
    return hd.sr.Comprehensive3DSR(
        evidence=[*sources, segmentation], content=report, series_instance_uid=hd.UID(), series_number=902,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=SOFTWARE_NAME, is_complete=True,
        series_description=f"CTOPlaque {document['lesion_id']} measurements"[:64])


def dicom_writers(sources: list, volume: Volume, analysis, document: dict, composition=None) -> dict:
    """{file name: writer(path)}: <lesion_id>.seg.dcm and <lesion_id>.sr.dcm; ``sources``: the source series'
    datasets ordered by slice (dicom_series.source_datasets_by_slice); composition: the analysis's
    composition labelmap where already built."""
    segmentation = build_segmentation(volume, analysis, sources, document["lesion_id"], composition)
    report = build_report(document, segmentation, sources)
    return {f"{document['lesion_id']}.seg.dcm": lambda path: segmentation.save_as(path),
            f"{document['lesion_id']}.sr.dcm": lambda path: report.save_as(path)}
