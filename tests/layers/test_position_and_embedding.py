"""Position encodings and TokenAndPositionEmbedding."""

import math

import numpy as np
import pytest

from layers import reference
from layers.harness import run_layer_test, to_numpy
from zoo.layers import (
    LearnedPositionEmbedding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
)
from zoo.layers.masking import keras_mask

B, T, D, VOCAB, MAX = 2, 5, 8, 20, 12
IDS = np.array([[4, 7, 9, 3, 0], [5, 19, 0, 0, 0]], "int32")


def _features(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, D)).astype("float32")


@pytest.mark.parametrize("start_index", [0, 4])
def test_sinusoidal_matches_the_formula(start_index):
    run_layer_test(
        SinusoidalPositionEncoding,
        init_kwargs={"max_length": MAX},
        input_data={"inputs": _features()},
        call_kwargs={"start_index": start_index},
        expected_output_shape=(B, T, D),
        reference=lambda layer, data: np.broadcast_to(
            reference.sinusoids(T, D, start=start_index), (B, T, D)),
        mixed_precision_atol=1e-2,
    )


def test_learned_positions_read_the_table_from_start_index():
    run_layer_test(
        LearnedPositionEmbedding,
        init_kwargs={"max_length": MAX},
        input_data={"inputs": _features()},
        call_kwargs={"start_index": 3},
        expected_output_shape=(B, T, D),
        reference=lambda layer, data: np.broadcast_to(
            to_numpy(layer.position_embeddings)[3:3 + T], (B, T, D)),
        mixed_precision_atol=1e-2,
    )


def _embedding_reference(layer, data):
    table = to_numpy(layer.token_embeddings).astype("float64")
    tokens = table[data["token_ids"]]
    if layer.scale_embeddings:
        tokens = tokens * math.sqrt(layer.embedding_dim)
    if layer.position == "sinusoidal":
        positions = reference.sinusoids(T, D)
    else:
        positions = to_numpy(layer.position_encoding.position_embeddings)[:T]
    return tokens + positions


@pytest.mark.parametrize("position", ["sinusoidal", "learned"])
def test_token_and_position_embedding_harness(position):
    layer = run_layer_test(
        TokenAndPositionEmbedding,
        init_kwargs={"vocab_size": VOCAB, "max_length": MAX, "embedding_dim": D,
                     "position": position, "dropout": 0.1},
        input_data={"token_ids": IDS},
        expected_output_shape=(B, T, D),
        reference=_embedding_reference,
        run_training_test=position == "learned",
        mixed_precision_atol=0.2,
    )
    hidden = layer(IDS)
    np.testing.assert_array_equal(to_numpy(keras_mask(hidden)), IDS != 0)
    logits = layer.logits(hidden)
    assert "float32" in str(logits.dtype)
    np.testing.assert_allclose(
        to_numpy(logits), to_numpy(hidden) @ to_numpy(layer.token_embeddings).T, atol=1e-4)


def test_start_index_gives_the_decoding_step_positions():
    layer = TokenAndPositionEmbedding(VOCAB, MAX, D, position="learned", scale_embeddings=False,
                                      mask_zero=False)
    full = to_numpy(layer(IDS))
    assert keras_mask(layer(IDS)) is None
    for step in range(T):
        np.testing.assert_allclose(
            to_numpy(layer(IDS[:, step:step + 1], start_index=step))[:, 0], full[:, step],
            atol=1e-6)


def test_too_long_or_bad_names_raise_clear_errors():
    with pytest.raises(ValueError, match="exceed max_length=4"):
        SinusoidalPositionEncoding(max_length=4)(_features())
    with pytest.raises(ValueError, match="exceed max_length=6"):
        LearnedPositionEmbedding(max_length=6)(_features(), start_index=2)
    with pytest.raises(ValueError, match="exceed max_length=3"):
        TokenAndPositionEmbedding(VOCAB, 3, D)(IDS)
    with pytest.raises(ValueError, match="unknown `position` 'rotary'"):
        TokenAndPositionEmbedding(VOCAB, MAX, D, position="rotary")
    with pytest.raises(ValueError, match="must be rank 3"):
        SinusoidalPositionEncoding(max_length=MAX)(_features()[0])
