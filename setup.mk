# Setting up .venv with the pinned packages of requirements.txt. One copy, included by this
# repository's Makefile and shipped as it is in the student release and the Gradescope zip.
#
# It checks the Python first; a .venv left by a failed or interrupted set-up (made by an older
# Python, or without pip) is made again; pip shows each package and download as it goes, and
# the end prints the size. Only the stamp $(STAMP), written last, says "installed".
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The oldest Python the pins install on: numpy 2.4, matplotlib 3.11, pillow 13, nbgrader 0.9.6,
# ipykernel 7.4 and hypothesis 6.170 each require 3.11 (their Requires-Python). pyproject.toml's
# requires-python and the READMEs say the same (tests/deploy/test_setup.py checks).
MIN_PYTHON := 3.11
PYTHON_IS_RECENT := -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$(MIN_PYTHON)'.split('.'))))"
PYTHON_VERSION := -c 'import sys; print("Python " + sys.version.split()[0])'  # Python 2 too
# TORCH=cpu: PyTorch's CPU-only wheels from its own index, without the CUDA libraries (4.7 of
# the 5.9 GB that PyPI's torch installs, measured with du). Unset: PyPI's torch, which installs
# everywhere.
TORCH ?=
TORCH_INDEX_cpu := https://download.pytorch.org/whl/cpu
ifneq ($(TORCH),)
ifeq ($(TORCH_INDEX_$(TORCH)),)
$(error TORCH=$(TORCH) is not offered: TORCH=cpu installs PyTorch's CPU-only wheels; leave TORCH unset for PyPI's)
endif
endif
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check

$(STAMP): requirements.txt
	@$(PYTHON) $(PYTHON_IS_RECENT) 2>/dev/null || { echo "make setup needs Python $(MIN_PYTHON) or newer (the pinned packages require it), and PYTHON=$(PYTHON) is $$($(PYTHON) $(PYTHON_VERSION) 2>/dev/null || echo missing): install Python $(MIN_PYTHON), then run: make setup PYTHON=python$(MIN_PYTHON)"; exit 1; }
	@$(PY) $(PYTHON_IS_RECENT) 2>/dev/null && $(PY) -m pip --version >/dev/null 2>&1 \
	  || { echo "creating $(VENV) with $$($(PYTHON) --version 2>&1)"; $(PYTHON) -m venv --clear $(VENV); }
	@echo "installing the pinned packages into $(VENV): a few minutes; about 5.9 GB$(if $(TORCH),, (make setup TORCH=cpu: PyTorch without CUDA))"
	$(if $(TORCH),$(PIP_INSTALL) --index-url $(TORCH_INDEX_$(TORCH)) $$(grep -E '^torch(vision)?==' requirements.txt))
	$(PIP_INSTALL) -r requirements.txt
	@echo "$(VENV) installed: $$(du -sh $(VENV) | cut -f1)"
	@touch $@
