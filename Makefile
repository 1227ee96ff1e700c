# The VAE homework. `make help` lists the targets; the README says when to use each.
# .venv with the pinned packages: PYTHON, VENV, PY, STAMP and the $(STAMP) rule (TORCH=cpu for
# PyTorch without CUDA). The student release and the Gradescope zip ship the same file.
include setup.mk
# Written once MNIST is unpacked and its SHA-256 sums checked (solutions/common.py).
DATA_STAMP := data/MNIST/raw/.verified
EPOCHS ?= 10
SUBMISSION ?= assignment
RESULTS ?= build/grade/results.json
# Paths reach the grader through the environment, quoted by the shell: spaces, quotes, `;`
# or a leading `-` in a name stay one path and never run as a command.
# The class commands' folders and files, stated once: grade-all's, grade-class's (OUT), the LMS export's.
GRADE_ALL_OUT := build/grade-all
GRADEBOOK ?= $(GRADE_ALL_OUT)/gradebook.csv
OUT ?= build/grade-class
LMS ?= canvas
LMS_OUT ?= build/lms-export.csv
export SUBMISSION RESULTS SUBMISSIONS ORG PREFIX OUT GRADEBOOK LMS LMS_OUT

.DEFAULT_GOAL := help
.PHONY: help setup check test test-fast assignment train grade bench calibrate descent gpu-check

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) $(DATA_STAMP) ## Create .venv with the pinned packages (TORCH=cpu: no CUDA); unpack and verify MNIST.
	@# As root (CI, Gradescope), bubblewrap gives the grader's sandbox its strongest isolation.
	@if [ "$$(id -u)" = 0 ] && ! command -v bwrap >/dev/null && command -v apt-get >/dev/null; then \
	  echo "installing bubblewrap for the grader's sandbox"; \
	  (apt-get install -y -qq bubblewrap || (apt-get update -qq && apt-get install -y -qq bubblewrap)) >/dev/null \
	  || echo "bubblewrap could not be installed: the grader will isolate submissions by uid only"; fi
	@$(PY) -c "from autograder.sandbox.isolation import isolation_mode; from autograder.sandbox.cgroups import \
	  limits_mode; print('grader sandbox:', isolation_mode() + ', limits:', limits_mode())"

$(DATA_STAMP): $(STAMP) data/SHA256SUMS $(wildcard data/MNIST/raw/*.gz)
	$(PY) solutions/common.py
	touch $@

check: ## Student: quick public checks of what is graded (assignment/vae.py, or the notebook's code).
	cd assignment && ../$(PY) graded.py && ../$(PY) -m pytest -q -p no:cacheprovider test_public.py

# One pytest worker per core, each distinct hand-in graded once per session (tests/gradings.py);
# the tests that measure time (marker `serial`) run alone afterwards.
test: $(STAMP) $(DATA_STAMP) ## This repository's own tests, all of them (CI; about 25 minutes on 2 cores).
	$(PY) -m pytest -q -n auto --dist worksteal -m "not serial"
	$(PY) -m pytest -q -m serial

test-fast: $(STAMP) $(DATA_STAMP) ## The quick tests only (no grading, no sandbox start, no notebook run; about 50 s on 2 cores).
	$(PY) -m pytest -q -m "not slow" -n auto

assignment: ## Instructor: regenerate assignment/ from solutions/.
	$(PY) -m autograder.authoring.assign

grade: $(STAMP) $(DATA_STAMP) ## Grade SUBMISSION (a folder, .py, notebook or zip; default assignment/) into RESULTS.
	$(PY) -m autograder.grading.grade --submission="$$SUBMISSION" --results="$$RESULTS"

bench: ## Time grading against a plain script doing the same work (target 1.25x); ARGS=--repeat 3.
	$(PY) -m autograder.evidence.bench $(ARGS)

calibrate: ## Retrain correct and buggy variants for the elbo threshold (~6 min; ARGS=--report-only re-renders).
	$(PY) -m autograder.evidence.calibrate $(ARGS)

gpu-check: ## The grader on the best device (CUDA, MPS, else CPU): scores, grading vs plain time, 10 epochs; ARGS=--epochs 0.
	$(PY) -m autograder.evidence.gpu_check $(ARGS)

descent: ## How far one epoch moves the weights (the elbo check's descent threshold).
	$(PY) -m autograder.evidence.descent

train: ## Train the reference for EPOCHS epochs; PNGs in build/train/.
	cd solutions && ../$(PY) -m vae --epochs $(EPOCHS) --out ../build/train

# --- Deploying the homework: a student release, Gradescope, a whole class, grading on push (docs/course.md).
.PHONY: release autograder-zip grade-all class-report similarity grade-class

release: ## Instructor: write the student repository to build/release/ (audited).
	$(PY) -m autograder.deploy.release --out build/release

autograder-zip: ## Instructor: write build/autograder.zip to upload to Gradescope.
	$(PY) -m autograder.deploy.gradescope zip --out build/autograder.zip

grade-all: ## Instructor: grade SUBMISSIONS=<folder> in parallel; gradebook and class report in build/grade-all/.
	@test -n "$$SUBMISSIONS" || { echo "Usage: make grade-all SUBMISSIONS=<folder of student folders> [JOBS=n] [FORCE=1]"; exit 2; }
	$(PY) -m autograder.course.grade_all --out "$(GRADE_ALL_OUT)" $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) -- "$$SUBMISSIONS"

class-report: ## Instructor: rebuild report.md (and figures) beside GRADEBOOK=<gradebook.csv> without grading; SUBMISSIONS=folder adds similar code.
	$(PY) -m autograder.course.class_report $(if $(SUBMISSIONS),--submissions="$$SUBMISSIONS") -- "$$GRADEBOOK"

similarity: ## Instructor: pairs in SUBMISSIONS=<folder> whose code is too similar to be independent (BASE=public code); in build/grade-all/.
	@test -n "$$SUBMISSIONS" || { echo "Usage: make similarity SUBMISSIONS=<folder of student folders> [BASE=public-code.py]"; exit 2; }
	$(PY) -m autograder.course.similarity --out "$(GRADE_ALL_OUT)" $(if $(BASE),--base="$$BASE") -- "$$SUBMISSIONS"

# Hand-graded points of the notebook's questions (docs/course.md, section 6). MANUAL, from the
# command line, reaches the recipe through the environment like the paths above.
.PHONY: manual-template manual-merge
manual-template: ## Instructor: blank CSV of hand-graded points for GRADEBOOK's students (MANUAL=file; default beside it).
	$(PY) -m autograder.course.manual template --gradebook="$$GRADEBOOK" $(if $(MANUAL),--out="$$MANUAL")

manual-merge: ## Instructor: add the hand-graded points (MANUAL) to GRADEBOOK: auto + manual = total; rebuild the report.
	$(PY) -m autograder.course.manual merge --gradebook="$$GRADEBOOK" $(if $(MANUAL),--points="$$MANUAL")

# Grades to the school's LMS (docs/course.md, section 7). ROSTER, LMS, ASSIGNMENT and LMS_OUT, from
# the command line, reach the recipe through the environment like the paths above.
.PHONY: lms-export
lms-export: ## Instructor: GRADEBOOK's totals as a Canvas CSV (LMS=moodle: Moodle's) keyed by ROSTER's identifiers.
	@test -n "$$ROSTER" || { echo "Usage: make lms-export ROSTER=<GitHub Classroom roster.csv> [GRADEBOOK=file] [LMS=canvas|moodle (default $(LMS))] [ASSIGNMENT=name] [LMS_OUT=$(LMS_OUT)]"; exit 2; }
	$(PY) -m autograder.course.lms --gradebook="$$GRADEBOOK" --roster="$$ROSTER" --out="$$LMS_OUT" --format="$$LMS" $(if $(ASSIGNMENT),--assignment="$$ASSIGNMENT")

grade-class: ## Instructor: grade ORG's PREFIX* repositories' new commits; post each grade (CLASSROOM_TOKEN); POLICY: deadlines, late policy; ROSTER or REPOS: exactly the class; DRY_RUN=1: post nothing; SHARD=K/N: one shard, posts nothing.
	@test -n "$$ORG" && { test -n "$$PREFIX" || test -n "$$REPOS"; } || { echo "Usage: CLASSROOM_TOKEN=<token> make grade-class ORG=<organisation> PREFIX=<repository name prefix> [ROSTER=roster.csv | REPOS=list.txt] [DRY_RUN=1 | REGRADE=1] [OUT=$(OUT)] [JOBS=n] [FORCE=1] [POLICY=policy.toml] [SHARD=K/N]"; exit 2; }
	$(PY) -m autograder.course.classroom --org="$$ORG" --prefix="$$PREFIX" --out="$$OUT" $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) $(if $(POLICY),--policy="$$POLICY") $(if $(ROSTER),--roster="$$ROSTER") $(if $(REPOS),--repos="$$REPOS") $(if $(DRY_RUN),--dry-run) $(if $(REGRADE),--regrade) $(if $(SHARD),--shard="$$SHARD")

.PHONY: grade-class-regrade grade-class-post
grade-class-regrade: ## Instructor: grade-class's newest commits graded again; OUT/regrade.md: old and new points per student; posts nothing.
	@$(MAKE) --no-print-directory grade-class REGRADE=1

grade-class-post: ## Instructor: post OUT's plan (after DRY_RUN=1 or a regrade): each status and comment once (CLASSROOM_TOKEN).
	$(PY) -m autograder.course.classroom post --out="$$OUT"

.PHONY: grade-class-merge
grade-class-merge: ## Instructor: merge SHARDS="<shard 1's OUT> <shard 2's OUT> ..." (grade-class SHARD=K/N) into OUT; then grade-class-post.
	@test -n "$$SHARDS" || { echo "Usage: make grade-class-merge SHARDS=\"<shard 1's OUT> <shard 2's OUT> ...\" [OUT=$(OUT)]"; exit 2; }
	$(PY) -m autograder.course.shards merge -- "$$OUT" $$SHARDS
