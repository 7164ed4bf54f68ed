# Everything runs from the local virtual environment $(VENV), created on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PRESET ?= study
DEVICE ?= auto
# The training path of every run trained here (reference runs, chapters' retrain): fast, or plain for the release's
# computation (docs/decisions.md, *A faster training path*).
TRAINING_PATH ?= $(or $(SPECAE_TRAINING_PATH),fast)
RUNS ?= study
export SPECAE_TRAINING_PATH := $(TRAINING_PATH)

.PHONY: setup data book test library-tests book-tests chapters clean chromium reference-runs verify-runs

setup: $(STAMP)

# Reinstall only when the pins or the package metadata change. pip compiles every module as it installs: the
# machines here set PYTHONDONTWRITEBYTECODE=1, so a module left uncompiled would be compiled again by every
# process that imports it (tried: --no-compile saved 49 s of installing, and a clean-clone make test took 12 min).
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt -e ".[book,test]"
	touch $@

# Real HARPS sample files (checksummed, cached outside the repository; a no-op when present).
data: setup
	$(PY) -m specae samples

book: setup data
	$(PY) scripts/build_book.py --preset $(PRESET) --device $(DEVICE)

# Debian's headless Chromium for tests/test_site.py (a no-op when `chromium` is on PATH; needs root).
chromium:
	sh scripts/install_chromium.sh

# Lint, type-check lib/ (mypy, configured in pyproject.toml), then two halves side by side, one thread each (one
# per core of the 2-core machine). The library half: the unit tests, the slow ones included, and the chapters rerun
# under the smoke preset with parameters at the edges of their documented ranges. The book half: the tests that
# build the site and run the build script, the chapters executed as `make book PRESET=smoke` executes them and
# stopped by bad parameters, then the strict nbval check of the committed, executed chapters. The chapters were
# executed with AVX-512 kernels (recorded in each notebook's metadata and checked by tests/test_nbval_sanitize.py);
# the check re-runs them with torch, oneDNN and MKL capped at AVX2, so every committed output is compared across two
# instruction sets. It reads the study survey from the run cache that the library half's validity probe also reads
# (rendered once, by whichever half asks first); that the generator renders the same spectra under the caps is
# tested directly, on a few spectra (tests/test_generator_portability.py).
NBVAL := $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg chapters
OTHER_KERNELS := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
BOOK_TESTS := tests/test_site.py tests/test_build_book.py tests/test_smoke_book.py tests/test_parameters.py \
	tests/test_chapter_reruns_book_half.py

test: setup data chromium
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target library-tests book-tests

library-tests: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest tests $(BOOK_TESTS:%=--ignore=%)

book-tests: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest $(BOOK_TESTS)
	OMP_NUM_THREADS=1 $(OTHER_KERNELS) $(NBVAL)

# Execute chapters/*.ipynb in place with default parameters, for committing their outputs
# (CHAPTERS="01_data 03_training" for some only).
chapters: setup data
	$(PY) scripts/build_book.py --in-place $(if $(CHAPTERS),--only $(CHAPTERS))

# Train the study's reference runs that runs/ lacks (hours on a CPU; resumable: run it again after an
# interruption), writing each to runs/<name>/ as it finishes; RUNS=velocity trains the velocity runs instead,
# DEVICE=cuda on a GPU, TRAINING_PATH=plain on the plain path.
reference-runs: setup
	$(PY) -m specae reference-runs --set $(RUNS) --device $(DEVICE) --path $(TRAINING_PATH)

# Retrain one committed reference run from scratch here and compare it with runs/ (23 min on the 2-core machine, measured):
# make verify-runs RUN=vae16-seed0
RUN ?= vae16-seed0
verify-runs: setup
	$(PY) -m specae verify-run $(RUN) --device $(DEVICE)

clean:
	rm -rf _build
