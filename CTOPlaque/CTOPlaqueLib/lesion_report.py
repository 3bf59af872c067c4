"""The one-page lesion report for the patient record: ``ID.report.html``, printing to a single A4 page.

It holds the straightened vessel with the composition overlay and the profile plot (embedded, so
the file stands alone), the measurements, the difficulty scores, the quality warnings, the software
version and the input hashes. Every number comes from the lesion document (lesion.json).
"""

from __future__ import annotations

import base64
import html

from .composition import COMPONENT_NAMES, COMPONENTS
from .lesion_location import location_text

STYLE = """
@page { size: A4 portrait; margin: 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9pt; color: #111; margin: 0; }
h1 { font-size: 14pt; margin: 0 0 2mm 0; }
h2 { font-size: 10.5pt; margin: 3mm 0 1mm 0; border-bottom: 1px solid #999; }
.meta { color: #444; margin-bottom: 2mm; }
img { width: 100%; max-height: 78mm; object-fit: contain; display: block; }
.columns { display: flex; gap: 5mm; }
.columns > div { flex: 1; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: 0.6mm 1.5mm; border-bottom: 1px solid #ddd; text-align: left; }
td.value { text-align: right; white-space: nowrap; }
.warning { border: 1.5px solid #b35900; background: #fff4e5; padding: 1.5mm 2.5mm; margin: 1mm 0; }
.ok { color: #2f6b2f; }
.small { font-size: 7.5pt; color: #555; word-break: break-all; }
"""


def _image(png_bytes: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png_bytes).decode()}">'


def _rows(rows: list) -> str:
    return "".join(f"<tr><td>{html.escape(name)}</td><td class=\"value\">{html.escape(value)}</td></tr>"
                   for name, value in rows)


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
    rows.append(("Proximal cap", morphology["proximal_cap"] or "unknown"))
    return rows


def score_rows(document: dict) -> list:
    return [(name, "not computed" if score["total"] is None else f"{score['total']} ({score['category']})")
            for name, score in document.get("scores", {}).items()]


def contours_line(document: dict) -> str:
    """Whether the measures come from the automatic contours or from the reader's edit, where, and the automatic
    plaque volume beside the edited one (the ``contours`` block of lesion.json; absent before it existed)."""
    contours = document.get("contours") or {"edited": False}
    if not contours["edited"]:
        return ("Contours: automatic." if contours.get("source", "automatic") == "automatic" else
                f"Contours: from {contours['source']}, not edited (sha256 {contours['sha256']}).")
    ranges = ", ".join(f"{first:.1f}-{last:.1f} mm" for first, last in contours["edited_ranges_mm"])
    return (f"Contours edited by the reader at {ranges} from the ostium ({contours['source']}, sha256 "
            f"{contours['sha256']}); automatic total plaque volume "
            f"{contours['automatic']['total_plaque_volume_mm3']:.1f} mm³.")


def lesion_report_html(document: dict, straightened_png: bytes, profile_png: bytes) -> str:
    """The report page as a self-contained HTML document."""
    warnings = document.get("warnings", [])
    quality = ("".join(f'<div class="warning">⚠ {html.escape(w)}</div>' for w in warnings)
               or '<p class="ok">No quality warning: the centerline runs in the occluded artery, the caps '
                  'are where the contrast ends and the walls are resolved.</p>')
    thresholds = ", ".join(f"{COMPONENT_NAMES[name]} {low:g}..{'' if high is None else f'{high:g}'} HU"
                           for name, (low, high) in document["thresholds_hu"].items())
    inputs = "<br>".join(f"{html.escape(role)}: {html.escape(value.get('file', value.get('node', '')))} "
                         f"sha256 {html.escape(value.get('sha256', value.get('sha256_values', '')))}"
                         for role, value in document["inputs"].items())
    software = document["software"]
    observer = " ".join(part for part in (document.get("observer") or "—").split("^") if part)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>CTO lesion {html.escape(document['lesion_id'])}</title>
<style>{STYLE}</style></head><body>
<h1>CTO lesion report — {html.escape(document['lesion_id'])}</h1>
<div class="meta">Patient {html.escape(document['patient_id'])} · observer {html.escape(observer)}
 · analysed {html.escape(document['created_utc'])}
 · {html.escape(software['name'])} {html.escape(software['version'])}</div>
<h2>Straightened vessel (composition between P and D)</h2>
{_image(straightened_png, 'straightened vessel with contours and composition overlay')}
<div class="columns">
<div><h2>Measurements</h2><table>{_rows(measurement_rows(document))}</table>
<h2>Difficulty scores</h2><table>{_rows(score_rows(document))}</table></div>
<div><h2>Area and composition along the vessel</h2>
{_image(profile_png, 'lumen, vessel and component areas against distance from the ostium')}
<h2>Quality</h2>{quality}</div>
</div>
<h2>Provenance</h2>
<div class="small">HU classes: {html.escape(thresholds)}. Method: Xing et al., Quant Imaging Med Surg 2022;12:3625.
 For research use; check the contours before clinical use.<br>{html.escape(contours_line(document))}<br>{inputs}</div>
</body></html>
"""
