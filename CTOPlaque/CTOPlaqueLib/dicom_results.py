"""A lesion's results as DICOM objects that PACS and viewers show beside the source CT series.

* SEG (``ID.seg.dcm``): the binary segments of segments.SEGMENTS on the source series' frames, with its Frame
  of Reference, Patient and Study: one per plaque component between P and D (CID 3495, IVUS Plaque
  Composition: Necrotic-Lipidic Plaque, Fibro-Lipidic Plaque, Fibrous Plaque, Vascular Calcification), the
  lumen (Lumen of artery) and the whole plaque (plaque: vessel minus lumen between P and D, whatever its HU),
  in the paper's colours (CIELab). Content creator: the observer; content description: what it holds.
* SR (``ID.sr.dcm``): a TID 1500 Measurement Report (Comprehensive 3D SR). The lesion group (TID 1411,
  tracking identifier: lesion ID and the plaque segment's UID; finding: occlusion of a coronary artery)
  references the plaque segment, with the occlusion length, total plaque and vessel (EEM) volume and the
  computed difficulty scores; one group per reference section (Proximal Reference S, Distal Reference E,
  CID 3486) with lumen and EEM cross-sectional area, mean lumen diameter and median lumen attenuation; one
  group per component that references its segment, with the component's volume and PAV. Units are UCUM.
  Concepts with no standard code (PAV, the scores) use the local scheme 99CTOPLAQUE, as TID 1500 allows,
  declared in the CodingSchemeIdentificationSequence; the observer (``--observer``) is the person observer,
  CTOPlaque the device. The SR IOD has no Content Description; its Series Description names the lesion.
Standard codes of the SR come from pydicom's tables of the Standard's context groups, so that each meaning is
the group's wording; the SEG's are in segments.py.
Written with highdicom, the library of the DICOM Standard's own SR and SEG examples; Slicer's
QuantitativeReporting reads this TID 1500 layout (groups referencing SEG segments).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from . import SOFTWARE_NAME, __version__
from .composition import COMPONENTS
from .export import rounded_for_export
from .labelmap import LesionLabelmaps, labels_on_volume_grid, lesion_labelmaps
from .lesion_location import artery_keyword
from .segments import CORONARY_ARTERY, PLAQUE, SEGMENTS, Concept, segment_number
from .volume_io import Volume

LOCAL_SCHEME = "99CTOPLAQUE"
PAV = CodedConcept("PAV", LOCAL_SCHEME, "Percent atheroma volume")
UNITS = {"mm": codes.UCUM.Millimeter, "mm2": codes.UCUM.SquareMillimeter, "mm3": codes.UCUM.CubicMillimeter,
         "%": codes.UCUM.Percent, "points": CodedConcept("{points}", "UCUM", "points"), "HU": codes.UCUM.HounsfieldUnit}


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(name=SOFTWARE_NAME, version=__version__,
                                              family=CodedConcept("128480", "DCM", "Analytical Algorithm"))


def _cielab(rgb: tuple) -> hd.color.CIELabColor:
    """DICOM's recommended display colour (CIELab) of an RGB colour with channels in 0..1."""
    return hd.color.CIELabColor.from_rgb(*(int(round(255 * channel)) for channel in rgb))


def _coded(concept: Concept) -> CodedConcept:
    return CodedConcept(concept.value, concept.scheme, concept.meaning)


def _segment_descriptions(lesion_id: str) -> list:
    """The SegmentSequence items of segments.SEGMENTS, numbered in its order."""
    return [hd.seg.SegmentDescription(
        segment_number=number, segment_label=segment.label, segmented_property_category=_coded(segment.category),
        segmented_property_type=_coded(segment.type), algorithm_type="AUTOMATIC",
        algorithm_identification=_algorithm(), tracking_uid=hd.UID(), tracking_id=f"{lesion_id} {name}",
        anatomic_regions=[_coded(CORONARY_ARTERY)], display_color=_cielab(segment.color_rgb))
        for number, (name, segment) in enumerate(SEGMENTS.items(), start=1)]


def segment_masks(volume: Volume, analysis, labelmaps: LesionLabelmaps = None) -> tuple[int, np.ndarray]:
    """The segments on the slices k0.. of the CT grid that hold any: k0 and masks [k - k0, j, i, number - 1] in
    segments.SEGMENTS' order: the four components (composition labelmap), the lumen, and the plaque (the wall
    between P and D whatever its HU; it holds the components). A voxel inside a lumen contour is lumen only
    (contours of neighbouring sections overlap in a bend). labelmaps: the analysis's where already built
    (lesion_files.LesionImages holds them)."""
    labelmaps = labelmaps or lesion_labelmaps(volume, analysis)
    in_lumen = labels_on_volume_grid(volume, labelmaps.lumen) > 0
    components = labels_on_volume_grid(volume, labelmaps.composition)
    plaque = labels_on_volume_grid(volume, labelmaps.plaque) > 0
    plaque &= ~in_lumen
    components[in_lumen] = 0
    occupied = np.flatnonzero((in_lumen | plaque).reshape(len(plaque), -1).any(axis=1))  # plaque holds components
    first, last = (int(occupied[0]), int(occupied[-1])) if len(occupied) else (0, 0)
    kept = slice(first, last + 1)  # stacked for these slices only: six full-grid masks would take 6 bytes a voxel
    masks = [components[kept] == number for number in range(1, len(COMPONENTS) + 1)] + [in_lumen[kept], plaque[kept]]
    return first, np.stack(masks, axis=-1)


def build_segmentation(volume: Volume, analysis, sources: list, lesion_id: str, labelmaps: LesionLabelmaps = None,
                       observer: str = "") -> hd.seg.Segmentation:
    """The SEG of the module docstring on the slices of ``sources`` (datasets ordered by slice k) that
    hold a segment. labelmaps: the analysis's where already built; observer: the reader who placed the landmarks
    (ContentCreatorName)."""
    first, masks = segment_masks(volume, analysis, labelmaps)
    return hd.seg.Segmentation(
        source_images=sources[first:first + len(masks)], pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=_segment_descriptions(lesion_id),
        series_instance_uid=hd.UID(), series_number=901, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=SOFTWARE_NAME, manufacturer_model_name=SOFTWARE_NAME, software_versions=__version__,
        device_serial_number="1", series_description=f"CTOPlaque {lesion_id} composition"[:64],
        content_label="CTOPLAQUE", content_description=f"CTO {lesion_id}: plaque by HU class, lumen"[:64],
        content_creator_name=person_name(observer) if observer else None)


def person_name(text: str) -> str:
    """A DICOM person name (Family^Given...): a name typed without carets is taken as the family name."""
    return text if "^" in text else f"{text}^"


def _measurement(name: CodedConcept, value: float, unit: str, derivation=None) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=UNITS[unit], derivation=derivation)


def _lesion_measurements(document: dict) -> list:
    """The lesion-level measurements of ``document`` (lesion.json): occlusion length, total plaque volume, vessel
    (EEM, CID 3485) volume, and the computed scores (local codes)."""
    rows = [(codes.SCT.Length, document["occlusion_length_mm"], "mm"),
            (codes.cid3485.TotalPlaqueVolume, document["total_plaque_volume_mm3"], "mm3"),
            (codes.cid3485.EEMVolume, document["vessel_volume_mm3"], "mm3")]
    for name, score in document.get("scores", {}).items():
        if score["total"] is not None:
            rows.append((CodedConcept(name.upper().replace("-", "")[:16], LOCAL_SCHEME, f"{name} score"),
                         score["total"], "points"))
    return [_measurement(*row) for row in rows]


REFERENCE_SITES = {"S": codes.cid3486.ProximalReference, "E": codes.cid3486.DistalReference}
# lesion.json key of a reference section -> concept (CID 3482, 3481 with the derivation Mean, 6141), unit
REFERENCE_MEASUREMENTS = {"lumen_area_mm2": (codes.cid3482.VesselLumenCrossSectionalArea, "mm2"),
                          "vessel_area_mm2": (codes.cid3482.EEMCrossSectionalArea, "mm2"),
                          "mean_lumen_diameter_mm": (codes.cid3481.VesselLumenDiameter, "mm"),
                          "lumen_hu": (codes.cid6141.MedianAttenuationCoefficient, "HU")}


def _reference_groups(document: dict) -> list:
    """One measurement group per reference section (S proximal, E distal: CID 3486 Vascular Measurement Site):
    lumen and vessel (EEM) area, mean lumen diameter and the lumen's median attenuation at that section."""
    groups = []
    for label, values in sorted(document["reference"].items(), key=lambda item: item[0] != "S"):
        measurements = [
            _measurement(concept, values[key], unit, codes.SCT.Mean if key == "mean_lumen_diameter_mm" else None)
            for key, (concept, unit) in REFERENCE_MEASUREMENTS.items()
            if values.get(key) is not None]  # None: no lumen found there (see the warnings); absent before
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=hd.UID(), identifier=f"lesion {document['lesion_id']} reference {label}"),
            finding_type=REFERENCE_SITES[label], finding_sites=finding_sites(document),
            measurements=measurements))
    return groups


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
    lesion_id = document["lesion_id"]
    groups = [_segment_group(segmentation, sources, PLAQUE, f"lesion {lesion_id}", codes.SCT.Occlusion,
                             _lesion_measurements(document), finding_sites(document),
                             contour_review_evaluations(document))]
    groups += _reference_groups(document)
    for name in COMPONENTS:
        groups.append(_segment_group(
            segmentation, sources, name, f"lesion {lesion_id} {name}", _coded(SEGMENTS[name].type),
            [_measurement(codes.SCT.Volume, document["volumes_mm3"][name], "mm3"),
             _measurement(PAV, document["pav_percent"][name], "%")], finding_sites(document)))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device),
        procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*sources, segmentation], content=report, series_instance_uid=hd.UID(), series_number=902,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=SOFTWARE_NAME, is_complete=True,
        series_description=f"CTOPlaque {document['lesion_id']} measurements"[:64])
    sr.CodingSchemeIdentificationSequence = [_local_coding_scheme()]
    return sr


def _segment_group(segmentation: hd.seg.Segmentation, sources: list, name: str, identifier: str, finding_type,
                   measurements: list, sites: list, evaluations: list = None
                   ) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    """A TID 1411 group of ``measurements`` (and qualitative ``evaluations``) made on SEG segment ``name``
    (segments.SEGMENTS), which it references, at the finding ``sites``; its tracking UID is the segment's."""
    number = segment_number(name)
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=segmentation.SegmentSequence[number - 1].TrackingUID,
                                                     identifier=identifier),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=segmentation.SOPClassUID, sop_instance_uid=segmentation.SOPInstanceUID,
            segment_number=number, source_series=hd.sr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID)),
        finding_type=finding_type, finding_sites=sites, measurements=measurements,
        qualitative_evaluations=evaluations)


def _local_coding_scheme() -> pydicom.Dataset:
    """The Coding Scheme Identification item that declares the local scheme (PS3.3 C.12.1.1.2: required for a
    scheme not in the standard's registry), as dcmqi and QuantitativeReporting declare theirs."""
    item = pydicom.Dataset()
    item.CodingSchemeDesignator = LOCAL_SCHEME
    item.CodingSchemeName = "CTOPlaque measurements"
    item.CodingSchemeVersion = __version__
    item.CodingSchemeResponsibleOrganization = SOFTWARE_NAME
    return item


def dicom_writers(sources: list, volume: Volume, analysis, document: dict, labelmaps: LesionLabelmaps = None) -> dict:
    """{file name: writer(path)}: <lesion_id>.seg.dcm and <lesion_id>.sr.dcm; ``sources``: the source series'
    datasets ordered by slice (dicom_series.source_datasets_by_slice) and completed for derived objects
    (dicom_series.sources_for_derived_objects); labelmaps: the analysis's plaque, composition and lumen labelmaps
    where already built (lesion_files.LesionImages holds them)."""
    segmentation = build_segmentation(volume, analysis, sources, document["lesion_id"], labelmaps,
                                      document.get("observer", ""))
    report = build_report(rounded_for_export(document), segmentation, sources)  # the numbers of lesion.json
    return {f"{document['lesion_id']}.seg.dcm": lambda path: segmentation.save_as(path),
            f"{document['lesion_id']}.sr.dcm": lambda path: report.save_as(path)}
