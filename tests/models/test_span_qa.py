"""Tests of the span QA models and `best_span`."""

import itertools

import numpy as np
import pytest

import zoo  # noqa: F401
import keras
from keras import ops

from zoo.errors import UsageError
from zoo.models import BiDAFSpanQA, TransformerSpanQA, best_span

QUESTION = np.array([[5, 6, 0], [7, 8, 9]], "int32")
CONTEXT = np.array([[10, 11, 12, 13, 0, 0], [14, 15, 16, 17, 18, 19]], "int32")
REAL = CONTEXT != 0

BUILDERS = {
    "transformer": lambda: TransformerSpanQA(
        vocab_size=20, num_layers=1, d_model=8, num_heads=2, intermediate_dim=16,
        dropout=0.0, max_length=10,
    ),
    "bidaf": lambda: BiDAFSpanQA(vocab_size=20, embedding_dim=8, units=4, dropout=0.0),
}


def numpy(x):
    return ops.convert_to_numpy(x)


def spans(model, question=QUESTION, context=CONTEXT):
    return [numpy(x) for x in model((question, context))]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_logits_mask_padding_and_ignore_it(name):
    model = BUILDERS[name]()
    start, end = spans(model)
    for logits in (start, end):
        assert logits.shape == (2, 6) and logits.dtype == np.float32
        assert np.all(logits[~REAL] <= -1e8) and np.all(np.abs(logits[REAL]) < 1e3)
    padded = spans(model, np.pad(QUESTION, [(0, 0), (0, 2)]), np.pad(CONTEXT, [(0, 0), (0, 3)]))
    np.testing.assert_allclose(padded[0][:, :6][REAL], start[REAL], atol=1e-5)
    np.testing.assert_allclose(padded[1][:, :6][REAL], end[REAL], atol=1e-5)


def test_attention_scores():
    start, _, scores = BUILDERS["bidaf"]()((QUESTION, CONTEXT), return_attention_scores=True)
    c2q = numpy(scores["context_to_question"])
    assert c2q.shape == (2, 6, 3) and np.all(c2q[0, :, 2] == 0.0)
    np.testing.assert_allclose(c2q[REAL].sum(-1), 1.0, atol=1e-5)
    assert tuple(scores["question_to_context"].shape) == (2, 6)
    _, _, scores = BUILDERS["transformer"]()((QUESTION, CONTEXT), return_attention_scores=True)
    assert tuple(scores["encoder"][0].shape) == (2, 2, 9, 9)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_keras_round_trip(name, tmp_path):
    model = BUILDERS[name]()
    expected = spans(model)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    for got, want in zip(spans(restored), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_best_span_is_the_best_allowed_pair():
    rng = np.random.default_rng(0)
    start_logits, end_logits = rng.normal(size=(2, 4, 7)).astype("float32")
    start, end = (numpy(x) for x in best_span(start_logits, end_logits, 3))
    for row in range(4):
        allowed = [(i, j) for i, j in itertools.product(range(7), repeat=2) if 0 <= j - i < 3]
        want = max(allowed, key=lambda p: start_logits[row, p[0]] + end_logits[row, p[1]])
        assert (start[row], end[row]) == want


def test_best_span_starts_at_or_after_first_position():
    rng = np.random.default_rng(1)
    start_logits, end_logits = rng.normal(size=(2, 4, 7)).astype("float32")
    start_logits[:, 0] = end_logits[:, 0] = 10.0  # a null slot that would win
    start, end = (numpy(x) for x in best_span(start_logits, end_logits, 3, first_position=1))
    for row in range(4):
        allowed = [(i, j) for i, j in itertools.product(range(1, 7), repeat=2)
                   if 0 <= j - i < 3]
        want = max(allowed, key=lambda p: start_logits[row, p[0]] + end_logits[row, p[1]])
        assert (start[row], end[row]) == want
    start, end = best_span(start_logits, end_logits, 3)  # the default allows position 0
    assert numpy(start).tolist() == numpy(end).tolist() == [0] * 4


def test_best_span_avoids_masked_positions():
    model = BUILDERS["bidaf"]()
    start, end = best_span(*model((QUESTION, CONTEXT)), max_answer_length=10)
    assert 0 <= int(start[0]) <= int(end[0]) < 4


def test_bad_input_is_explained():
    model = BUILDERS["transformer"]()
    with pytest.raises(UsageError, match="context_ids.*max_length=10"):
        model((QUESTION, np.ones((2, 11), "int32")))
    with pytest.raises(UsageError, match="question_ids.*outside the vocabulary"):
        model((np.array([[25]]), CONTEXT[:1]))
