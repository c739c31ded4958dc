"""`LSTMAttentionSeq2Seq`: shapes, masks, cached step = teacher forcing, saving, presets."""

import keras
import numpy as np
import pytest
from keras import ops

import zoo.models
from zoo.errors import UsageError
from zoo.models import LSTMAttentionSeq2Seq
from zoo.models.lstm_attention import ATTENTIONS

SOURCE = np.array([[5, 9, 12, 7, 0, 0], [4, 4, 0, 0, 0, 0], [8, 6, 5, 11, 13, 9]], "int32")
TARGET_IN = np.array([[2, 7, 8, 9, 0], [2, 5, 0, 0, 0], [2, 3, 4, 5, 6]], "int32")
LSTM_NAMES = ["lstm_bahdanau", "lstm_luong", "lstm_luong_dot", "lstm_luong_concat"]


def tiny(attention="bahdanau", input_feeding=True, **kwargs):
    config = dict(source_vocab_size=20, target_vocab_size=24, embedding_dim=8, units=12,
                  num_layers=2, attention=attention, input_feeding=input_feeding,
                  max_length=10)
    return LSTMAttentionSeq2Seq(**{**config, **kwargs})


VARIANTS = [(a, True) for a in ATTENTIONS] + [("bahdanau", False), ("luong_general", False)]


@pytest.mark.parametrize("attention, input_feeding", VARIANTS)
def test_cached_steps_equal_teacher_forcing(attention, input_feeding):
    model = tiny(attention, input_feeding, bidirectional_encoder=attention != "luong_dot")
    logits, alignment = model((SOURCE, TARGET_IN), return_attention_scores=True)
    assert logits.dtype == "float32" and tuple(logits.shape) == (3, 5, 24)
    state = model.init_decode_state(model.encode(SOURCE), max_length=5)
    for t in range(TARGET_IN.shape[1]):
        step_logits, state, step_alignment = model.decode_step(TARGET_IN[:, t], t, state)
        np.testing.assert_allclose(ops.convert_to_numpy(step_logits),
                                   ops.convert_to_numpy(logits[:, t]), atol=1e-5)
        np.testing.assert_allclose(ops.convert_to_numpy(step_alignment),
                                   ops.convert_to_numpy(alignment[:, t]), atol=1e-5)


def test_alignment_is_a_distribution_over_real_source_tokens():
    _, alignment = tiny()((SOURCE, TARGET_IN), return_attention_scores=True)
    alignment = ops.convert_to_numpy(alignment)
    np.testing.assert_allclose(alignment.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(alignment[0, :, 4:], 0.0)
    np.testing.assert_array_equal(alignment[1, :, 2:], 0.0)


@pytest.mark.parametrize("input_feeding", [True, False])
def test_padding_invariance_and_causal_no_leak(input_feeding):
    model = tiny("luong_concat", input_feeding)
    logits = ops.convert_to_numpy(model((SOURCE, TARGET_IN)))
    more_padding = (np.pad(SOURCE, ((0, 0), (0, 3))), np.pad(TARGET_IN, ((0, 0), (0, 2))))
    padded = ops.convert_to_numpy(model(more_padding))
    np.testing.assert_allclose(padded[:, :5], logits, atol=1e-5)
    alone = ops.convert_to_numpy(model((SOURCE[1:2, :2], TARGET_IN[1:2, :2])))
    np.testing.assert_allclose(alone[0], logits[1, :2], atol=1e-5)
    changed = TARGET_IN.copy()
    changed[:, 3] = 17
    later = ops.convert_to_numpy(model((SOURCE, changed)))
    np.testing.assert_allclose(later[:, :3], logits[:, :3], atol=1e-6)
    assert np.abs(later[:, 3] - logits[:, 3]).max() > 1e-4


@pytest.mark.parametrize("input_feeding", [True, False])
def test_round_trips_through_keras_file(tmp_path, input_feeding):
    model = tiny("luong_concat", input_feeding, dropout=0.1)
    expected = ops.convert_to_numpy(model((SOURCE, TARGET_IN)))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, LSTMAttentionSeq2Seq)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(ops.convert_to_numpy(restored((SOURCE, TARGET_IN))),
                                  expected)


@pytest.mark.parametrize("name", LSTM_NAMES)
def test_every_preset_builds_and_trains_one_step(name):
    model = zoo.models.build(name, source_vocab_size=20, target_vocab_size=24,
                             embedding_dim=8, units=12, num_layers=2)
    assert zoo.models.get(name).family == "seq2seq"
    # Eagerly: compiling the training graph would cost far more than the step itself.
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)
    target_out = np.concatenate([TARGET_IN[:, 1:], np.full((3, 1), 3, "int32")], axis=1)
    loss_before = model.evaluate((SOURCE, TARGET_IN), target_out, verbose=0)
    history = model.fit((SOURCE, TARGET_IN), target_out, batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.evaluate((SOURCE, TARGET_IN), target_out, verbose=0) < loss_before


def test_mixed_precision_gives_float32_logits():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = tiny()
    logits, alignment = model((SOURCE, TARGET_IN), return_attention_scores=True)
    assert logits.dtype == "float32" and alignment.dtype == "float32"
    step_logits, _, _ = model.decode_step(TARGET_IN[:, 0], 0,
                                          model.init_decode_state(model.encode(SOURCE), 4))
    assert step_logits.dtype == "float32"


@pytest.mark.parametrize("inputs, message", [
    ((np.array([[5, 40]]), np.array([[2, 3]])), "outside the vocabulary"),
    ((np.array([[5, 6]]), np.array([[2, 30]])), "outside the vocabulary"),
    ((np.ones((1, 11), "int32"), np.array([[2, 3]])), "max_length"),
    ((np.ones((0, 3), "int32"), np.ones((0, 2), "int32")), "empty"),
])
def test_bad_input_raises_a_usage_error(inputs, message):
    with pytest.raises(UsageError, match=message):
        tiny()(inputs)


def test_bad_hyper_parameters_raise_usage_errors():
    with pytest.raises(UsageError, match="bahdanau, luong_dot, luong_general, luong_concat"):
        tiny(attention="luong")
    with pytest.raises(UsageError, match="even"):
        tiny(units=13)
    with pytest.raises(UsageError, match="lstm_bahdanau"):
        zoo.models.build("lstm_bahdanu", source_vocab_size=5, target_vocab_size=5)


def test_seeded_dropout_sources_draw_different_masks():
    """The inter-layer masks and the Dropout layer must not share a seed stream."""
    model = tiny(dropout=0.3, seed=7)
    layer_seed = ops.convert_to_numpy(model.dropout_layer.seed_generator.next())
    inter_layer_seed = ops.convert_to_numpy(model._seed_generator.next())
    assert not np.array_equal(layer_seed, inter_layer_seed)
