"""Tests of `zoo.models.Transformer`: masks, caching, attention scores, saving, bad input."""

import numpy as np
import pytest

import zoo  # noqa: F401
import keras
from keras import ops

from zoo.errors import UsageError
from zoo.models import Transformer

SOURCE = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]], "int32")
TARGET = np.array([[2, 7, 8, 9, 0], [2, 9, 10, 11, 12]], "int32")
REAL = TARGET != 0


def tiny(**kwargs):
    args = dict(
        source_vocab_size=40, target_vocab_size=30, num_layers=2, d_model=16,
        num_heads=2, intermediate_dim=32, dropout=0.0, max_length=12,
    )
    return Transformer(**{**args, **kwargs})


def logits(model, source=SOURCE, target=TARGET):
    return ops.convert_to_numpy(model((source, target)))


def test_logits_are_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = tiny()
    out = model((SOURCE, TARGET))
    assert tuple(out.shape) == (2, 5, 30)
    assert out.dtype == "float32"
    assert np.all(np.isfinite(ops.convert_to_numpy(out)))


@pytest.mark.parametrize("norm_first", [False, True])
def test_source_padding_does_not_change_outputs(norm_first):
    model = tiny(norm_first=norm_first)
    padded = np.pad(SOURCE, [(0, 0), (0, 3)])
    np.testing.assert_allclose(logits(model), logits(model, source=padded), atol=1e-5)


def test_target_padding_does_not_change_real_positions():
    model = tiny()
    padded = np.pad(TARGET, [(0, 0), (0, 3)])
    np.testing.assert_allclose(
        logits(model)[REAL], logits(model, target=padded)[:, :5][REAL], atol=1e-5
    )


@pytest.mark.parametrize("position", [1, 3])
def test_decoder_is_causal(position):
    model = tiny()
    changed = TARGET.copy()
    changed[:, position:] = 17
    before, after = logits(model), logits(model, target=changed)
    np.testing.assert_allclose(before[:, :position], after[:, :position], atol=1e-5)
    assert np.abs(before[:, position] - after[:, position]).max() > 1e-4


@pytest.mark.parametrize(
    "options",
    [dict(), dict(norm_first=True, tie_output=False, position="learned"),
     dict(source_vocab_size=30, share_embeddings=True)],
)
def test_cached_decode_steps_match_full_forward(options):
    model = tiny(**options)
    full = logits(model)
    state = model.init_decode_state(model.encode(SOURCE), max_length=5)
    assert set(state) == {"source_mask", "cross_attention_cache", "self_attention_cache"}
    # One (keys, values) pair per decoder layer (2), each (batch, heads, length, key_dim).
    assert _shapes(state["self_attention_cache"]) == (((2, 2, 5, 8),) * 2,) * 2
    assert _shapes(state["cross_attention_cache"]) == (((2, 2, 6, 8),) * 2,) * 2
    for step in range(5):
        step_logits, new_state, alignment = model.decode_step(
            TARGET[:, step], ops.convert_to_tensor(step, "int32"), state
        )
        assert _shapes(new_state) == _shapes(state)
        state = new_state
        rows = REAL[:, step]
        np.testing.assert_allclose(
            ops.convert_to_numpy(step_logits)[rows], full[:, step][rows], atol=1e-4
        )
        alignment = ops.convert_to_numpy(alignment)
        assert alignment.shape == (2, 6)
        np.testing.assert_allclose(alignment.sum(-1), 1.0, atol=1e-5)
        assert np.all(alignment[0, 4:] == 0.0)  # source padding gets no weight


def _shapes(structure):
    return keras.tree.map_structure(lambda tensor: tuple(tensor.shape), structure)


def test_decode_step_graph_has_no_xla_ops():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow graph check")
    model = tiny()
    state = model.init_decode_state(model.encode(SOURCE), max_length=5)

    @tf.function
    def step(token_ids, index, state):
        return model.decode_step(token_ids, index, state)

    graph = step.get_concrete_function(
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32),
        tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), state),
    ).graph
    op_types = {op.type for op in graph.get_operations()}
    assert not {t for t in op_types if t.startswith("Xla")}


def test_attention_scores_per_layer_and_head():
    model = tiny(num_encoder_layers=1, num_decoder_layers=3)
    out, scores = model((SOURCE, TARGET), return_attention_scores=True)
    np.testing.assert_allclose(ops.convert_to_numpy(out), logits(model), atol=1e-6)
    assert [tuple(s.shape) for s in scores["encoder"]] == [(2, 2, 6, 6)]
    assert [tuple(s.shape) for s in scores["decoder_self"]] == [(2, 2, 5, 5)] * 3
    assert [tuple(s.shape) for s in scores["decoder_cross"]] == [(2, 2, 5, 6)] * 3
    cross = ops.convert_to_numpy(scores["decoder_cross"][-1])
    assert np.all(cross[0, :, :, 4:] == 0.0)
    self_scores = ops.convert_to_numpy(scores["decoder_self"][0])
    assert np.all(np.triu(self_scores[1, 0], k=1) == 0.0)


def test_keras_round_trip(tmp_path):
    model = tiny(norm_first=True, share_embeddings=True, source_vocab_size=30)
    expected = logits(model)
    path = tmp_path / "transformer.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, Transformer)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(logits(restored), expected, atol=1e-6)
    assert len(restored.weights) == len(model.weights)


def test_shared_embeddings_and_tied_output_share_one_table():
    shared = tiny(source_vocab_size=30, share_embeddings=True)
    separate = tiny(source_vocab_size=30, tie_output=False)
    shared((SOURCE, TARGET)), separate((SOURCE, TARGET))
    table = 30 * 16
    assert shared.count_params() + table + (30 * 16 + 30) == separate.count_params()


def test_fits_a_small_batch():
    model = tiny(num_layers=1)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        jit_compile=False,
    )
    target_out = np.concatenate([TARGET[:, 1:], np.full((2, 1), 3, "int32")], axis=1)
    target_out[0, 3] = 3
    losses = [model.train_on_batch((SOURCE, TARGET), target_out) for _ in range(25)]
    assert losses[-1] < 0.2 * losses[0]


def test_bad_input_is_explained():
    with pytest.raises(UsageError, match="joint vocabulary"):
        tiny(share_embeddings=True)
    with pytest.raises(UsageError, match="divisible"):
        tiny(num_heads=3)
    model = tiny()
    with pytest.raises(UsageError, match="max_length=12"):
        model((np.ones((1, 13), "int32"), TARGET[:1]))
    with pytest.raises(UsageError, match="empty batch"):
        model((np.zeros((0, 4), "int32"), np.zeros((0, 4), "int32")))
    with pytest.raises(UsageError, match="outside the vocabulary"):
        model((np.array([[5, 40]]), TARGET[:1]))
    with pytest.raises(UsageError, match="max_length is 12"):
        model.init_decode_state(model.encode(SOURCE), max_length=20)
