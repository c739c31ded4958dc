"""Overlapping context windows for extractive QA, and the "no answer" slot before them.

A context longer than the model reads at once is cut into windows of `window_length`
tokens that start `stride` tokens apart: at 0, `stride`, `2 * stride`, ... until a window
reaches the context's end (BERT's `doc_stride`), so every token lies in at least one
window and, with `stride < window_length`, near-boundary tokens get context on both sides
in some window. The model's context input is `[CLS] + window tokens`
(`with_null_position`): position 0 is the null answer of SQuAD 2.0 (an unanswerable
question, or an answer that lies outside this window), and window token `i` sits at model
position `i + 1`.

Training (`zoo.data.span_qa_batches`) and serving (`zoo.export.SpanQAServer`) both call
these functions, so they cut contexts identically. Both are plain TensorFlow ops, safe in
`tf.data` and in exported graphs.
"""

import tensorflow as tf

from zoo.errors import UsageError
from zoo.text.special_tokens import CLS_ID


def check_window(window_length, stride):
    """Raises `UsageError` unless `window_length >= 1` and `1 <= stride <= window_length`."""
    if int(window_length) < 1:
        raise UsageError(f"window_length must be >= 1 context token, got {window_length}.")
    if not 1 <= int(stride) <= int(window_length):
        raise UsageError(
            f"stride={stride} must be in [1, {window_length}] (the window length): windows "
            "start that many tokens apart, so a larger stride would skip tokens.")


def context_windows(context_ids, window_length, stride):
    """Cuts each context into overlapping windows of token ids.

    Windows of a context start at 0, `stride`, `2 * stride`, ... up to the first one that
    reaches the context's end; the last may be shorter than `window_length` and is padded
    with 0. Every context gets at least one window (an empty one, one of padding only).
    Windows come in order: all of example 0's, then example 1's, ...

    Args:
        context_ids: an integer `tf.RaggedTensor` `(batch, None)`, the token ids of each
            context (no padding).
        window_length: int, tokens per window.
        stride: int in `[1, window_length]`, tokens between the starts of consecutive
            windows.

    Returns:
        `(owner, offsets, window_ids)`: int32 `(N,)` the example each window belongs to,
        int32 `(N,)` the position in its context of the window's first token, and int32
        `(N, window_length)` the window's ids, 0-padded.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.data.qa_windows import context_windows
    >>> contexts = tf.ragged.constant([[11, 12, 13, 14, 15], [], [16, 17]])
    >>> owner, offsets, window_ids = context_windows(contexts, window_length=3, stride=2)
    >>> owner.numpy().tolist(), offsets.numpy().tolist()
    ([0, 0, 1, 2], [0, 2, 0, 0])
    >>> window_ids.numpy().tolist()
    [[11, 12, 13], [13, 14, 15], [0, 0, 0], [16, 17, 0]]
    """
    check_window(window_length, stride)
    window_length, stride = int(window_length), int(stride)
    context_ids = tf.cast(context_ids, tf.int32)
    lengths = tf.cast(context_ids.row_lengths(), tf.int32)
    # 1 + ceil((length - window_length) / stride) windows; one for a short context.
    num_windows = 1 + (tf.maximum(lengths - window_length, 0) + stride - 1) // stride
    owner = tf.repeat(tf.range(tf.shape(lengths)[0], dtype=tf.int32), num_windows)
    offsets = tf.ragged.range(num_windows).flat_values * stride
    positions = offsets[:, None] + tf.range(window_length, dtype=tf.int32)[None, :]
    valid = positions < tf.gather(lengths, owner)[:, None]
    flat_ids = context_ids.flat_values
    index = tf.gather(tf.cast(context_ids.row_starts(), tf.int32), owner)[:, None] + positions
    # Padding reads an appended 0, so the gather stays in range even when all are empty.
    padded_ids = tf.concat([flat_ids, tf.zeros([1], tf.int32)], axis=0)
    window_ids = tf.gather(padded_ids, tf.where(valid, index, tf.size(flat_ids)))
    return owner, offsets, window_ids


def with_null_position(window_ids):
    """Prepends `[CLS]` to windows: the model's context input, with the null slot at 0.

    Args:
        window_ids: int32 `(..., window_length)` window ids (from `context_windows`).

    Returns:
        int32 `(..., window_length + 1)`: `CLS_ID` then the window's ids.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.data.qa_windows import with_null_position
    >>> with_null_position(tf.constant([[11, 12, 0]])).numpy().tolist()
    [[4, 11, 12, 0]]
    """
    window_ids = tf.cast(window_ids, tf.int32)
    null_shape = tf.concat([tf.shape(window_ids)[:-1], [1]], axis=0)
    return tf.concat([tf.fill(null_shape, CLS_ID), window_ids], axis=-1)


def window_lengths(context_lengths, owner, offsets, window_length):
    """The number of context tokens (not padding) in each window, int32 `(N,)`.

    Args:
        context_lengths: int `(batch,)`, the token count of each context.
        owner, offsets: from `context_windows`.
        window_length: int, as given to `context_windows`.
    """
    remaining = tf.gather(tf.cast(context_lengths, tf.int32), owner) - offsets
    return tf.clip_by_value(remaining, 0, window_length)
