"""Greedy search, beam search and sampling over a seq2seq model's cached single-step decode.

Every function drives a model that implements the decoding interface of `zoo.models`
(`encode`, `init_decode_state`, `decode_step`, `max_length`, `target_vocab_size`) inside
one `keras.ops.while_loop`, so decoding costs one cached step per token, compiles with
XLA, and traces into a `tf.function` with stock ops only: tokens are written into the
output buffer with `ops.where` on a position one-hot, never with `ops.slice_update`
(which lowers to `XlaDynamicUpdateSlice`).

keras-hub's samplers (`GreedySampler`, `TopKSampler`, `TopPSampler`, `BeamSampler`) were
not reused: they decode a decoder-only prompt buffer through `next(prompt, cache, index)`,
write it with `ops.slice_update`, keep their random state in a variable, and their beam
search has no length penalty and returns no alignment.

Outputs start after BOS and hold 0 (padding) after the first EOS, which is kept. The
padding id 0 and BOS are never generated (their logits are masked).

Two controls, off by default, ban tokens at each step (as fairseq's and Hugging Face's
`min_length` / `no_repeat_ngram_size`): `min_length` bans EOS until that many tokens have
been generated, and `no_repeat_ngram_size=n` bans every token that would complete an
n-gram already present in the row's output. The n-gram bans are vectorised over all rows
(batch x beam): the last n-1 tokens are compared with every (n-1)-gram of the output
buffer at once, and the tokens that followed the matches are banned through one
`ops.scatter` of the matches into a `(rows, vocabulary)` count (`ScatterNd`, a stock op).
Banned tokens get a log-probability of -1e8 without renormalising the others, so beam
scores stay the model's log-probabilities of the hypotheses (as in fairseq).

Example:

>>> import numpy as np
>>> import zoo.decoding, zoo.models
>>> model = zoo.models.build("lstm_bahdanau", source_vocab_size=20,
...                          target_vocab_size=20, units=16, embedding_dim=8)
>>> source = np.array([[7, 8, 9, 3], [5, 6, 3, 0]], "int32")
>>> tuple(zoo.decoding.greedy_search(model, source, max_length=6).shape)
(2, 6)
>>> ids, scores = zoo.decoding.beam_search(model, source, max_length=6, beam_size=3)
>>> tuple(ids.shape), tuple(scores.shape)
((2, 6), (2,))
>>> ids = zoo.decoding.greedy_search(model, source, max_length=6, min_length=2,
...                                  no_repeat_ngram_size=2)
>>> bool(np.all(np.asarray(ids)[:, :2] != zoo.decoding.EOS_ID))  # EOS at 2 at the soonest
True
"""

import keras
import numpy as np
from keras import ops

from zoo.errors import UsageError

BOS_ID = 2
EOS_ID = 3
# A finite "minus infinity": it keeps sums and divisions NaN-free.
_NEG_INF = -1e9
# The log-probability (or logit) of a token banned by `min_length` or
# `no_repeat_ngram_size`: above padding's and BOS's, so that a row whose every other
# token is banned never generates those.
_BANNED = -1e8


def greedy_search(model, source_ids, max_length, bos_id=BOS_ID, eos_id=EOS_ID,
                  return_alignment=False, min_length=0, no_repeat_ngram_size=0):
    """Decodes the most probable token at every step.

    Args:
        model: a seq2seq model with the decoding interface of `zoo.models`.
        source_ids: int tensor `(batch, source_length)`, 0-padded.
        max_length: a Python int, the number of tokens to generate at most.
        bos_id: the token fed at the first step.
        eos_id: the token that ends a sequence.
        return_alignment: also return the cross-attention weights of every step.
        min_length: a Python int; EOS cannot be generated before this many tokens have
            been (0: off; at most `max_length`).
        no_repeat_ngram_size: a Python int n; no n-gram appears twice in one output
            (0: off).

    Returns:
        ids `(batch, max_length)` int32; with `return_alignment`, also the alignment
        `(batch, max_length, source_length)` float32 (zeros after EOS).

    Example:

    >>> ids = zoo.decoding.greedy_search(model, source, max_length=6)  # doctest: +SKIP
    >>> ids = zoo.decoding.greedy_search(model, source, 6, min_length=2,
    ...                                  no_repeat_ngram_size=3)  # doctest: +SKIP
    """

    def choose(logits, step):
        return _argmax(logits)

    return _decode_one_per_row(model, source_ids, max_length, bos_id, eos_id, choose,
                               return_alignment, min_length, no_repeat_ngram_size)


def sample(model, source_ids, max_length, bos_id=BOS_ID, eos_id=EOS_ID, temperature=1.0,
           top_k=None, top_p=None, seed=None, return_alignment=False, min_length=0,
           no_repeat_ngram_size=0):
    """Samples every token from the model's distribution (temperature, top-k, top-p).

    The random numbers for all steps are drawn before the loop (one uniform per row and
    step) and turned into tokens by inverting the filtered distribution's CDF, so the
    loop holds no random state and works unchanged under every backend and in XLA. Tokens
    banned by `min_length` or `no_repeat_ngram_size` are removed before the filters, so
    the distribution is renormalised over the allowed tokens.

    Args:
        model: a seq2seq model with the decoding interface of `zoo.models`.
        source_ids: int tensor `(batch, source_length)`, 0-padded.
        max_length: a Python int, the number of tokens to generate at most.
        bos_id: the token fed at the first step.
        eos_id: the token that ends a sequence.
        temperature: divides the logits; below 1 sharpens, above 1 flattens.
        top_k: keep only the `top_k` most probable tokens (None: all).
        top_p: keep the smallest set of most probable tokens whose probability reaches
            `top_p` (nucleus sampling; None: all).
        seed: an int for reproducible samples (needed when tracing under JAX), or None.
        return_alignment: also return the cross-attention weights of every step.
        min_length: a Python int; EOS cannot be generated before this many tokens have
            been (0: off; at most `max_length`).
        no_repeat_ngram_size: a Python int n; no n-gram appears twice in one output
            (0: off).

    Returns:
        ids `(batch, max_length)` int32 (and the alignment, as in `greedy_search`).

    Example:

    >>> ids = zoo.decoding.sample(model, source, 6, top_k=5, seed=1)  # doctest: +SKIP
    """
    if not temperature > 0:
        raise UsageError(f"temperature must be > 0, got {temperature}; use greedy_search "
                         "for deterministic decoding.")
    vocab_size = int(model.target_vocab_size)
    if top_k is not None and not 1 <= int(top_k) <= vocab_size:
        raise UsageError(f"top_k must be in [1, {vocab_size}] (the target vocabulary "
                         f"size), got {top_k}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise UsageError(f"top_p must be in (0, 1], got {top_p}.")
    source_ids = _check_source(model, source_ids, max_length)
    check_controls(min_length, no_repeat_ngram_size, max_length)
    batch_size = ops.shape(source_ids)[0]
    uniforms = keras.random.uniform((batch_size, max_length), seed=seed, dtype="float32")
    positions = ops.arange(max_length, dtype="int32")

    def choose(logits, step):
        probabilities = ops.softmax(ops.cast(logits, "float32") / temperature, axis=-1)
        candidates = None
        if top_k is not None or top_p is not None:
            probabilities, candidates = ops.top_k(probabilities, k=int(top_k or vocab_size))
            if top_p is not None:
                mass_before = ops.cumsum(probabilities, axis=-1) - probabilities
                probabilities = ops.where(mass_before < top_p, probabilities, 0.0)
        cdf = ops.cumsum(probabilities, axis=-1)
        u = ops.sum(ops.where(positions == step, uniforms, 0.0), axis=-1, keepdims=True)
        picked = ops.sum(ops.cast(cdf <= u * cdf[:, -1:], "int32"), axis=-1)
        picked = ops.minimum(picked, ops.shape(cdf)[-1] - 1)
        if candidates is None:
            return picked
        return ops.cast(ops.take_along_axis(candidates, picked[:, None], axis=-1)[:, 0],
                        "int32")

    return _decode_one_per_row(model, source_ids, max_length, bos_id, eos_id, choose,
                               return_alignment, min_length, no_repeat_ngram_size)


def beam_search(model, source_ids, max_length, bos_id=BOS_ID, eos_id=EOS_ID, beam_size=4,
                length_penalty=0.6, num_return=1, return_alignment=False, min_length=0,
                no_repeat_ngram_size=0):
    """Beam search with the GNMT length penalty, n-best lists and alignments.

    Hypotheses are ranked by `log P(y) / ((5 + |y|) / 6) ** length_penalty`, with `|y|`
    counting the EOS. Finished hypotheses stay in the beam with their score and extend
    only with padding (as in TF-NMT's `BeamSearchDecoder`); the loop stops early once
    every beam of every batch entry has ended. Log-probabilities are float32. State
    tensors that `decode_step` returns unchanged (the same object, e.g. encoder outputs
    and cross-attention caches) are not reordered between beams: they are identical
    across the beams of a batch entry. `min_length` and `no_repeat_ngram_size` ban tokens
    per beam, from the beam's own history (after the previous step's reordering); banned
    tokens are not renormalised away, so scores stay the model's log-probabilities.

    Args:
        model: a seq2seq model with the decoding interface of `zoo.models`.
        source_ids: int tensor `(batch, source_length)`, 0-padded.
        max_length: a Python int, the number of tokens to generate at most.
        bos_id: the token fed at the first step.
        eos_id: the token that ends a sequence.
        beam_size: hypotheses kept per batch entry.
        length_penalty: the GNMT α; 0 ranks by log-probability, larger favours longer.
        num_return: how many best hypotheses to return (at most `beam_size`).
        return_alignment: also return each hypothesis' cross-attention weights.
        min_length: a Python int; EOS cannot be generated before this many tokens have
            been (0: off; at most `max_length`).
        no_repeat_ngram_size: a Python int n; no n-gram appears twice in one hypothesis
            (0: off).

    Returns:
        `(ids, scores)`: ids `(batch, max_length)` int32 and scores `(batch,)` float32
        (length-normalised log-probabilities) when `num_return == 1`, else
        `(batch, num_return, max_length)` and `(batch, num_return)`, best first. With
        `return_alignment`, a third output `(batch[, num_return], max_length, Ts)`.

    Example:

    >>> ids, scores = zoo.decoding.beam_search(model, source, 6)  # doctest: +SKIP
    >>> ids, scores = zoo.decoding.beam_search(model, source, 6, min_length=2,
    ...                                        no_repeat_ngram_size=3)  # doctest: +SKIP
    """
    if not 1 <= int(beam_size):
        raise UsageError(f"beam_size must be >= 1, got {beam_size}.")
    if not 1 <= int(num_return) <= int(beam_size):
        raise UsageError(f"num_return must be in [1, beam_size={beam_size}], got "
                         f"{num_return}.")
    if length_penalty < 0:
        raise UsageError(f"length_penalty must be >= 0, got {length_penalty}.")
    source_ids = _check_source(model, source_ids, max_length)
    check_controls(min_length, no_repeat_ngram_size, max_length)
    beam_size, alpha = int(beam_size), float(length_penalty)
    vocab_size = int(model.target_vocab_size)
    batch_size = ops.shape(source_ids)[0]

    state = model.encode(source_ids, training=False)
    state = keras.tree.map_structure(lambda t: ops.repeat(t, beam_size, axis=0), state)
    state = model.init_decode_state(state, max_length)
    positions = ops.arange(max_length, dtype="int32")
    # Only padding (log-probability 0) may follow a finished hypothesis.
    padding_only = ops.where(ops.arange(vocab_size) == 0, 0.0, _NEG_INF)
    batch_offsets = ops.arange(batch_size, dtype="int32")[:, None] * beam_size

    def penalty(lengths):
        return ((5.0 + ops.cast(lengths, "float32")) / 6.0) ** alpha

    def body(loop):
        step, finished, lengths = loop["step"], loop["finished"], loop["lengths"]
        logits, state, attention = model.decode_step(loop["tokens"], step, loop["state"])
        log_probs = ops.log_softmax(_mask_special(logits, bos_id), axis=-1)
        bans = _bans(ops.reshape(loop["ids"], (-1, max_length)), step, vocab_size, eos_id,
                     min_length, no_repeat_ngram_size)
        if bans is not None:
            log_probs = ops.where(bans, _BANNED, log_probs)
        log_probs = ops.reshape(log_probs, (batch_size, beam_size, vocab_size))
        log_probs = ops.where(finished[..., None], padding_only, log_probs)
        totals = loop["log_probs"][..., None] + log_probs
        new_lengths = lengths + ops.cast(ops.logical_not(finished), "int32")
        scores = totals / penalty(new_lengths)[..., None]
        _, best = ops.top_k(ops.reshape(scores, (batch_size, -1)), k=beam_size)
        best = ops.cast(best, "int32")
        parents, tokens = best // vocab_size, best % vocab_size
        rows = ops.reshape(parents + batch_offsets, (-1,))

        def reorder(t):
            return ops.take(t, rows, axis=0)

        totals = ops.take_along_axis(ops.reshape(totals, (batch_size, -1)), best, axis=-1)
        parent_finished = ops.take_along_axis(finished, parents, axis=-1)
        lengths = ops.take_along_axis(new_lengths, parents, axis=-1)
        tokens = ops.where(parent_finished, 0, tokens)
        here = positions == step
        flat_ids = reorder(ops.reshape(loop["ids"], (batch_size * beam_size, max_length)))
        flat_tokens = ops.reshape(tokens, (-1,))
        flat_ids = ops.where(here[None, :], flat_tokens[:, None], flat_ids)
        new = {
            "step": step + 1,
            "tokens": flat_tokens,
            "ids": ops.reshape(flat_ids, (batch_size, beam_size, max_length)),
            "log_probs": totals,
            "lengths": lengths,
            "finished": ops.logical_or(parent_finished, tokens == eos_id),
            "state": _reorder_changed(reorder, loop["state"], state),
        }
        if return_alignment:
            weights = reorder(ops.cast(attention, "float32"))
            weights = ops.where(ops.reshape(parent_finished, (-1, 1)), 0.0, weights)
            alignment = reorder(loop["alignment"])
            new["alignment"] = ops.where(here[None, :, None], weights[:, None, :], alignment)
        return new

    def cond(loop):
        return ops.logical_not(ops.all(loop["finished"]))

    first_beam = ops.arange(beam_size) == 0
    loop = {
        "step": ops.convert_to_tensor(0, "int32"),
        "tokens": ops.full((batch_size * beam_size,), bos_id, "int32"),
        "ids": ops.zeros((batch_size, beam_size, max_length), "int32"),
        "log_probs": ops.where(first_beam, 0.0, _NEG_INF)
        * ops.ones((batch_size, 1), "float32"),
        "lengths": ops.zeros((batch_size, beam_size), "int32"),
        "finished": ops.zeros((batch_size, beam_size), "bool"),
        "state": state,
    }
    if return_alignment:
        loop["alignment"] = ops.zeros(
            (batch_size * beam_size, max_length, ops.shape(source_ids)[1]), "float32")
    loop = ops.while_loop(cond, body, loop, maximum_iterations=max_length)

    # The last top_k left the beams sorted by their length-normalised score.
    scores = loop["log_probs"] / penalty(loop["lengths"])
    outputs = [loop["ids"][:, :num_return], scores[:, :num_return]]
    if return_alignment:
        alignment = ops.reshape(loop["alignment"], (batch_size, beam_size, max_length, -1))
        outputs.append(alignment[:, :num_return])
    if num_return == 1:
        outputs = [t[:, 0] for t in outputs]
    return tuple(outputs)


def _reorder_changed(reorder, old_state, new_state):
    """Reorders the state tensors that `decode_step` changed.

    A tensor returned unchanged (the same object) still holds what `encode` computed for
    the source, identical across the beams of a batch entry, so it needs no reordering
    (this skips e.g. gathering the cross-attention caches at every step).
    """
    old, new = keras.tree.flatten(old_state), keras.tree.flatten(new_state)
    changed = [n if n is o else reorder(n) for o, n in zip(old, new)]
    return keras.tree.pack_sequence_as(new_state, changed)


def _decode_one_per_row(model, source_ids, max_length, bos_id, eos_id, choose,
                        return_alignment, min_length, no_repeat_ngram_size):
    """The loop shared by greedy search and sampling: `choose(logits, step)` -> tokens."""
    source_ids = _check_source(model, source_ids, max_length)
    check_controls(min_length, no_repeat_ngram_size, max_length)
    vocab_size = int(model.target_vocab_size)
    batch_size = ops.shape(source_ids)[0]
    state = model.encode(source_ids, training=False)
    state = model.init_decode_state(state, max_length)
    positions = ops.arange(max_length, dtype="int32")

    def body(loop):
        step, finished = loop["step"], loop["finished"]
        logits, state, attention = model.decode_step(loop["tokens"], step, loop["state"])
        logits = _mask_special(logits, bos_id)
        bans = _bans(loop["ids"], step, vocab_size, eos_id, min_length, no_repeat_ngram_size)
        if bans is not None:
            logits = ops.where(bans, _BANNED, logits)
        tokens = ops.where(finished, 0, choose(logits, step))
        here = (positions == step)[None, :]
        new = {
            "step": step + 1,
            "tokens": tokens,
            "ids": ops.where(here, tokens[:, None], loop["ids"]),
            "finished": ops.logical_or(finished, tokens == eos_id),
            "state": state,
        }
        if return_alignment:
            weights = ops.where(finished[:, None], 0.0, ops.cast(attention, "float32"))
            new["alignment"] = ops.where(here[..., None], weights[:, None, :],
                                         loop["alignment"])
        return new

    def cond(loop):
        return ops.logical_not(ops.all(loop["finished"]))

    loop = {
        "step": ops.convert_to_tensor(0, "int32"),
        "tokens": ops.full((batch_size,), bos_id, "int32"),
        "ids": ops.zeros((batch_size, max_length), "int32"),
        "finished": ops.zeros((batch_size,), "bool"),
        "state": state,
    }
    if return_alignment:
        loop["alignment"] = ops.zeros((batch_size, max_length, ops.shape(source_ids)[1]),
                                      "float32")
    loop = ops.while_loop(cond, body, loop, maximum_iterations=max_length)
    if return_alignment:
        return loop["ids"], loop["alignment"]
    return loop["ids"]


def check_controls(min_length, no_repeat_ngram_size, max_length,
                   max_length_name="max_length"):
    """Raises `UsageError` unless the decoding controls are valid for `max_length`.

    Both must be Python ints (static: they shape the compiled loop), `>= 0`, and
    `min_length <= max_length` (`max_length_name` names the latter in the message).

    Example:

    >>> import zoo.decoding
    >>> zoo.decoding.check_controls(min_length=2, no_repeat_ngram_size=3, max_length=8)
    >>> zoo.decoding.check_controls(min_length=9, no_repeat_ngram_size=0, max_length=8)
    Traceback (most recent call last):
    ...
    zoo.errors.UsageError: min_length=9 exceeds max_length=8: ...
    """
    for name, value in (("min_length", min_length),
                        ("no_repeat_ngram_size", no_repeat_ngram_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise UsageError(f"{name} must be a Python int >= 0 (0 turns it off), got "
                             f"{value!r}.")
    if min_length > max_length:
        raise UsageError(f"min_length={min_length} exceeds {max_length_name}={max_length}: "
                         "EOS could never be generated; lower min_length.")


def _bans(ids, step, vocab_size, eos_id, min_length, ngram_size):
    """The tokens that `min_length` and `no_repeat_ngram_size` ban at `step`, or None.

    Args:
        ids: int32 `(rows, max_length)`, each row's output so far (positions < `step`).
        step: the int32 position being generated.
        vocab_size: the target vocabulary size (static).
        eos_id: the EOS token.
        min_length: EOS is banned while `step < min_length` (0: never).
        ngram_size: n; bans each token that would complete an n-gram already in the row
            (0: never).

    Returns:
        bool `(rows, vocab_size)`, True where banned; None when both controls are off.
    """
    bans = None
    if min_length:
        vocabulary = ops.arange(vocab_size, dtype="int32")
        bans = ops.logical_and(vocabulary == eos_id, step < min_length)[None, :]
    max_length = int(ids.shape[1])
    # A repeat needs n tokens before the n-gram being completed at the last step.
    starts = max_length - ngram_size
    if ngram_size and starts > 0:
        # An n-gram starting at j (< starts) is complete when step >= j + n; its first
        # n-1 tokens are ids[:, j + k], k < n-1, and its last ids[:, j + n - 1].
        positions = ops.arange(max_length, dtype="int32")
        matches = ops.arange(starts, dtype="int32")[None, :] <= step - ngram_size
        for k in range(ngram_size - 1):
            # The row's token at step - (n-1) + k: the k-th of its last n-1 tokens.
            last = ops.sum(ops.where(positions == step - ngram_size + 1 + k, ids, 0), axis=1)
            matches = ops.logical_and(matches, ids[:, k:k + starts] == last[:, None])
        followers = ids[:, ngram_size - 1:ngram_size - 1 + starts]
        matches = ops.logical_and(matches, followers >= 0)  # (rows, starts) when n = 1
        rows = ops.shape(ids)[0]
        row_ids = ops.arange(rows, dtype="int32")[:, None] * ops.ones_like(followers)
        indices = ops.stack([row_ids, followers], axis=-1)
        counts = ops.scatter(ops.reshape(indices, (-1, 2)),
                             ops.reshape(ops.cast(matches, "float32"), (-1,)),
                             (rows, vocab_size))
        ngram_bans = counts > 0
        bans = ngram_bans if bans is None else ops.logical_or(bans, ngram_bans)
    return bans


def _argmax(logits):
    """int32 arg-max over the last axis."""
    if keras.backend.backend() == "tensorflow":
        # Keras' TensorFlow `argmax` adds four passes over float inputs to order -0.0 below
        # 0.0, which a greedy choice does not need: greedy decoding 1.09x faster without them.
        import tensorflow as tf

        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    return ops.cast(ops.argmax(logits, axis=-1), "int32")


def _mask_special(logits, bos_id):
    """float32 logits with padding (0) and BOS made impossible."""
    logits = ops.cast(logits, "float32")
    ids = ops.arange(ops.shape(logits)[-1])
    return ops.where(ops.logical_or(ids == 0, ids == bos_id), _NEG_INF, logits)


def _check_source(model, source_ids, max_length):
    """Validates the decoding arguments; returns `source_ids` as an int32 tensor."""
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) \
            or max_length < 1:
        raise UsageError(f"max_length must be a positive Python int (static, so the loop "
                         f"compiles), got {max_length!r}.")
    model_max = getattr(model, "max_length", None)
    if model_max is not None and max_length > model_max:
        raise UsageError(f"max_length={max_length} exceeds the model's max_length="
                         f"{model_max}; decode fewer tokens or build the model with a "
                         "larger max_length.")
    source_ids = ops.convert_to_tensor(source_ids)
    if len(source_ids.shape) != 2:
        raise UsageError(f"source_ids must be (batch, source_length), got shape "
                         f"{tuple(source_ids.shape)}.")
    if "int" not in str(source_ids.dtype):
        raise UsageError(f"source_ids must hold integer token ids, got dtype "
                         f"{source_ids.dtype}.")
    source_ids = ops.cast(source_ids, "int32")
    batch_size, source_length = source_ids.shape
    if batch_size == 0 or source_length == 0:
        raise UsageError(f"source_ids is empty (shape {tuple(source_ids.shape)}); pass at "
                         "least one non-empty sequence.")
    if model_max is not None and source_length is not None and source_length > model_max:
        raise UsageError(f"source sequences have {source_length} tokens, more than the "
                         f"model's max_length={model_max}; truncate them first.")
    values = _values_if_eager(source_ids)
    vocab_size = getattr(model, "source_vocab_size", None)
    if values is not None and vocab_size is not None and values.size:
        if values.min() < 0 or values.max() >= vocab_size:
            raise UsageError(f"source_ids hold ids in [{values.min()}, {values.max()}], "
                             f"outside the model's source vocabulary [0, {vocab_size}); "
                             "tokenize with the model's vocabulary.")
    return source_ids


def _values_if_eager(tensor):
    """Returns the tensor's values as numpy when it has them, None while tracing."""
    try:
        return ops.convert_to_numpy(tensor)
    except Exception:  # symbolic (tf.function) or traced (jax.jit) tensors hold no values
        return None
