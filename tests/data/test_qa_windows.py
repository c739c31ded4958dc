"""Context windows for extractive QA: coverage, strides, empty contexts, graph use."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from zoo.data.qa_windows import context_windows, window_lengths, with_null_position
from zoo.errors import UsageError
from zoo.text import CLS_ID


def windows_of(contexts, window_length, stride):
    ragged = tf.ragged.constant(contexts, tf.int32, ragged_rank=1, inner_shape=())
    owner, offsets, window_ids = context_windows(ragged, window_length, stride)
    lengths = window_lengths(ragged.row_lengths(), owner, offsets, window_length)
    return (owner.numpy().tolist(), offsets.numpy().tolist(), window_ids.numpy(),
            lengths.numpy().tolist())


@pytest.mark.parametrize("window_length, stride",
                         [(1, 1), (3, 1), (3, 2), (3, 3), (4, 2), (5, 3), (8, 8)])
def test_windows_cover_every_token_and_stop_at_the_end(window_length, stride):
    rng = np.random.default_rng(window_length * 10 + stride)
    contexts = [list(rng.integers(6, 100, size=n)) for n in (0, 1, 2, 3, 5, 7, 8, 9, 17)]
    owner, offsets, window_ids, lengths = windows_of(contexts, window_length, stride)
    assert window_ids.shape == (len(owner), window_length) and window_ids.dtype == np.int32
    assert owner == sorted(owner) and sorted(set(owner)) == list(range(len(contexts)))
    for example, context in enumerate(contexts):
        rows = [row for row, o in enumerate(owner) if o == example]
        starts = [offsets[row] for row in rows]
        assert starts == [stride * k for k in range(len(rows))]
        # Only the last window reaches the context's end (an empty context has one).
        reaches = [start + window_length >= len(context) for start in starts]
        assert reaches == [False] * (len(rows) - 1) + [True]
        covered = set()
        for row, start in zip(rows, starts):
            tokens = context[start:start + window_length]
            padding = window_length - len(tokens)
            assert window_ids[row].tolist() == tokens + [0] * padding
            assert lengths[row] == len(tokens)
            covered.update(range(start, start + len(tokens)))
        assert covered == set(range(len(context)))


def test_consecutive_windows_overlap_by_window_length_less_stride():
    _, offsets, window_ids, _ = windows_of([list(range(10, 30))], 6, 4)
    assert offsets == [0, 4, 8, 12, 16]
    for row in range(len(offsets) - 1):
        assert window_ids[row, 4:].tolist() == window_ids[row + 1, :2].tolist()


def test_empty_contexts_get_one_all_padding_window():
    owner, offsets, window_ids, lengths = windows_of([[], [7, 8, 9], []], 2, 1)
    assert owner == [0, 1, 1, 2] and offsets == [0, 0, 1, 0] and lengths == [0, 2, 2, 0]
    assert window_ids.tolist() == [[0, 0], [7, 8], [8, 9], [0, 0]]
    owner, offsets, window_ids, _ = windows_of([[], []], 3, 2)  # no token in the batch
    assert owner == [0, 1] and offsets == [0, 0] and window_ids.tolist() == [[0] * 3] * 2
    owner, _, window_ids, _ = windows_of([], 3, 2)
    assert owner == [] and window_ids.shape == (0, 3)


@pytest.mark.parametrize("window_length, stride", [(4, 0), (4, 5), (4, -1), (0, 1)])
def test_bad_strides_are_explained(window_length, stride):
    with pytest.raises(UsageError, match="stride|window_length"):
        context_windows(tf.ragged.constant([[6, 7]]), window_length, stride)


def test_windows_run_in_graphs_and_tf_data():
    function = tf.function(lambda ids: context_windows(ids, 4, 3),
                           input_signature=[tf.RaggedTensorSpec([None, None], tf.int32)])
    contexts = tf.ragged.constant([[6, 7, 8, 9, 10, 11, 12], [13]])
    eager = context_windows(contexts, 4, 3)
    for got, want in zip(function(contexts), eager):
        assert got.numpy().tolist() == want.numpy().tolist()
    assert function.get_concrete_function().structured_outputs[2].shape.as_list() == [None, 4]
    dataset = tf.data.Dataset.from_tensor_slices(contexts).ragged_batch(2).map(
        lambda ids: with_null_position(context_windows(ids, 4, 3)[2]))
    [windows] = list(dataset)
    assert windows.numpy().tolist() == [[CLS_ID, 6, 7, 8, 9], [CLS_ID, 9, 10, 11, 12],
                                        [CLS_ID, 13, 0, 0, 0]]


def test_with_null_position_prepends_cls_to_any_rank():
    assert with_null_position(tf.constant([6, 7])).numpy().tolist() == [CLS_ID, 6, 7]
    windows = with_null_position(tf.zeros([2, 3], tf.int64))
    assert windows.dtype == tf.int32 and windows.numpy().tolist() == [[CLS_ID, 0, 0, 0]] * 2
    for rows, columns in itertools.product((0, 1), (0, 2)):
        assert with_null_position(tf.zeros([rows, columns], tf.int32)).shape == (
            rows, columns + 1)
