"""The grader's settings: the one place an instructor changes points, thresholds and limits.

Every other module reads these names; nothing else holds a point value or a threshold.
"""
from __future__ import annotations

from autograder.paths import homework_module

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
# ... and the shape of its distribution: the Kolmogorov-Smirnov distance of the 80,000 standardised
# noise values from N(0, 1), times sqrt(80,000), must stay at most REPARAM_KS_LIMIT. Kolmogorov's
# limit law puts P(sqrt(n) D > 3.0) at 2 exp(-18) = 3.0e-8 for correct noise; measured on 3,000
# grader-sized draws of torch.randn: largest 2.37, tails at 1.36 / 1.63 of 4.5% / 0.87% (theory
# 4.9% / 0.98%). Noise scaled to unit variance gives 15.8 (uniform), 17.8 (Laplace), 11.1
# (Student t, 5 degrees of freedom), 97 (+-1). A hint names the shape by the excess kurtosis
# (uniform -1.2, +-1 -2, Laplace +3, normal 0): below -REPARAM_KURTOSIS_HINT flat, above heavy-tailed.
REPARAM_KS_LIMIT = 3.0
REPARAM_KURTOSIS_HINT = 0.5
# ... and names +-1-like noise where the standardised values, rounded to REPARAM_VALUE_ROUNDING,
# take at most REPARAM_FEW_VALUES distinct values per latent column (+-1 noise: 2; 4,000 normal
# draws: thousands).
REPARAM_VALUE_ROUNDING = 1e-3
REPARAM_FEW_VALUES = 4
# loss_function's reduction: the same 4 rows given twice must add as much again to a sum; a
# term that changes by at most this fraction of that is averaged over the batch (a batch mean
# changes by float32 rounding only, about 1e-7 of it).
LOSS_BATCH_MEAN_TOL = 1e-3

# --- The student's functions ----------------------------------------------------------------
# The functions a student writes, as the stubs' NotImplementedError messages and the graders'
# failure messages name them (solutions/vae.py's `### BEGIN SOLUTION` regions, in file order).
STUDENT_FUNCTIONS = ("VAE.encode", "VAE.reparameterize", "VAE.decode", "loss_function", "train")

# --- The hidden graders' inputs and tolerances (autograder/hidden/test_*.py) ---------------
# Seeds of each check's inputs and of the model the worker builds for it: arbitrary fixed
# values, one per check so that no two checks share noise. Changing one changes the inputs,
# not which submissions pass.
GRADER_SEEDS = {"parameters": 0, "encode": 1, "decode": 2, "reparameterize": 3, "gradient_flow": 4,
                "loss": 5, "train_probe": 6, "device": 7}
# Rows of every input of the device check (each function once on the `meta` device, which holds
# shapes without data: any small batch shows a device mistake).
DEVICE_CHECK_ROWS = 4
# Rows sent to encode and decode (test_model.py): enough that a per-row mistake shows, few
# enough that answers stay small.
MODEL_CHECK_ROWS = 16
# The most entries of one layer that the grader fills with weights of its own for encode and decode,
# in the layer sizes the submission declares (test_model.py): the lecture's largest holds
# 784 x 400 = 313,600. A layer declared larger (16 MB of float32 at this size) fails as changed
# before the grader makes its weights.
MAX_LAYER_ENTRIES = 4_000_000
# Rows of (mu, logvar) for the gradient check (test_sampling.py), as above.
GRADIENT_CHECK_ROWS = 8
# loss_function's inputs (test_loss.py): 8 rows, the first half is the baseline that the
# difference trick subtracts; recon is drawn inside (0.01, 0.99) so that no log() saturates.
LOSS_CHECK_ROWS = 8
LOSS_RECON_RANGE = (0.01, 0.99)
# reparameterize's inputs: one (mu, logvar) pair per latent column, spread over these ranges
# so that a mistake in std shows at several scales, not only at logvar = 0.
REPARAM_MU_RANGE = (-2.0, 2.0)
REPARAM_LOGVAR_RANGE = (-3.0, 2.0)

# A loss term (a float32 sum of about 4 x 784 terms, then a difference of two such sums) matches
# the reference within LOSS_RTOL relative plus LOSS_ATOL absolute: float32 rounding of such a
# sum is about 1e-5 relative, a real mistake is a factor (averaging: 1/784) or a sign.
LOSS_RTOL = 1e-4
LOSS_ATOL = 1e-3
# Each such difference a - b of two float32 totals of loss_function also moves by their rounding,
# which grows with the term that cancels, whatever its size: every tolerance on a difference adds
# LOSS_ROUNDING * (|a| + |b|). Rounding each total to float32 moves it by at most half a unit in its
# last place, 2^-24 of it; measured (scratch script, 300 draws of inputs like the checks', the KL
# cases' four mu/logvar variants, the BCE right, with its arguments swapped (totals of 1.3e5: a KL of
# 23 measured 22.99 and failed), with logits, squared, logits swapped): at most 0.95 * 2^-24 * (|a| + |b|)
# beyond LOSS_RTOL. 4 * 2^-24 keeps 4 times that: 0.06 nats on totals of 1.3e5, where the smallest
# KL mistake (the missing `1 +`) is 40 nats on the checks' 4 rows.
LOSS_ROUNDING = 4 * 2 ** -24
# |KL| of 4 rows at the prior (mu = 0, logvar = 0) that still counts as zero: exact arithmetic
# gives 0, float32 rounding of the two sums about 1e-5; a missing `1 +` gives 40.
KL_AT_PRIOR_TOL = 1e-3
# Hints only (they choose a message, never a score). A measured / expected KL ratio in
# (0, KL_AVERAGED_BELOW) reads as averaged over the 4 rows (0.25) or the 20 dimensions (0.05);
# a BCE ratio within HINT_RATIO_BAND (relative) of 1/784 or 1/(784 B) reads as averaged.
KL_AVERAGED_BELOW = 0.6
HINT_RATIO_BAND = 0.5
# A failed loss term within MISTAKE_MATCH_RTOL (relative) of a common mistake's value is that
# mistake (autograder/hidden/test_loss.py's MISTAKES): it names the cause first.
MISTAKE_MATCH_RTOL = 1e-3
# reparameterize: z - mu below NO_NOISE_TOL everywhere means no noise was added (the
# gradient check cannot run; the spread check names it). The standardised noise must vary by
# at least NOISE_REPEAT_MIN (mean std along rows and along columns; independent N(0, 1) noise
# gives 1, noise repeated along an axis gives 0). A spread within VARIANCE_HINT_RTOL of
# exp(logvar) reads as the variance used as the standard deviation (a hint only).
NO_NOISE_TOL = 1e-6
NOISE_REPEAT_MIN = 0.5
VARIANCE_HINT_RTOL = 0.1
# training_loop: after the probe's epoch, each weight within PROBE_WEIGHTS_RTOL of how far the
# correct loop moved the weights (plus PROBE_WEIGHTS_ATOL) of the grader's replay; SGD on
# float32 replays to rounding (about 1e-7), a missing or misplaced step differs by the whole
# move. train()'s returned mean loss within PROBE_LOSS_RTOL of the replay's; the per-batch
# mean (a hint) within PROBE_PER_BATCH_RTOL.
PROBE_WEIGHTS_RTOL = 1e-3
PROBE_WEIGHTS_ATOL = 1e-6
PROBE_LOSS_RTOL = 1e-4
PROBE_PER_BATCH_RTOL = 1e-3

# --- The elbo check -------------------------------------------------------------------------
# The training run, as the notebook trains: one epoch, batches of 128, Adam with lr 1e-3.
ELBO_EPOCHS = 1  # most of a grading's time is this epoch
ELBO_BATCH_SIZE = 128  # the lecture's and the notebook's
ELBO_LR = 1e-3  # Adam's default, the lecture's
ELBO_ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which the worker's optimizer keeps
ELBO_SEED = 0  # training seed (weights, shuffling, noise)
ELBO_EVAL_SEED = 1234  # noise seed when the grader evaluates the test ELBO
# Highest test negative ELBO (nats per image, 10,000 test images) that earns the points.
# Calibration (docs/calibration.md, `make calibrate`): 50 correct runs (the reference and four
# other correct implementations, 10 training seeds each) gave 126.26 to 127.75; 133.0 keeps
# 5.25 nats above the worst. Buggy runs that ruin training land from 143 up.
ELBO_THRESHOLD = 133.0
# The trained weights must descend from the random weights the grader loaded before training:
# the correlation of each weight matrix before and after the epoch must reach this. Measured
# with `make descent` on the reference, training seeds 0 and 1: 0.59 (fc4) to 0.94 (fc3) with
# its own start, within +-0.016 of 0 with an unrelated start (weights trained elsewhere).
ELBO_DESCENT_MIN_CORRELATION = 0.3
# One epoch's work, which train() must not exceed: MNIST's 60,000 training images in batches of
# ELBO_BATCH_SIZE, so ceil(60,000 / 128) = 469 optimizer steps (by any optimizer) and 60,000 images
# served by the grader's loader, plus one batch (a train() that looks at a batch first is honest).
ELBO_TRAIN_IMAGES = 60_000
# The trusted side's own clock, which no code in the worker can forge: the training call's wall
# time, divided by the time the grader then takes to evaluate the test ELBO (10,000 images, same
# machine, same moment), must stay at most ELBO_MAX_TIME_RATIO. Measured on correct code (the
# reference and four corpus variants, CPU, 2 cores shared with other jobs): 14 on an idle moment
# to 305 under load, as other work comes and goes; `make descent` (its own loader): 48 to 71. The
# limit keeps 3x the worst: a backstop against many extra epochs when the worker's counts are
# forged, not a measure of one extra epoch (the counts and the weights' moves are).
ELBO_MAX_TIME_RATIO = 1000.0
# Only live hidden units count (autograder/hidden/checks.py's live_units: not dead on every test
# image, and some outgoing weight at least ELBO_SILENT_WEIGHT, where the grader's start puts the
# largest of each unit's 40 or 784 outgoing weights near 1/sqrt(400) = 0.05): weights trained
# elsewhere hide in live units beside the grader's, which dead or ignored units keep.
ELBO_SILENT_WEIGHT = 1e-3
# Live units are judged on the first ELBO_LIVE_UNIT_IMAGES test images (all 10,000 took 0.33 s of
# the grader's one thread, 3% of an 11 s grading; a unit live on none of 2,000 is left out, which
# only narrows what the correlation looks at).
ELBO_LIVE_UNIT_IMAGES = 2000
# The elbo check's diagnosis when it fails, from the test ELBO's parts (nats per image): a
# reconstruction BCE at or above ELBO_NOTHING_LEARNT_BCE is no better than an untrained model's
# (about 543 = 784 ln 2 for recon = 1/2 everywhere): nothing learnt; a KL below
# ELBO_COLLAPSE_KL_BELOW: posterior collapse; above ELBO_KL_HUGE_ABOVE with a wrong KL term: the KL barely counted.
# Measured (BCE + KL, one epoch): the reference 106 + 21 (training seeds 0 and 1); an untrained
# model 551 + 0.1; poorly trained buggy variants 140 to 295 + 3.1 to 18 (mu.data in z: 193 + 3.1);
# encode's heads swapped 532 + 42; the KL's variance part missing (logvar for exp(logvar)) 97 + 108;
# the KL averaged over the batch 87 + 159 to 165 (two weight seeds); the KL's sign flipped 10905 + 4e25.
ELBO_NOTHING_LEARNT_BCE = 400.0
ELBO_COLLAPSE_KL_BELOW = 1.0
ELBO_KL_HUGE_ABOVE = 70.0  # 3.3 times the reference's KL; 1.7 times the swapped heads' 42

# --- What feedback.png shows, in words (autograder/hidden/pictures.py) -------------------------
# A student on Gradescope or reading the commit comment never sees the picture: the elbo check's
# message says what it shows, measured on one fixed draw of FEEDBACK_MEASURED test images, their
# reconstructions and as many samples from the prior (the picture shows the first 8 and 16).
FEEDBACK_MEASURED = 64
# A pixel is grey (blur, noise) strictly between these grey levels; MNIST's test images: 8.4% grey.
FEEDBACK_GREY = (0.1, 0.9)
# The reference's own picture after the elbo check's epoch (training and weight seeds 0 and 1):
# reconstructions 0.068 / 0.067 from the test images per pixel, samples varying by 0.111 / 0.109,
# of mean grey level 0.115 / 0.115 (the 64 test images': 0.115), 25% / 26% of their pixels grey;
# its test loss 126.3 to 127.8 (docs/calibration.md).
FEEDBACK_REFERENCE = {"test_loss": 127.0, "recon_error": 0.068, "sample_spread": 0.110, "sample_mean": 0.115,
                      "sample_grey": 0.25}
# Reconstructions or samples that vary from picture to picture by less than this share of what the
# test images vary by (0.178) are "nearly all the same picture". Measured (share, reconstructions /
# samples): the reference 0.77 / 0.62; a debugging break after 100 batches 0.48 / 0.37; the KL
# averaged 0.85 / 0.52; no zero_grad 0.28 / 0.56; the KL's sign flipped 0.14 / 0.26; the BCE
# averaged (posterior collapse) 0.10 / 0.09; the BCE's complement missing (all white) 0.06 / 0.06;
# BCE with logits (nothing learnt, all black) 0.006 / 0.008.
FEEDBACK_ALIKE_BELOW = 0.2

# --- The sandbox that runs the submission ---------------------------------------------------
IMPORT_TIMEOUT_S = 60  # import the submission (torch's own import included)
CALL_TIMEOUT_S = 30  # one quick call (encode, loss, a tiny train() run, ...)
TRAIN_TIMEOUT_S = 300  # the elbo check's training epoch
# Memory of all the submission's processes together: resident, shared (memfd, /dev/shm) and its
# tmpfs files (sandbox/cgroups.py says how each machine counts it).
MEMORY_LIMIT_MB = 4096
OUTPUT_LIMIT_KB = 64  # what is kept of the submission's stdout and stderr (head and tail)
# Processes and threads of the submission together (its control group; without one, of the
# sandbox uid in bwrap and uid modes): torch needs about two per core, a fork bomb needs them all.
TASK_LIMIT = 512
# Open file descriptors of each of the submission's processes (RLIMIT_NOFILE, sandbox/limits.py):
# Linux's usual soft limit. integrity.py flags a descriptor function given a number below it
# (os.write(5, ...)): any descriptor the worker can hold, its pipes to the grader among them.
FD_LIMIT = 1024
# Each grading's CPU share (its control group's cgroup2 cpu.weight; cgroup v1 cpu.shares is this
# times 1024/100). 100 is the kernel's default for a group and weighs as much as one ordinary
# process: gradings running together share the cores equally, however many processes each starts.
CPU_WEIGHT = 100
# The unprivileged uid that runs submissions when grading as root. It needs no account, and no
# other program may use it (the grader kills every process of this uid after grading).
# Batch grading uses SANDBOX_UID - slot for its parallel jobs.
SANDBOX_UID = 64000
# The user name the worker runs under, in every isolation mode (USER and LOGNAME): the sandbox
# uid has no account, and libraries that ask for a name (torch._dynamo's cache folder calls
# getpass.getuser(); on torch 2.11 with CUDA the import failed without one) get this one.
SANDBOX_USER = "vae-student"
# Force a weaker isolation mode than the strongest that works here ("uid" or "process"): for
# this repository's tests of each mode, or a machine where bubblewrap misbehaves. Unset: the
# strongest. Asking for a mode stronger than what works is a grader error, never a downgrade.
ISOLATION_ENV = "VAE_SANDBOX_ISOLATION"

# --- Notebook submissions -------------------------------------------------------------------
# nbgrader grade_id of vae.ipynb's editable code cell that holds (or imports) the student's code;
# solutions/graded.py, which students have too, owns it and says what a notebook hand-in grades.
NOTEBOOK_CODE_CELL = homework_module("graded").GRADED_CELL

# --- What the grader reads of a hand-in, and what it writes ------------------------------------
# Anything larger is refused with a message that says so, never cut. vae.py as released is
# about 6 KB; 1 MB leaves room for any honest solution, not for data pasted into the file.
SUBMISSION_MAX_BYTES = 1 << 20
NOTEBOOK_MAX_BYTES = 20 << 20  # a notebook with its output images (the released one: ~40 KB)
HANDIN_MAX_FILES = 10_000  # entries looked at in a hand-in folder or zip
HANDIN_MAX_BYTES = 200 << 20  # a zip's files, uncompressed, together
# Folders a zip's member may lie below: a repository's deepest honest path is about 10 (a
# notebook checkpoint under assignment/); deeper trees, up to thousands of levels, only break tools.
HANDIN_MAX_DEPTH = 64
WORKFLOW_MAX_BYTES = 64 << 10  # one file of a cloned repository's .github/workflows/
# results.json: every string (student-derived ones included) is cut to RESULTS_TEXT_CHARS,
# and the whole file stays under RESULTS_MAX_BYTES (Gradescope and CI readers stay fast).
RESULTS_TEXT_CHARS = 10_000
RESULTS_MAX_BYTES = 1_000_000

# --- What students see, and when (docs/course.md) -----------------------------------------------
# Both off by default. Holding the hidden checks' messages back until the deadline keeps students
# from debugging the hidden graders by resubmission, at the cost of feedback when it helps most;
# before the deadline the student sees the score alone (Gradescope: "after_due_date" visibility;
# grade-class: the posted comment). The deadline is Gradescope's own on that route, the policy
# file's (autograder/course/policy.py) on grade-class.
HOLD_BACK_DETAILS_UNTIL_DEADLINE = False
# Graded attempts per student per day (None: no limit). A grading that fails through the grader's
# own fault costs no attempt, nor does an upload with nothing to grade. The day is UTC's. A limit
# slows probing the hidden graders by resubmission, and honest iteration as much; the public
# checks stay unlimited. On Gradescope an upload over the limit is not graded and keeps the day's
# last graded score (autograder/deploy/gradescope.py).
GRADED_ATTEMPTS_PER_DAY: int | None = None

# --- Copied code: the class report's similarity review (autograder/course/similarity.py) ----------
# Winnowing over normalised Python tokens, the starter code and the reference subtracted. Chosen on
# evidence (tests/course/test_similarity.py; K 8 to 16 and WINDOW 2 to 8 measured): at K=12, WINDOW=4 the 17
# independent ports of tests/submissions/thirdparty/ and the reference (153 pairs) score at most 0.46
# (median 0.03) once pytorch/examples' vae/main.py is given as public base code; without it, one
# pair scores 0.90: lyeoni's notebook copied pytorch/examples' training loop, and is rightly listed
# (the next pair 0.59). 136 planted copies of the ports (renamed, reordered, comments and layout
# changed, and combinations) score at least 0.96. 0.7 keeps 0.24 above the first and 0.26 below the
# second. WINDOW=4: any common run of K + WINDOW - 1 = 15 tokens (about two lines) shares a
# fingerprint. A pair must also share SIMILARITY_MIN_SHARED fingerprints (about 25 tokens, two or
# three lines): below that a score is one or two lines. Its cost: a hand-in that is the reference
# with a line changed keeps fewer (3 to 9), so its copies are missed (40 of 120 such copies).
SIMILARITY_K = 12  # tokens per k-gram
SIMILARITY_WINDOW = 4  # k-grams per winnowing window
SIMILARITY_THRESHOLD = 0.7  # shared fingerprints / the smaller hand-in's, from which a pair is listed
SIMILARITY_MIN_SHARED = 10
