"""Mask plumbing shared by the attention layers: merging, checking, masked softmax, dropout.

Every attention layer turns its masks (Keras padding masks of the inputs, an explicit
`attention_mask`, the causal mask) into one boolean tensor broadcastable to
`(batch, Tq, Tv)`, where True means "may attend". `masked_softmax` then normalises in
float32 and gives all-zero weights to a query row that may attend to nothing.

Example:

>>> from keras import ops
>>> scores = ops.zeros((1, 2, 3))
>>> mask = ops.convert_to_tensor([[[True, True, False], [False, False, False]]])
>>> ops.convert_to_numpy(masked_softmax(scores, mask))[0].round(2).tolist()
[[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
"""

import keras
from keras import ops

# Keras' public API has no accessor for the `_keras_mask` attribute; keras-hub uses this too.
from keras.src.backend import get_keras_mask

_LARGE_NEGATIVE = -1e9


def keras_mask(x):
    """The Keras padding mask carried by `x` (e.g. from `Embedding(mask_zero=True)`), or None."""
    if x is None:
        return None
    return get_keras_mask(x)


def merge_masks(*masks):
    """Logical AND of the given boolean masks (None entries are skipped), or None."""
    merged = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        merged = mask if merged is None else ops.logical_and(merged, mask)
    return merged


def causal_mask(query_length, key_length, offset=0):
    """`(1, Tq, Tk)` boolean mask: query `i` may attend key `j` when `j <= i + offset`.

    Args:
        query_length: number of query positions `Tq` (int or scalar tensor).
        key_length: number of key positions `Tk` (int or scalar tensor).
        offset: position of the first query among the keys (int or scalar tensor);
            0 for ordinary self-attention, the cache index for incremental decoding.
    """
    query_positions = ops.arange(query_length, dtype="int32") + ops.cast(offset, "int32")
    key_positions = ops.arange(key_length, dtype="int32")
    return ops.expand_dims(key_positions[None, :] <= query_positions[:, None], 0)


def _static_dims(shape):
    return tuple(d if isinstance(d, int) else None for d in shape)


def check_attention_mask(attention_mask, batch_size, query_length, key_length, layer_name):
    """Raises a `ValueError` when `attention_mask` cannot broadcast to `(batch, Tq, Tv)`.

    Only statically known dimensions are checked (every backend knows them at trace time).
    """
    if attention_mask is None:
        return
    shape = _static_dims(ops.shape(attention_mask))
    expected = (batch_size, query_length, key_length)
    problem = len(shape) > 3
    if not problem:
        for got, want in zip(reversed(shape), reversed(expected)):
            if got is not None and want is not None and got not in (1, want):
                problem = True
    if problem:
        pretty = tuple("?" if d is None else d for d in expected)
        raise ValueError(
            f"{layer_name}: `attention_mask` must be broadcastable to (batch, Tq, Tv) = "
            f"{pretty} (True = may attend); received shape {tuple(shape)}. Pass a boolean or "
            "0/1 mask of shape (batch, Tq, Tv), (batch, 1, Tv) or (Tq, Tv)."
        )


def combine_attention_masks(
    query_mask=None,
    value_mask=None,
    attention_mask=None,
    use_causal_mask=False,
    query_length=None,
    key_length=None,
):
    """One boolean mask broadcastable to `(batch, Tq, Tv)` from all mask sources, or None.

    Args:
        query_mask: `(batch, Tq)` padding mask of the query, or None.
        value_mask: `(batch, Tv)` padding mask of the keys/values, or None.
        attention_mask: explicit mask broadcastable to `(batch, Tq, Tv)`, or None.
        use_causal_mask: add the causal mask (needs `query_length`, `key_length`).
        query_length: `Tq`.
        key_length: `Tv`.
    """
    masks = []
    if query_mask is not None:
        masks.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
    if value_mask is not None:
        masks.append(ops.expand_dims(ops.cast(value_mask, "bool"), -2))
    if attention_mask is not None:
        masks.append(attention_mask)
    if use_causal_mask:
        masks.append(causal_mask(query_length, key_length))
    return merge_masks(*masks)


def masked_softmax(scores, mask=None, axis=-1):
    """Float32 softmax over `axis` that gives zeros to a row with no allowed entry.

    Args:
        scores: attention logits, any float dtype.
        mask: boolean tensor broadcastable to `scores` (True = allowed), or None.
        axis: the key axis.

    Returns:
        float32 weights shaped like `scores`.
    """
    scores = ops.cast(scores, "float32")
    if mask is None:
        return ops.softmax(scores, axis=axis)
    mask = ops.cast(mask, "bool")
    weights = ops.softmax(ops.where(mask, scores, _LARGE_NEGATIVE), axis=axis)
    # A fully masked row softmaxes to uniform weights: zero it instead.
    row_has_keys = ops.any(mask, axis=axis, keepdims=True)
    return weights * ops.cast(row_has_keys, "float32")


def row_has_keys(mask, axis=-1):
    """`(..., Tq)` booleans: whether each query row may attend to at least one key."""
    return ops.any(ops.cast(mask, "bool"), axis=axis)


def attention_dropout(weights, rate, seed_generator, training, noise_shape=None):
    """Inverted dropout on attention weights, active only when `training` is truthy.

    Philox draws dominate dropout on CPU (per-element `keras.random.dropout` made an XLA
    attention training step 8x slower here), so each 31-bit random integer is split into
    two 15-bit uniforms: half the draws. The keep probability is quantised to a multiple of
    1/32768 and the kept weights are scaled by its exact inverse, so the expected value is
    preserved exactly.

    Args:
        weights: the attention weights (dropout runs in their dtype).
        rate: the fraction of weights to drop.
        seed_generator: a `keras.random.SeedGenerator` owned by the layer.
        training: Python bool or None (None = inference).
        noise_shape: shape of the Bernoulli draw, broadcast over `weights` (e.g. a 1 on the
            head axis shares one draw across heads); None draws per element.
    """
    if not training or rate <= 0.0:
        return weights
    shape = tuple(ops.shape(weights)) if noise_shape is None else tuple(noise_shape)
    last = shape[-1]
    bits = keras.random.randint(
        shape[:-1] + ((last + 1) // 2,), 0, 2**31 - 1, seed=seed_generator, dtype="int32"
    )
    uniforms = ops.concatenate([ops.bitwise_and(bits, 0x7FFF), ops.right_shift(bits, 16)], -1)
    uniforms = uniforms[..., :last]
    threshold = min(int(round(rate * 32768)), 32767)
    scale = 32768.0 / (32768 - threshold)
    keep = uniforms >= threshold
    return ops.where(keep, weights * ops.cast(scale, weights.dtype), ops.zeros_like(weights))
