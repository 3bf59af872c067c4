"""The one-page lesion report for the patient record: ``ID.report.html``, printing to a single A4 page.

It holds the patient and series the lesion was measured on (only where the document carries them: ``analyze
--include-phi`` copies them from the DICOM series into ``source_dicom``; otherwise the page says the report is
de-identified), the straightened vessel with the composition overlay and the profile plot (embedded, so the
file stands alone, each at the size it was drawn for, so that its text prints at its point size), the
measurements, the difficulty scores with the items that made them, the quality warnings (in grey and ticked where
they lie where the reader edited the contours: quality.quality_warnings), the software version and the input
hashes. Every number comes from the lesion document (lesion.json).
"""

from __future__ import annotations

import base64
import html

from .composition import COMPONENT_NAMES, COMPONENTS
from .lesion_location import location_text
from .plots import png_width_mm
from .quality import is_reviewed, ranges_text
from .scores import CLINICAL_ITEMS, ITEM_LABELS

STYLE = """
@page { size: A4 portrait; margin: 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 8.5pt; color: #111; margin: 0; }
h1 { font-size: 13pt; margin: 0 0 1.5mm 0; }
h2 { font-size: 10pt; margin: 2mm 0 0.8mm 0; border-bottom: 1px solid #999; }
.meta { color: #444; margin: 1mm 0; }
img { max-width: 100%; display: block; }
.columns { display: flex; gap: 5mm; }
.columns > div { flex: 1; min-width: 0; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: 0.3mm 1.5mm; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.value { text-align: right; white-space: nowrap; }
table.patient td { border-bottom: none; padding: 0.2mm 1.5mm 0.2mm 0; }
table.patient td.name { color: #555; white-space: nowrap; }
tr.items td { font-size: 7.5pt; color: #444; padding-top: 0; }
.warning { border: 1.5px solid #b35900; background: #fff4e5; padding: 1mm 2mm; margin: 1mm 0; }
.reviewed { border: 1px solid #888; background: #f2f2f2; padding: 1mm 2mm; margin: 1mm 0; }
.ok { color: #2f6b2f; }
.small { font-size: 7.5pt; color: #555; }
.small td { padding: 0.2mm 1.5mm 0.2mm 0; border-bottom: none; }
.hash { font-family: "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
"""

# The patient record's fields, from the source series' DICOM attributes (lesion.json ``source_dicom``).
PATIENT_FIELDS = (("Name", "PatientName"), ("Patient ID", "PatientID"), ("Birth date", "PatientBirthDate"),
                  ("Study date", "StudyDate"), ("Accession number", "AccessionNumber"),
                  ("Reconstruction kernel", "ConvolutionKernel"), ("Series Instance UID", "SeriesInstanceUID"))


def _image(png_bytes: bytes, alt: str) -> str:
    """The PNG embedded at its physical width (pixels / dpi), so that its text prints at the size it was drawn."""
    return (f'<img alt="{html.escape(alt)}" style="width: {png_width_mm(png_bytes):.1f}mm" '
            f'src="data:image/png;base64,{base64.b64encode(png_bytes).decode()}">')


def _rows(rows: list) -> str:
    return "".join(f"<tr><td>{html.escape(name)}</td><td class=\"value\">{html.escape(value)}</td></tr>"
                   for name, value in rows)


def person_name(value: str) -> str:
    """A DICOM person name as a reader writes it: "Doe^Jane^M" -> "Doe, Jane M" (the alphabetic group)."""
    family, *given = (value or "").split("=")[0].split("^")
    given_text = " ".join(part for part in given[:2] if part)
    return ", ".join(part for part in (family, given_text) if part)


def dicom_date(value: str) -> str:
    """A DICOM date (YYYYMMDD) as ISO 8601 (YYYY-MM-DD); anything else as it is."""
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if len(value) == 8 and value.isdigit() else value


def patient_rows(document: dict) -> list:
    """(field, value) of the patient record, from ``source_dicom``; [] when the document is de-identified.
    A field the series does not carry reads "not recorded"."""
    source = document.get("source_dicom")
    if not source:
        return []
    shown = {"PatientName": person_name, "PatientBirthDate": dicom_date, "StudyDate": dicom_date}
    return [(label, shown.get(key, str)(source.get(key, "")) or "not recorded") for label, key in PATIENT_FIELDS]


def _patient_html(document: dict) -> str:
    rows = patient_rows(document)
    if not rows:
        subject = document["patient_id"]
        study_id = "" if subject == document["lesion_id"] else f" · study subject {html.escape(subject)}"
        return (f'<div class="meta"><b>Patient: de-identified</b>{study_id} (no name, date of birth or DICOM '
                'identifiers in this report; <code>ctoplaque analyze --include-phi</code> on the DICOM series adds '
                'them)</div>')
    cells = [f'<td class="name">{html.escape(label)}</td><td>{html.escape(value)}</td>' for label, value in rows]
    lines = ["".join(cells[start:start + 3]) for start in range(0, len(cells) - 1, 3)]
    lines.append(cells[-1].replace("<td>", '<td colspan="5" class="hash">', 1))  # the long UID on a line of its own
    return '<table class="patient">' + "".join(f"<tr>{line}</tr>" for line in lines) + "</table>"


def measurement_rows(document: dict) -> list:
    """(label, formatted value with unit) of the lesion's measurements, in reading order."""
    rows = [("Target vessel", location_text(document.get("location") or {})),
            ("Occlusion length", f"{document['occlusion_length_mm']:.1f} mm"),
            ("Total plaque volume", f"{document['total_plaque_volume_mm3']:.1f} mm³")]
    for name in COMPONENTS:
        rows.append((f"{COMPONENT_NAMES[name]}",
                     f"{document['volumes_mm3'][name]:.1f} mm³ · PAV {document['pav_percent'][name]:.1f}%"))
    rows.append(("Unclassified wall (< -30 HU)", f"{document['unclassified_volume_mm3']:.1f} mm³"))
    for label in [label for label in ("S", "E") if label in document["reference"]]:
        values = document["reference"][label]
        lumen = "no lumen found" if values["lumen_area_mm2"] is None else f"{values['lumen_area_mm2']:.1f}"
        rows.append((f"Reference {label}: lumen / vessel area", f"{lumen} / {values['vessel_area_mm2']:.1f} mm²"))
        if values.get("lumen_hu") is not None:  # absent from earlier exports, None without a lumen
            rows.append((f"Reference {label}: lumen attenuation", f"{values['lumen_hu']:.0f} HU"))
    morphology = document["morphology"]
    rows.append(("Largest bending in the occlusion", f"{morphology['max_bending_deg']:.0f}°"))
    rows.append(("Largest calcium area fraction", f"{100 * morphology['max_calcium_area_fraction']:.0f}%"))
    rows.append(("Proximal cap", morphology["proximal_cap"] or "not measured: see the quality warnings"))
    return rows


def _item_list(items: list) -> str:
    return ", ".join(ITEM_LABELS.get(item, item) for item in items)


def score_rows(document: dict) -> list:
    """(score, total and category, the items that made it) of every difficulty score in the document.

    A total is a whole number of points; where it is not computed, the reason: the items to enter (clinical
    items, with the option that enters them), the items the image could not tell, or unverified weights."""
    rows = []
    for name, score in document.get("scores", {}).items():
        if score["total"] is not None:
            values = score["items"]
            entered = set(score.get("entered_items", []))
            points = [item + (" (entered)" if item in entered else "") for item, value in values.items() if value]
            absent = [item + (" (entered)" if item in entered else "") for item, value in values.items() if not value]
            detail = f"points for: {_item_list(points) or 'none'}; none for: {_item_list(absent) or 'none'}"
            rows.append((name, f"{score['total']:g} ({score['category']})", detail))
            continue
        if not score["note"].startswith("unknown"):  # e.g. unverified weights: entering items would not help
            rows.append((name, "not computed", score["note"]))
            continue
        missing = score.get("missing_items", [])
        to_enter = [item for item in missing if item in CLINICAL_ITEMS]
        untold = [item for item in missing if item not in CLINICAL_ITEMS]
        reasons = [f"needs {_item_list(to_enter)}: enter them with --clinical-items"] if to_enter else []
        reasons += [f"the image could not tell: {_item_list(untold)}"] if untold else []
        rows.append((name, "not computed", "; ".join(reasons)))
    return rows


def _scores_html(document: dict) -> str:
    return "".join(f'<tr><td>{html.escape(name)}</td><td class="value">{html.escape(value)}</td></tr>'
                   f'<tr class="items"><td colspan="2">{html.escape(detail)}</td></tr>'
                   for name, value, detail in score_rows(document))


def threshold_text(name: str, low_hu, high_hu) -> str:
    """'Fibrous 131 to 350 HU', 'Dense calcium ≥ 351 HU': one HU class of the composition."""
    if high_hu is None:
        return f"{COMPONENT_NAMES[name]} ≥ {low_hu:g} HU"
    if low_hu is None:
        return f"{COMPONENT_NAMES[name]} ≤ {high_hu:g} HU"
    return f"{COMPONENT_NAMES[name]} {low_hu:g} to {high_hu:g} HU"


def _inputs_html(inputs: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(role)}</td><td>{html.escape(value.get('file', value.get('node', '')))}"
                   f"</td><td class=\"hash\">sha256 {html.escape(value.get('sha256', value.get('sha256_values', '')))}"
                   "</td></tr>" for role, value in inputs.items())
    return f"<table>{rows}</table>"


def contours_line(document: dict) -> str:
    """Whether the measures come from the automatic contours or from the reader's edit, where, and the automatic
    plaque volume beside the edited one (the ``contours`` block of lesion.json; absent before it existed)."""
    contours = document.get("contours") or {"edited": False}
    if not contours["edited"]:
        return ("Contours: automatic." if contours.get("source", "automatic") == "automatic" else
                f"Contours: from {contours['source']}, not edited (sha256 {contours['sha256']}).")
    return (f"Contours edited by the reader at {ranges_text(contours['edited_ranges_mm'])} from the ostium "
            f"({contours['source']}, sha256 {contours['sha256']}); automatic total plaque volume "
            f"{contours['automatic']['total_plaque_volume_mm3']:.1f} mm³.")


def quality_html(warnings: list) -> str:
    """The report's quality section: each warning in an orange box, or in a grey ticked one where it lies where the
    reader edited the contours (quality.is_reviewed); a sentence saying all is well without any."""
    return ("".join(f'<div class="reviewed">✓ {html.escape(w)}</div>' if is_reviewed(w) else
                    f'<div class="warning">⚠ {html.escape(w)}</div>' for w in warnings)
            or '<p class="ok">No quality warning: the centerline runs in the occluded artery, the caps '
               'are where the contrast ends and the walls are resolved.</p>')


def lesion_report_html(document: dict, straightened_png: bytes, profile_png: bytes) -> str:
    """The report page as a self-contained HTML document."""
    quality = quality_html(document.get("warnings", []))
    thresholds = ", ".join(threshold_text(name, low, high) for name, (low, high) in document["thresholds_hu"].items())
    software = document["software"]
    observer = person_name(document.get("observer") or "") or "—"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>CTO lesion {html.escape(document['lesion_id'])}</title>
<style>{STYLE}</style></head><body>
<h1>CTO lesion report — lesion {html.escape(document['lesion_id'])}</h1>
{_patient_html(document)}
<div class="meta">Observer {html.escape(observer)} · analysed {html.escape(document['created_utc'])}
 · {html.escape(software['name'])} {html.escape(software['version'])}</div>
<h2>Straightened vessel (composition between P and D)</h2>
{_image(straightened_png, 'straightened vessel with contours and composition overlay')}
<div class="columns">
<div><h2>Measurements</h2><table>{_rows(measurement_rows(document))}</table>
<h2>Difficulty scores</h2><table>{_scores_html(document)}</table></div>
<div><h2>Area and composition along the vessel</h2>
{_image(profile_png, 'lumen, vessel and component areas against distance from the ostium')}
<h2>Quality</h2>{quality}</div>
</div>
<h2>Provenance</h2>
<div class="small">HU classes: {html.escape(thresholds)}.
 Method: Xing et al., Quant Imaging Med Surg 2022;12:3625. For research use; check the contours before clinical
 use.<br>{html.escape(contours_line(document))}{_inputs_html(document["inputs"])}</div>
</body></html>
"""
