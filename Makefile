# Quick start: `make demo` and `make test` each set themselves up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CTOPLAQUE := $(VENV)/bin/ctoplaque
# The demo needs the run-time requirements only; the tests also need the `test` extra (vtk, PySide6, slicer-core).
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
DEMO_DIR := demo_output
# The demo's sample case: 0.5 mm isotropic voxels (a common CCTA reconstruction) render in 60% of the default
# 0.4 x 0.4 x 0.5 mm grid's time with the same accuracy on the curved phantom.
DEMO_SPACING_MM := 0.5

.PHONY: demo test bench clean slicer-install screenshots

# pyproject's requires-python, checked before the venv is made (Ubuntu 22.04's python3 is 3.10: pip would stop later
# with "requires a different Python").
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: CTOPlaque needs Python 3.11 or \
	newer; $(PYTHON) is older: give one, e.g. make $(MAKECMDGOALS) PYTHON=python3.12" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml CTOPlaque/CTOPlaqueLib/requirements.txt | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

# System tools some tests use (each test is skipped when its tool is missing):
#   dciodvfy (dicom3tools)    validates the DICOM SEG and SR the analysis writes
#   chromium                  prints the one-page lesion report to PDF, as a browser would
#   pdfinfo (poppler-utils)   counts the pages of that PDF
$(TEST_STAMP): pyproject.toml CTOPlaque/CTOPlaqueLib/requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	command -v dciodvfy >/dev/null && command -v chromium >/dev/null && command -v pdfinfo >/dev/null \
	    || { apt-get update -qq && apt-get install -y -qq dicom3tools chromium poppler-utils; } \
	    || echo "dicom3tools, chromium or poppler-utils not installed: the DICOM validator and print tests will be skipped"
	touch $(TEST_STAMP)

# What a user does: seeds -> centerline -> proposed landmarks -> analysis (the case's true centerline and
# landmarks, written beside it in $(DEMO_DIR)/case, are not used).
demo: $(RUN_STAMP)
	$(CTOPLAQUE) phantom --out $(DEMO_DIR)/case --spacing-mm $(DEMO_SPACING_MM)
	$(CTOPLAQUE) centerline $(DEMO_DIR)/case/ccta.nrrd --seeds $(DEMO_DIR)/case/seeds.mrk.json \
	    --out $(DEMO_DIR)/centerline.mrk.json
	$(CTOPLAQUE) landmarks $(DEMO_DIR)/case/ccta.nrrd --centerline $(DEMO_DIR)/centerline.mrk.json \
	    --out $(DEMO_DIR)/proposed_landmarks.mrk.json
	$(CTOPLAQUE) analyze $(DEMO_DIR)/case/ccta.nrrd --centerline $(DEMO_DIR)/centerline.mrk.json \
	    --landmarks $(DEMO_DIR)/proposed_landmarks.mrk.json \
	    --lesion-id demo-lesion --patient-id demo-patient --out $(DEMO_DIR)/results
	@echo "Lesion report: $(abspath $(DEMO_DIR))/results/demo-lesion.report.html (truth: $(DEMO_DIR)/case/truth.json)"
	@echo "Run ctoplaque yourself: '. $(VENV)/bin/activate' then 'ctoplaque --help'; or 'pip install .' elsewhere"

# Add this checkout's modules to a 3D Slicer (SLICER=/path/to/Slicer; DRY_RUN=1 to only print the steps).
slicer-install:
	$(PYTHON) Resources/Scripts/slicer_install.py "$(SLICER)" $(if $(DRY_RUN),--dry-run)

# Tests run on every core (pytest-xdist); an idle worker takes tests from a busy one's queue (worksteal), so a long
# test file no longer holds up the run. The workers share each phantom and two-seed analysis (Testing/conftest.py).
test: $(TEST_STAMP)
	$(VENV)/bin/ruff check CTOPlaque CTOPlaqueStats Testing bench
	$(PY) -m pytest -q -n auto --dist worksteal

# The extension's catalog screenshots (Resources/Screenshots): the real panel, offscreen, on the sample case.
screenshots: $(TEST_STAMP)
	$(PY) Testing/make_screenshots.py

bench: $(TEST_STAMP)
	$(PY) bench/bench_analyze.py
	$(PY) bench/bench_dicom.py
	$(PY) bench/bench_stats.py
	$(PY) bench/bench_panel.py
	$(PY) bench/bench_batch.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
