# Quick start: `make demo` and `make test` each set themselves up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR := demo_output

.PHONY: demo test bench clean

$(STAMP): pyproject.toml CTOPlaque/CTOPlaqueLib/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	command -v dciodvfy >/dev/null && command -v chromium >/dev/null && command -v pdfinfo >/dev/null \
	    || { apt-get update -qq && apt-get install -y -qq dicom3tools chromium poppler-utils; } \
	    || echo "dicom3tools, chromium or poppler-utils not installed: the DICOM validator and print tests will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m CTOPlaqueStatsLib.command phantom --out $(DEMO_DIR)/case
	$(PY) -m CTOPlaqueStatsLib.command analyze $(DEMO_DIR)/case/ccta.nrrd \
	    --centerline $(DEMO_DIR)/case/centerline.mrk.json \
	    --landmarks $(DEMO_DIR)/case/landmarks.mrk.json \
	    --lesion-id demo-lesion --patient-id demo-patient --out $(DEMO_DIR)/results
	@echo "Sample case: $(DEMO_DIR)/case   Results: $(DEMO_DIR)/results"

test: $(STAMP)
	$(VENV)/bin/ruff check CTOPlaque CTOPlaqueStats Testing bench
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_analyze.py
	$(PY) bench/bench_dicom.py
	$(PY) bench/bench_stats.py
	$(PY) bench/bench_panel.py
	$(PY) bench/bench_batch.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
