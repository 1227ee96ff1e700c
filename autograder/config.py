"""The grader's settings: the one place an instructor changes points, thresholds and limits.

Every other module reads these names; nothing else holds a point value or a threshold.
"""
from __future__ import annotations

# Rubric tag -> points. Each hidden test carries exactly one tag; a tag's points are shared
# equally by its tests. The descriptions are shown to students beside their score.
RUBRIC: dict[str, tuple[float, str]] = {
    "encode": (10, "encode(x) returns (mu, logvar), each (B, 20), as the lecture computes them"),
    "decode": (10, "decode(z) returns (B, 784) Bernoulli means, as the lecture computes them"),
    "reparameterize": (10, "z = mu + eps * exp(logvar / 2) with fresh standard-normal noise"),
    "gradient_flow": (10, "gradients flow from z back to mu and logvar with the right values"),
    "parameter_count": (5, "the five layers hold the lecture's number of trainable parameters"),
    "kl": (15, "the KL term of loss_function, summed over latent dimensions and batch"),
    "reconstruction": (10, "the BCE term of loss_function, summed over pixels and batch"),
    "training_loop": (15, "train() clears gradients, backpropagates, steps, returns the mean loss"),
    "elbo": (15, "a model trained one epoch by your train() reaches a good test ELBO"),
}

# --- Checks' numerical settings -----------------------------------------------------------
# Relative and absolute tolerance when a value is compared with the reference computation.
RTOL = 1e-4
ATOL = 1e-4
# reparameterize: samples per latent column, and how far the standardised noise may stray
# from N(0, 1) (about 5 standard errors for 4,000 samples).
REPARAM_SAMPLES = 4000
REPARAM_MEAN_TOL = 0.08
REPARAM_STD_TOL = 0.06
# loss_function's reduction: the same 4 rows given twice must add as much again to a sum; a
# term that changes by at most this fraction of that is averaged over the batch (a batch mean
# changes by float32 rounding only, about 1e-7 of it).
LOSS_BATCH_MEAN_TOL = 1e-3

# --- The elbo check -------------------------------------------------------------------------
ELBO_EPOCHS = 1
ELBO_BATCH_SIZE = 128
ELBO_LR = 1e-3
ELBO_SEED = 0  # training seed (weights, shuffling, noise)
ELBO_EVAL_SEED = 1234  # noise seed when the grader evaluates the test ELBO
# Highest test negative ELBO (nats per image, 10,000 test images) that earns the points.
# Calibration (docs/calibration.md, `make calibrate`): 50 correct runs (the reference and four
# other correct implementations, 10 training seeds each) gave 126.26 to 127.75; 133.0 keeps
# 5.25 nats above the worst. Buggy runs that ruin training land from 143 up.
ELBO_THRESHOLD = 133.0
# The trained weights must descend from the random weights the grader loaded before training:
# the correlation of each weight matrix before and after the epoch must reach this. Measured on
# the reference (training seeds 0 and 1): 0.59 (fc4) to 0.93 (fc3) after one epoch; between
# weights from two unrelated random starts it is within +-0.011 of 0 (8,000 to 313,600 entries).
ELBO_DESCENT_MIN_CORRELATION = 0.3

# --- The sandbox that runs the submission ---------------------------------------------------
IMPORT_TIMEOUT_S = 60  # import the submission (torch's own import included)
CALL_TIMEOUT_S = 30  # one quick call (encode, loss, a tiny train() run, ...)
TRAIN_TIMEOUT_S = 300  # the elbo check's training epoch
MEMORY_LIMIT_MB = 4096  # resident memory of all the submission's processes together
OUTPUT_LIMIT_KB = 64  # what is kept of the submission's stdout and stderr (head and tail)
# Processes and threads of the sandbox uid (bwrap and uid modes only): torch needs about two per
# core, a fork bomb needs them all.
TASK_LIMIT = 512
# The unprivileged uid that runs submissions when grading as root. It needs no account, and no
# other program may use it (the grader kills every process of this uid after grading).
# Batch grading uses SANDBOX_UID - slot for its parallel jobs.
SANDBOX_UID = 64000

# --- Notebook submissions -------------------------------------------------------------------
# nbgrader grade_id of vae.ipynb's editable code cell that holds (or imports) the student's code.
NOTEBOOK_CODE_CELL = "vae-code"

# --- What the grader reads of a hand-in, and what it writes ------------------------------------
# Anything larger is refused with a message that says so, never cut. vae.py as released is
# about 6 KB; 1 MB leaves room for any honest solution, not for data pasted into the file.
SUBMISSION_MAX_BYTES = 1 << 20
NOTEBOOK_MAX_BYTES = 20 << 20  # a notebook with its output images (the released one: ~40 KB)
HANDIN_MAX_FILES = 10_000  # entries looked at in a hand-in folder or zip
HANDIN_MAX_BYTES = 200 << 20  # a zip's files, uncompressed, together
WORKFLOW_MAX_BYTES = 64 << 10  # one file of a cloned repository's .github/workflows/
# results.json: every string (student-derived ones included) is cut to RESULTS_TEXT_CHARS,
# and the whole file stays under RESULTS_MAX_BYTES (Gradescope and CI readers stay fast).
RESULTS_TEXT_CHARS = 10_000
RESULTS_MAX_BYTES = 1_000_000
