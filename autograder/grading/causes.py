"""Cause codes: the mistake a failed check diagnosed, as data.

Every failed check in results.json carries one code in its `extra_data["cause"]`, beside the
message the student reads. The codes are stable (a gradebook from last year still reads): add
new ones, never rename. The hidden graders name a code when they fail (autograder/hidden/
checks.py's `fail(message, cause)`), the corpus states the code each mistake must get
(tests/submissions/corpus.toml), and the class report counts them (autograder/deploy/).

Standard library only: the class report reads it without the grader's virtual environment.
"""
from __future__ import annotations

from typing import Any, Mapping

UNKNOWN = "unknown"
NOT_RUN = "grader.not_run"
INTERNAL = "grader.internal"
CAUSE = "cause"  # the key in a failed entry's extra_data

# code -> what it means, in one line (for instructors; students read the checks' messages).
# A code is a mistake one would address in a lecture; the prefix says where it lives.
CAUSES: dict[str, str] = {
    UNKNOWN: "the check failed and no known mistake matched its evidence",
    NOT_RUN: "the check could not run (nothing gradable handed in, or a grader error): a person should look",
    INTERNAL: "the grader could not interpret what the code returned (a grader bug?): a person should look",
    # Hand-in and sandbox: the code could not be run at all, or a call never came back.
    "handin.not_gradable": "nothing gradable was handed in (no vae.py, too large, ambiguous, unreadable)",
    "function.import_failed": "vae.py could not be imported (a syntax error, a missing module, an error at import)",
    "function.not_implemented": "a function still raises NotImplementedError",
    "function.raised": "a function raised an exception on valid inputs",
    "function.not_a_tensor": "a function returned something other than a tensor",
    "function.wrong_shape": "a function returned a tensor of the wrong shape",
    "function.not_float32": "a function returned a tensor of another dtype than the model's float32",
    "function.not_finite": "a function returned NaN or infinite values",
    "sandbox.timeout": "a call did not finish in time (an endless loop, or far too slow)",
    "sandbox.memory": "a call used more memory than allowed",
    "sandbox.died": "the process running the code ended during a call (sys.exit, os._exit, a crash)",
    "sandbox.unreadable_answer": "a call's answer could not be read (something wrote to the grader's channel)",
    "device.tensor_created_on_cpu": "reparameterize makes a tensor on the CPU whatever the input's device (breaks on a GPU)",
    "device.encode_on_cpu": "encode makes a tensor on the CPU whatever the input's device (breaks on a GPU)",
    "device.decode_on_cpu": "decode makes a tensor on the CPU whatever the input's device (breaks on a GPU)",
    "device.bce_on_cpu": "the loss's BCE term makes a tensor on the CPU whatever the input's device (breaks on a GPU)",
    "device.kl_on_cpu": "the loss's KL term makes a tensor on the CPU whatever the input's device (breaks on a GPU)",
    "device.batch_not_moved": "train() leaves the batches where the loader made them, not on `device` (breaks on a GPU)",
    # The model.
    "model.parameter_count": "the model's trainable parameters differ from the lecture's five layers",
    "model.layers_changed": "a layer of __init__ is missing, renamed or of a shape the lecture's cannot take",
    "encode.not_a_pair": "encode does not return the pair (mu, logvar)",
    "encode.no_relu": "encode's hidden layer has no ReLU",
    "encode.heads_mixed": "mu and logvar come from the same or each other's head (fc21 / fc22)",
    "decode.no_sigmoid": "decode returns logits (no sigmoid): pixels are not probabilities",
    "decode.no_hidden_relu": "decode's hidden layer has no ReLU",
    # reparameterize and its gradients.
    "reparameterize.std_is_exp_logvar": "std = exp(logvar) (the variance) instead of exp(logvar / 2)",
    "reparameterize.std_is_half_logvar": "std = logvar / 2, the exp is missing",
    "reparameterize.no_noise": "z = mu: no noise is added in training mode",
    "reparameterize.not_centred": "z is not centred on mu (noise of non-zero mean)",
    "reparameterize.noise_not_fresh": "the same noise on every call (drawn once, or the RNG reseeded)",
    "reparameterize.noise_not_normal": "noise of the right mean and spread but not normal (uniform, +-1, Laplace)",
    "reparameterize.noise_shared": "one noise value shared across rows or columns (eps of the wrong shape)",
    "gradient_flow.cut": "no gradient reaches mu or logvar through z (.data, .detach(), NumPy, torch.normal)",
    # loss_function.
    "loss.not_scalar": "loss_function returns one value in a tensor of shape (1,), not a scalar",
    "loss.not_reduced": "loss_function returns many values (reduction='none', or a sum over one dim only)",
    "loss.not_flattened": "the BCE fails for x of shape (B, 1, 28, 28): x is not flattened like recon_x",
    "bce.averaged": "the reconstruction term is averaged (reduction='mean') instead of summed",
    "bce.with_logits": "BCE-with-logits on decode's probabilities (a second sigmoid)",
    "bce.arguments_swapped": "the BCE's arguments swapped: the log of the images, not of decode's probabilities",
    "bce.squared_error": "squared error instead of the binary cross-entropy",
    "bce.missing_complement": "the (1 - x) log(1 - recon) half of the BCE is missing",
    "bce.no_gradient": "the reconstruction term's value is right, but .item()/.detach() stops its gradient",
    "kl.averaged": "the KL term is averaged (over the batch or the latent dimensions) instead of summed",
    "kl.sign_flipped": "the KL term has the wrong sign (training maximises it)",
    "kl.missing_half": "the KL term lacks its factor 1/2 (twice the KL)",
    "kl.missing_one": "the `1 +` inside the KL is missing (a constant offset)",
    "kl.logvar_as_variance": "logvar used where the variance exp(logvar) belongs (or the reverse)",
    "kl.std_as_variance": "the standard deviation used where the variance exp(logvar) belongs",
    "kl.missing": "the KL term is not in the loss (the loss does not change with mu and logvar)",
    "kl.no_gradient": "the KL term's value is right, but .item()/.detach() stops its gradient",
    # train() and the elbo run.
    "train.no_zero_grad": "optimizer.zero_grad() is never called: gradients pile up",
    "train.no_update": "no step ever applies a gradient (step missing, before backward, or after zero_grad)",
    "train.returns_not_float": "train() returns something other than a float",
    "train.returns_last_batch": "train() returns the last batch's loss, not the epoch's mean per example",
    "train.mean_per_batch": "train() returns the mean loss per batch, not per example",
    "train.eval_mode": "train() runs the model in evaluation mode (model.train() missing, or model.eval() in the loop)",
    "train.one_step_per_epoch": "train() takes one optimizer step per epoch (the batches' losses added up), not one per batch",
    "train.own_optimizer": "train() ignores the optimizer it is given (its own optimizer, or another learning rate)",
    "train.ignores_loader": "train() does not train on the loader it is given (another split, or data of its own)",
    "train.reinitialises_model": "train() loads, rebuilds, re-initialises or adds to the model instead of training it",
    "train.more_than_one_epoch": "train() did more than one epoch's work (extra passes or optimizer steps, its own loop)",
    "elbo.nothing_learnt": "after the epoch the reconstructions are no better than noise: nothing was learnt",
    "elbo.posterior_collapse": "posterior collapse: the KL term dominates, every image decodes to the same blob",
    "elbo.kl_exploded": "the trained posterior is far from the prior: the KL term is too weak or its sign flipped",
    "elbo.diverged": "training diverged: the trained weights hold NaN or infinite values",
    "elbo.too_high": "the model trained, but its test loss stays above the threshold",
}


def cause_of(entry: Mapping[str, Any]) -> str | None:
    """The cause code of a failed entry (UNKNOWN when it has none), None for a passed one."""
    if entry.get("status") == "passed":
        return None
    extra = entry.get("extra_data")
    code = extra.get(CAUSE) if isinstance(extra, Mapping) else None
    return code if isinstance(code, str) and code in CAUSES else UNKNOWN
