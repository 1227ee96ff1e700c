# The VAE homework. `make help` lists the targets; the README says when to use each.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EPOCHS ?= 10

.DEFAULT_GOAL := help
.PHONY: help setup check test assignment train

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## Create .venv with the pinned packages; unpack and verify MNIST.
	$(PY) solutions/common.py

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

check: ## Student: quick public checks of assignment/vae.py.
	cd assignment && ../$(PY) -m pytest -q -p no:cacheprovider test_public.py

test: ## This repository's own tests.
	$(PY) -m pytest -q

assignment: ## Instructor: regenerate assignment/ from solutions/.
	$(PY) -m autograder.assign

train: ## Train the reference for EPOCHS epochs; PNGs in build/train/.
	cd solutions && ../$(PY) -m vae --epochs $(EPOCHS) --out ../build/train
