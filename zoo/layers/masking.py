"""Mask plumbing shared by the attention layers: merging, checking, masked softmax, dropout.

Every attention layer turns its masks (Keras padding masks of the inputs, an explicit
`attention_mask`, the causal mask) into one boolean tensor broadcastable to
`(batch, Tq, Tv)`, where True means "may attend". `masked_softmax` then normalises in
float32 and gives all-zero weights to a query row that may attend to nothing.

Example:

>>> from keras import ops
>>> from zoo.layers.masking import masked_softmax
>>> scores = ops.zeros((1, 2, 3))
>>> mask = ops.convert_to_tensor([[[True, True, False], [False, False, False]]])
>>> ops.convert_to_numpy(masked_softmax(scores, mask))[0].round(2).tolist()
[[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
"""

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


def _uint32(value):
    return ops.convert_to_tensor(value, "uint32")


def _hash32(x):
    """lowbias32 (C. Wellons): a 32-bit integer hash whose every output bit depends on all
    input bits; uint32 arithmetic wraps on every backend."""
    x = ops.bitwise_xor(x, ops.right_shift(x, 16))
    x = ops.multiply(x, _uint32(0x7FEB352D))
    x = ops.bitwise_xor(x, ops.right_shift(x, 15))
    x = ops.multiply(x, _uint32(0x846CA68B))
    return ops.bitwise_xor(x, ops.right_shift(x, 16))


# Keras' dropout (keras.random's Philox draws) dominated XLA-compiled training steps on
# CPU; masks from this counter-based 32-bit hash are far cheaper (bench/README.md, Dropout).
def random_keep_mask(shape, rate, seed_generator):
    """A boolean `shape` mask, each entry True with probability `1 - rate`, independently.

    Entry `i` (in row-major order) is kept when `hash(i ^ key) >= rate * 2**32`, where
    `key` is hashed from the next seed of `seed_generator`; a new seed gives a new mask,
    the same seed the same mask on every backend.

    Args:
        shape: the mask shape (ints, or scalar tensors for dynamic sizes).
        rate: the drop probability, in `[0, 1)`.
        seed_generator: a `keras.random.SeedGenerator`, advanced by one seed.

    Returns:
        `(keep, scale)`: the mask and `1 / P(keep)`, the exact inverse of the quantised
        keep probability (so `where(keep, x * scale, 0)` has expectation `x`).

    Example:

    >>> import keras
    >>> from zoo.layers.masking import random_keep_mask
    >>> keep, scale = random_keep_mask((1000,), 0.25, keras.random.SeedGenerator(0))
    >>> 0.7 < float(keras.ops.mean(keras.ops.cast(keep, "float32"))) < 0.8
    True
    """
    threshold = min(int(round(rate * 2.0**32)), 2**32 - 1)
    seed = ops.cast(seed_generator.next(), "uint32")
    key = _hash32(ops.bitwise_xor(_hash32(seed[0] + _uint32(0x9E3779B9)), seed[1]))
    count = 1
    for size in shape:
        count = count * size
    counter = ops.cast(ops.reshape(ops.arange(count, dtype="int32"), shape), "uint32")
    keep = ops.greater_equal(_hash32(ops.bitwise_xor(counter, key)), _uint32(threshold))
    return keep, 2.0**32 / (2.0**32 - threshold)


def dropout(x, rate, seed_generator, training, noise_shape=None):
    """Inverted dropout of `x`, active only when `training` is truthy.

    Args:
        x: a tensor (dropout runs in its dtype).
        rate: the fraction of entries to drop.
        seed_generator: a `keras.random.SeedGenerator` owned by the calling layer.
        training: Python bool or None (None = inference).
        noise_shape: shape of the mask, broadcast over `x` (e.g. a 1 on the head axis of
            attention weights shares one mask across heads); None entries take `x`'s
            size; None draws per element.

    Example:

    >>> import keras, numpy as np
    >>> from zoo.layers.masking import dropout
    >>> y = dropout(np.ones((1000,), "float32"), 0.5, keras.random.SeedGenerator(1), True)
    >>> sorted(set(keras.ops.convert_to_numpy(y).tolist()))
    [0.0, 2.0]
    """
    if not training or rate <= 0.0:
        return x
    shape = ops.shape(x)
    if noise_shape is not None:
        shape = tuple(shape[i] if size is None else size for i, size in enumerate(noise_shape))
    keep, scale = random_keep_mask(tuple(shape), rate, seed_generator)
    return ops.where(keep, x * ops.cast(scale, x.dtype), ops.zeros_like(x))
