"""The lesion verbs of the ``ctoplaque`` command: extract a centerline, propose landmarks, analyze one lesion
or a batch, write a phantom case.

``register`` adds them to the command's parser; the entry point that also holds the cohort verbs is
``CTOPlaqueStatsLib.command`` (the lesion engine does not import the statistics package).
"""

from __future__ import annotations

import dataclasses
import os
import sys

from .batch import FAILED_STATUSES, ManifestError, run_batch
from .centerline import sample_centerline
from .centerline_extraction import extract_centerline
from .errors import CTOPlaqueInputError
from .landmark_proposals import propose_landmarks
from .lesion_job import LesionJob, read_centerline, read_seeds, run_lesion_job, write_curve
from .lesion_location import VESSEL_SEGMENTS
from .markups_io import markups_document
from .phantom import COURSE_PRESETS, PRESETS, course_length_mm, generate_phantom, write_phantom
from .settings import RANGES, AnalysisSettings, read_settings_file
from .staging import check_output_path, staged_outputs, write_json
from .volume_io import read_volume

EXIT_INPUT_ERROR = 2
PHANTOM_SHAPES = {**PRESETS, **COURSE_PRESETS}


def _default_lesion_id(volume_path: str) -> str:
    name = os.path.basename(os.path.normpath(volume_path))
    for suffix in (".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _settings_file(args) -> AnalysisSettings:
    """The settings of --settings FILE.json, or the defaults."""
    return read_settings_file(args.settings) if args.settings else AnalysisSettings()


def _settings(args) -> AnalysisSettings:
    """The settings file (or the defaults) with --step-mm and --thresholds-hu applied where given."""
    return _settings_file(args).with_overrides(args.step_mm, args.thresholds_hu)


def check_not_overwriting(out_dir: str, lesion_id: str, force: bool) -> None:
    """A second observer's or reading's results must not replace the first: an --out already holding this
    lesion's results is an input error unless ``force``."""
    existing = os.path.join(out_dir, f"{lesion_id}.lesion.json")
    if os.path.exists(existing) and not force:
        raise CTOPlaqueInputError(
            f"{out_dir} already holds results of lesion {lesion_id}; give each observer or reading its own --out "
            "(ctoplaque icc FOLDER gathers them), or --force to replace them")


def run_analyze(args) -> int:
    lesion_id = args.lesion_id or _default_lesion_id(args.volume)
    check_not_overwriting(args.out, lesion_id, args.force)
    settings = _settings(args)
    document = run_lesion_job(LesionJob(
        volume=args.volume, landmarks=args.landmarks, out_dir=args.out, lesion_id=lesion_id,
        patient_id=args.patient_id, centerline=args.centerline or "", seeds=args.seeds or "",
        observer=args.observer, settings=settings, clinical_items=args.clinical_items, dicom_out=args.dicom_out,
        include_phi=args.include_phi, contours=args.contours, reading=args.reading, vessel=args.vessel,
        segment=args.segment))
    print(f"{lesion_id}: occlusion length {document['occlusion_length_mm']:.1f} mm, "
          f"total plaque volume {document['total_plaque_volume_mm3']:.1f} mm3, PAV "
          + ", ".join(f"{k.replace('_', ' ')} {v:.1f}%" for k, v in document["pav_percent"].items()))
    for warning in document["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    _print_notes(document["notes"])
    print(f"results written to {os.path.abspath(args.out)}"
          + (f"; DICOM SEG and SR to {os.path.abspath(args.dicom_out)}" if args.dicom_out else ""))
    return 0


def run_batch_command(args) -> int:
    settings = _settings(args)
    try:
        records = run_batch(args.manifest, args.out, settings, workers=args.workers, scheduler=args.scheduler,
                            timeout_s=args.timeout, force=args.force, in_process=args.in_process, dicom=args.dicom,
                            after=args.after_batch)
    except ManifestError as error:
        for problem in error.problems:
            print(f"error: {args.manifest}: {problem}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print(f"interrupted; finished cases are kept, see {os.path.join(args.out, 'batch_summary.csv')}",
              file=sys.stderr)
        return 130
    counts = {status: sum(r["status"] == status for r in records) for status in {r["status"] for r in records}}
    print(f"{len(records)} cases: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; summary {os.path.join(args.out, 'batch_summary.csv')}")
    return 1 if any(r["status"] in FAILED_STATUSES for r in records) else 0


def _write_single_file(out_path: str, writer) -> None:
    """Write one output file atomically (temporary file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(out_path))
    with staged_outputs(folder) as staging:
        writer(os.path.join(staging, os.path.basename(out_path)))


def _print_notes(notes: list) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def run_centerline(args) -> int:
    volume = read_volume(args.volume)
    notes = []
    points = extract_centerline(volume, read_seeds(args.seeds), _settings_file(args).centerline, notes)
    _print_notes(notes)
    _write_single_file(args.out, lambda path: write_curve(path, points))
    length = sample_centerline(points).length_mm
    print(f"centerline of {length:.1f} mm written to {os.path.abspath(args.out)}")
    return 0


def run_landmarks(args) -> int:
    volume = read_volume(args.volume)
    proposal = propose_landmarks(volume, read_centerline(args.centerline), _settings_file(args))
    labels = [label for label in ("S", "P", "D", "E") if label in proposal]
    _write_single_file(args.out, lambda path: write_json(
        path, markups_document("Fiducial", [proposal[label] for label in labels], labels)))
    print(f"proposed landmarks {', '.join(labels)} written to {os.path.abspath(args.out)}; "
          "check them and move them where needed")
    return 0


PHANTOM_SPACING_RANGE_MM = (0.2, 1.0)


def _phantom_spacing_mm(text: str) -> tuple:
    """Voxel size (x, y, z) in mm from --spacing-mm: one value (isotropic) or three, comma-separated, each within
    PHANTOM_SPACING_RANGE_MM (finer is slow to render, coarser no longer resolves a 1.6 mm lumen)."""
    low, high = PHANTOM_SPACING_RANGE_MM
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 3) or not all(low <= value <= high for value in values):
        raise CTOPlaqueInputError(f"--spacing-mm {text!r}: give one voxel size or three (x,y,z), each "
                                  f"{low:g}..{high:g} mm")
    return tuple(values * 3 if len(values) == 1 else values)


# ``ctoplaque phantom`` options that each set one PhantomSpec field (--blur-sigma-mm sets blur_sigma_mm):
# (field, lowest, highest, unit, help). The ranges are those the phantom models faithfully.
PHANTOM_OPTIONS = (
    ("blur_sigma_mm", 0.2, 1.0, "mm", "scanner blur, Gaussian sigma (default 0.35; 0.5 for cap-calcium and heart)"),
    ("noise_sd_hu", 0.0, 100.0, "HU", "noise standard deviation (default 20; 25-35 for the CT-textured shapes)"),
    ("fat_hu", -150.0, -30.0, "HU", "epicardial fat (default -100)"),
    ("edge_tissue_hu", -30.0, 1000.0, "HU",
     "one tissue at the occluded wall's outer edge (default: the 100 HU fibrofatty rim of the composition)"),
    ("edge_tissue_mm", 0.0, 2.0, "mm",  # and thinner than the occluded radius (checked in phantom_spec)
     "thickness of that outer layer; 0 (default) makes the whole occluded wall that tissue (homogeneous)"),
    ("occlusion_radius_mm", 1.0, 4.0, "mm",
     "outer radius of the occluded vessel: remodelling from the 2.7 mm normal vessel (default 2.6; 2.2 for thin-wall)"),
    ("cap_lining_mm", 0.0, 8.0, "mm", "diseased open vessel before P and after D (default 0: normal wall)"),
    ("cap_lining_hu", -30.0, 1000.0, "HU", "wall of the diseased segments (default 60, a normal wall)"),
    ("cap_lining_calcium_deg", 0.0, 360.0, "degrees", "calcified sector through the diseased segments' wall"),
    ("cap_stenosis_percent", 0.0, 90.0, "%", "lumen area lost in the diseased segments"),
    ("kernel_boost", 0.0, 2.0, "", "sharp reconstruction kernel as an unsharp mask of this boost (default 0)"),
    ("slab_step_mm", -3.0, 3.0, "mm",
     "ECG-misregistration step: every axial slice from the occlusion's middle on shifted by this much"),
    ("course_bend_radius_mm", 3.0, 20.0, "mm", "radius of the turn inside the occlusion (occluded-bend, s-curve)"),
    ("course_bend_deg", 10.0, 120.0, "degrees", "angle of that turn (occluded-bend, s-curve)"),
)
# Options that change nothing unless another is given, and the option (or shapes) they need.
PHANTOM_OPTION_NEEDS = {"edge_tissue_mm": "edge_tissue_hu", "cap_lining_hu": "cap_lining_mm",
                        "cap_lining_calcium_deg": "cap_lining_mm", "cap_stenosis_percent": "cap_lining_mm"}
COURSE_SHAPES = ("occluded-bend", "s-curve")


def _option(field: str) -> str:
    return "--" + field.replace("_", "-")


def _phantom_value(field: str, text: str, low: float, high: float, unit: str) -> float:
    """The number of ``--FIELD TEXT`` within low..high, else an input error naming the option and the range."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise CTOPlaqueInputError(f"{_option(field)} {text!r}: give a number within {low:g}..{high:g}"
                                  + (f" {unit}" if unit else ""))
    return value


def phantom_spec(args):
    """The PhantomSpec of ``ctoplaque phantom``: the named shape with --seed, --cap, --spacing-mm and the
    PHANTOM_OPTIONS given, each checked against its range and against the options or shapes it needs."""
    spec = dataclasses.replace(PHANTOM_SHAPES[args.shape], seed=args.seed, proximal_cap=args.cap)
    if args.spacing_mm:
        spec = dataclasses.replace(spec, spacing_mm=_phantom_spacing_mm(args.spacing_mm))
    given = {field: _phantom_value(field, getattr(args, field), low, high, unit)
             for field, low, high, unit, _ in PHANTOM_OPTIONS if getattr(args, field) is not None}
    for field, needed in PHANTOM_OPTION_NEEDS.items():
        if field in given and needed not in given:
            raise CTOPlaqueInputError(f"{_option(field)} needs {_option(needed)}")
    spec = dataclasses.replace(spec, **given)
    if spec.edge_tissue_mm >= spec.occlusion_radius_mm:
        raise CTOPlaqueInputError(f"--edge-tissue-mm {spec.edge_tissue_mm:g} must be thinner than the occluded "
                                  f"vessel's {spec.occlusion_radius_mm:g} mm radius (--occlusion-radius-mm)")
    bends = [field for field in given if field.startswith("course_bend")]
    if bends and spec.shape not in COURSE_SHAPES:
        raise CTOPlaqueInputError(f"{_option(bends[0])} needs a --shape that turns inside the occlusion: "
                                  + ", ".join(name for name, s in PHANTOM_SHAPES.items() if s.shape in COURSE_SHAPES))
    if spec.shape in COURSE_SHAPES and course_length_mm(spec) > spec.occlusion_length_mm - 2.0:
        raise CTOPlaqueInputError(f"the turns of {course_length_mm(spec):.1f} mm do not fit in the "
                                  f"{spec.occlusion_length_mm:g} mm occlusion with 1 mm to spare at each cap: give a "
                                  "smaller --course-bend-radius-mm or --course-bend-deg")
    return spec


def run_phantom(args) -> int:
    paths = write_phantom(generate_phantom(phantom_spec(args)), args.out)
    names = ", ".join(os.path.basename(path) for path in paths.values())
    print(f"sample case written to {os.path.abspath(args.out)} ({names})")
    return 0


def _add_settings_option(parser, overridden: bool = False) -> None:
    parser.add_argument("--settings", default="",
                        help="JSON file with any part of the analysis settings (see docs/command-line.md)"
                             + ("; options below override it" if overridden else ""))


def _add_analysis_options(parser) -> None:
    defaults = AnalysisSettings()
    _add_settings_option(parser, overridden=True)
    parser.add_argument("--thresholds-hu", default="",
                        help="lower HU bounds of necrotic core, fibrofatty, fibrous, dense calcium (default "
                             + ",".join(f"{v:g}" for v in defaults.thresholds.lower_bounds_hu) + ")")
    parser.add_argument("--step-mm", type=float, default=None,
                        help=f"cross-section spacing, at most {RANGES['step_mm'][1]:g} mm "
                             f"(default {defaults.step_mm:g})")


def add_out_option(parser, help_text: str, is_folder: bool) -> None:
    """The verb's required --out, a folder or a file; ``check_output_options`` checks it before the verb runs."""
    parser.add_argument("--out", required=True, help=help_text)
    parser.set_defaults(out_is_folder=is_folder)


def check_output_options(args) -> None:
    """Input error, before any work, for an --out (or --dicom-out) that cannot be written as the verb needs."""
    check_output_path(args.out, args.out_is_folder)
    if getattr(args, "dicom_out", ""):
        check_output_path(args.dicom_out, True, "--dicom-out")


def register(commands, after_batch=None) -> None:
    """Add the lesion subcommands to the ``ctoplaque`` parser's subparsers.
    after_batch(out_dir, finished_case_folders): run once a batch has finished (the cohort table)."""
    analyze = commands.add_parser("analyze", help="occlusion length, plaque volume and composition of one lesion")
    analyze.add_argument("volume", help="CCTA volume: NRRD, NIfTI, MHA file or DICOM series folder")
    source = analyze.add_mutually_exclusive_group(required=True)
    source.add_argument("--centerline", help="markups curve (.mrk.json), proximal to distal")
    source.add_argument("--seeds", help="markups points, ostium first: extract the centerline, then analyze")
    analyze.add_argument("--landmarks", required=True, help="markups points labelled P, D (S, E optional)")
    add_out_option(analyze, "output folder", is_folder=True)
    analyze.add_argument("--lesion-id", default="", help="lesion ID (default: volume file name)")
    analyze.add_argument("--patient-id", default="", help="patient ID (default: lesion ID)")
    analyze.add_argument("--observer", default="", help="who placed the landmarks (for reproducibility studies)")
    analyze.add_argument("--reading", type=int, default=None,
                         help="the observer's reading of this lesion (1, 2, ...: for intra-observer studies)")
    analyze.add_argument("--vessel", default="", help="target vessel: " + ", ".join(VESSEL_SEGMENTS))
    analyze.add_argument("--segment", default="", help="SCCT 2014 coronary segment, 1-18, on the target vessel")
    analyze.add_argument("--force", action="store_true", help="replace this lesion's results already in --out")
    analyze.add_argument("--clinical-items", default="",
                         help="JSON of entered score items: retry, previous_failed_attempt, "
                              "duration_ge_12_months_or_unknown, multiple_occlusions, proximal_side_branch, "
                              "whole_luminal_calcification (true/false/null)")
    analyze.add_argument("--dicom-out", default="",
                         help="also write the DICOM SEG and SR (TID 1500) here; the volume must be a DICOM series")
    analyze.add_argument("--contours", default="",
                         help="measure with these lumen and vessel-wall segments (.seg.nrrd), e.g. an edited "
                              "ID.contours.seg.nrrd of an earlier run, instead of the automatic contours")
    analyze.add_argument("--include-phi", action="store_true",
                         help="copy the DICOM series' patient and study attributes into lesion.json and the row")
    _add_analysis_options(analyze)
    analyze.set_defaults(run=run_analyze)

    batch = commands.add_parser("batch", help="analyze every lesion of a manifest (resumable, parallel)")
    batch.add_argument("manifest", help="CSV: lesion_id, patient_id, volume, landmarks, centerline or seeds")
    add_out_option(batch, "output folder (one subfolder per lesion)", is_folder=True)
    batch.add_argument("--workers", type=int, default=1, help="cases run at once, each in its own process")
    batch.add_argument("--scheduler", default="", help="dask.distributed scheduler address, e.g. tcp://host:8786")
    batch.add_argument("--timeout", type=float, default=0.0, help="seconds per case before it is stopped (local)")
    batch.add_argument("--force", action="store_true", help="redo cases whose outputs are up to date")
    batch.add_argument("--dicom", action="store_true",
                       help="also write DICOM SEG and SR for cases whose volume is a DICOM series folder")
    batch.add_argument("--in-process", action="store_true",
                       help="run cases one after another in this interpreter (inside Slicer)")
    _add_analysis_options(batch)
    batch.set_defaults(run=run_batch_command, after_batch=after_batch)

    centerline = commands.add_parser("centerline", help="extract the vessel centerline from seed points")
    centerline.add_argument("volume", help="CCTA volume")
    centerline.add_argument("--seeds", required=True,
                            help="markups points: ostium first, distal last, waypoints between")
    add_out_option(centerline, "output curve (.mrk.json)", is_folder=False)
    _add_settings_option(centerline)
    centerline.set_defaults(run=run_centerline)

    landmarks = commands.add_parser("landmarks", help="propose P, D, S, E along a centerline")
    landmarks.add_argument("volume", help="CCTA volume")
    landmarks.add_argument("--centerline", required=True, help="markups curve (.mrk.json), proximal to distal")
    add_out_option(landmarks, "output point list (.mrk.json)", is_folder=False)
    _add_settings_option(landmarks)
    landmarks.set_defaults(run=run_landmarks)

    phantom = commands.add_parser("phantom", help="write a synthetic CTO case with known truth")
    add_out_option(phantom, "output folder", is_folder=True)
    phantom.add_argument("--shape", choices=list(PHANTOM_SHAPES), default="curved", metavar="NAME",
                         help="geometry or realistic case: " + ", ".join(PHANTOM_SHAPES)
                         + " (see docs/command-line.md)")
    phantom.add_argument("--cap", choices=["tapered", "blunt"], default="tapered", help="proximal cap shape")
    phantom.add_argument("--seed", type=int, default=1, help="noise seed")
    phantom.add_argument("--spacing-mm", default="",
                         help="voxel size in mm, one value or x,y,z (default: the shape's, 0.4,0.4,0.5 for most)")
    for field, low, high, unit, help_text in PHANTOM_OPTIONS:
        phantom.add_argument(_option(field), dest=field, default=None, metavar=unit.upper() or "X",
                             help=f"{help_text}; {low:g}..{high:g}")
    phantom.set_defaults(run=run_phantom)
