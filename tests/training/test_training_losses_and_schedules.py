"""The training loss, metrics, learning-rate schedule and optimizer recipe."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import UsageError
from zoo.training import (
    MaskedAccuracy,
    TokenCount,
    TransformerSchedule,
    build_optimizer,
    masked_accuracy,
    masked_sparse_crossentropy,
)


def test_schedule_peaks_at_warmup_steps():
    schedule = TransformerSchedule(d_model=64, warmup_steps=50)
    rates = [float(schedule(step)) for step in range(200)]  # optimizer iterations from 0
    assert int(np.argmax(rates)) == 49  # the 50th step
    assert rates[49] == pytest.approx(64**-0.5 * 50**-0.5, rel=1e-6)
    assert rates[0] < rates[10] < rates[49] > rates[100] > rates[199]
    assert rates[199] == pytest.approx(64**-0.5 * 200**-0.5, rel=1e-6)


def test_schedule_from_peak_and_round_trip():
    schedule = TransformerSchedule.from_peak(2e-3, warmup_steps=300)
    assert float(schedule(299)) == pytest.approx(2e-3, rel=1e-6)
    assert float(schedule(0)) == pytest.approx(2e-3 / 300, rel=1e-5)
    schedules = keras.optimizers.schedules
    restored = schedules.deserialize(schedules.serialize(schedule))
    assert isinstance(restored, TransformerSchedule)
    assert float(restored(1234)) == pytest.approx(float(schedule(1234)))


def test_build_optimizer():
    warm = build_optimizer(1e-3, clipnorm=1.0, warmup_steps=100)
    assert warm.get_config()["learning_rate"]["class_name"] == "TransformerSchedule"
    assert float(warm.learning_rate) == pytest.approx(1e-3 / 100, rel=1e-5)  # step 1 of 100
    assert warm.beta_2 == pytest.approx(0.98) and warm.epsilon == pytest.approx(1e-9)
    assert warm.global_clipnorm == 1.0
    constant = build_optimizer(3e-4)
    assert float(constant.learning_rate) == pytest.approx(3e-4)
    assert constant.beta_2 == pytest.approx(0.999) and constant.global_clipnorm is None
    with pytest.raises(UsageError, match="clipnorm"):
        build_optimizer(1e-3, clipnorm=0.0)
    with pytest.raises(UsageError, match="positive"):
        build_optimizer(-1.0, warmup_steps=10)


def _log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_loss_ignores_label_zero_and_averages_over_real_tokens():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 7)).astype("float32")
    labels = np.array([[3, 5, 0, 0], [1, 6, 2, 0]])
    log_probs = _log_softmax(logits.astype("float64"))
    real = [(b, t) for b in range(2) for t in range(4) if labels[b, t]]
    expected = -np.mean([log_probs[b, t, labels[b, t]] for b, t in real])
    loss = masked_sparse_crossentropy()
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)
    # Changing the logits at padded positions changes nothing.
    noisy = logits.copy()
    noisy[labels == 0] += 100.0 * rng.normal(size=(int((labels == 0).sum()), 7))
    assert float(loss(labels, noisy)) == pytest.approx(expected, rel=1e-5)


def test_label_smoothing_matches_a_hand_computation():
    logits = np.array([[[2.0, 0.5, -1.0, 0.0]]], "float32")
    labels = np.array([[1]])
    epsilon, vocab = 0.1, 4
    log_probs = _log_softmax(logits.astype("float64"))[0, 0]
    target = np.full(vocab, epsilon / vocab)
    target[1] += 1.0 - epsilon
    expected = -(target * log_probs).sum()
    loss = masked_sparse_crossentropy(label_smoothing=epsilon)
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-6)
    dense = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=epsilon)
    assert float(dense(keras.ops.one_hot(labels, vocab), logits)) == pytest.approx(expected,
                                                                                    rel=1e-5)


def test_loss_gradient_is_softmax_minus_smoothed_target_over_real_tokens():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 3, 5)).astype("float32")
    logits[0, 0] += 1e4  # large logits must not overflow
    labels = np.array([[2, 4, 0], [1, 0, 0]])
    epsilon = 0.1
    tensor = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = masked_sparse_crossentropy(label_smoothing=epsilon)(labels, tensor)
    gradient = tape.gradient(value, tensor).numpy()
    probs = np.exp(_log_softmax(logits.astype("float64")))
    target = (1.0 - epsilon) * np.eye(5)[labels] + epsilon / 5
    expected = (probs - target) * (labels != 0)[..., None] / 3  # 3 real tokens
    assert np.isfinite(float(value))
    np.testing.assert_allclose(gradient, expected, atol=1e-6)


def test_loss_is_float32_under_mixed_precision_and_serializes():
    logits = keras.ops.cast(keras.ops.zeros((1, 2, 6)), "bfloat16")
    loss = masked_sparse_crossentropy(label_smoothing=0.2)
    value = loss(np.array([[4, 0]]), logits)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert float(value) == pytest.approx(math.log(6), rel=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.label_smoothing == 0.2


def test_all_padding_batch_gives_zero_not_nan():
    loss = masked_sparse_crossentropy(0.1)
    assert float(loss(np.zeros((2, 3), "int32"), np.ones((2, 3, 5), "float32"))) == 0.0


def test_masked_accuracy_skips_keras_float_argmax_passes():
    """Keras' TensorFlow argmax bit-casts float logits to order -0.0 (four extra passes over
    them a step); the training metric calls tf.argmax instead."""
    traced = tf.function(masked_accuracy).get_concrete_function(
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None, 7], tf.float32))
    op_types = {op.type for op in traced.graph.get_operations()}
    assert "ArgMax" in op_types
    assert "Bitcast" not in op_types


def test_masked_accuracy_and_token_count():
    labels = np.array([[1, 3, 0], [2, 0, 0]])
    logits = keras.ops.one_hot(np.array([[1, 2, 3], [2, 1, 1]]), 4)
    assert float(masked_accuracy(labels, logits)) == pytest.approx(2 / 3)
    metric = MaskedAccuracy()
    metric.update_state(labels, logits)
    metric.update_state(np.array([[1, 1, 1]]), keras.ops.one_hot(np.array([[0, 0, 0]]), 4))
    assert float(metric.result()) == pytest.approx(2 / 6)
    counter = TokenCount()
    counter.update_state(labels)
    counter.update_state(labels)
    assert float(counter.result()) == 6.0
    counter.reset_state()
    assert float(counter.result()) == 0.0


def test_cosine_schedule_warms_up_then_decays_to_zero():
    optimizer = build_optimizer(2e-3, warmup_steps=100, schedule="cosine", total_steps=1000)
    schedule = optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 50, 100, 550, 1000, 2000)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(1e-3)
    assert rates[2] == pytest.approx(2e-3)  # the peak right after the warm-up
    assert rates[3] == pytest.approx(1e-3, rel=1e-4)  # half-way down the cosine
    assert rates[4] == pytest.approx(0.0, abs=1e-9) and rates[5] == pytest.approx(0.0, abs=1e-9)
    assert optimizer.beta_2 == pytest.approx(0.98)
    with pytest.raises(UsageError, match="total_steps greater than warmup_steps"):
        build_optimizer(1e-3, warmup_steps=100, schedule="cosine", total_steps=100)
    with pytest.raises(UsageError, match="inverse_sqrt, cosine"):
        build_optimizer(1e-3, warmup_steps=100, schedule="linear")


def test_classification_loss_counts_label_zero():
    """With ignore_label=None class 0 is a real class: its loss counts in the average."""
    import numpy as np

    from zoo.training import MaskedSparseCrossentropy

    logits = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]], "float32")
    labels = np.array([0, 2])
    every_label = float(MaskedSparseCrossentropy(ignore_label=None)(labels, logits))
    expected = np.mean([-np.log(np.exp(4) / (np.exp(4) + 2)), -np.log(1 / (np.exp(4) + 2))])
    np.testing.assert_allclose(every_label, expected, rtol=1e-5)
    masked = float(MaskedSparseCrossentropy()(labels, logits))  # the padding label 0 skipped
    np.testing.assert_allclose(masked, -np.log(1 / (np.exp(4) + 2)), rtol=1e-5)
