"""`zoo.training.train` on one device: callbacks, checkpoints, summaries, guards, errors."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import UsageError
from zoo.training import (
    DivergenceGuard,
    TrainingDiverged,
    build_optimizer,
    masked_accuracy,
    masked_sparse_crossentropy,
    set_precision,
    train,
)

VOCAB = 12


def tiny_model():
    token_ids = keras.Input((5,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, 8)(token_ids)
    return keras.Model(token_ids, keras.layers.Dense(VOCAB)(hidden))


def copy_task():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, VOCAB, size=(16, 5)).astype("int32")
    tokens[:, 4] = 0  # one padded position per row
    return tf.data.Dataset.from_tensor_slices((tokens, tokens)).batch(4).repeat()


def run(tmp_path, epochs=3, scores=None, model=None, data=None, **kwargs):
    model = model or tiny_model()
    seen = []

    def evaluate_fn(model):
        seen.append([w.copy() for w in model.get_weights()])
        return {"score": scores[len(seen) - 1], "other": -1.0}

    history = train(
        model, data or copy_task(), steps_per_epoch=3, epochs=epochs, model_dir=tmp_path,
        strategy=tf.distribute.get_strategy(),
        loss=None if model.compiled else masked_sparse_crossentropy(0.1),
        optimizer=None if model.compiled else build_optimizer(1e-2),
        evaluate_fn=evaluate_fn if scores else None, metric_name="score" if scores else None,
        verbose=0, **kwargs)
    return model, history, seen


def read_scalars(log_dir):
    values = {}
    for path in sorted((log_dir / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                values.setdefault(value.tag, []).append(
                    (event.step, float(tf.make_ndarray(value.tensor))))
    return values


def test_train_logs_checkpoints_and_summaries(tmp_path):
    model, history, seen = run(tmp_path, scores=[1.0, 3.0, 2.0])
    assert history["epoch"] == [1, 2, 3]
    assert history["score"] == [1.0, 3.0, 2.0] and history["other"] == [-1.0] * 3
    assert history["loss"][-1] < history["loss"][0]
    assert all(rate > 0 for rate in history["tokens_per_second"] + history["steps_per_second"])
    assert history["learning_rate"] == pytest.approx([1e-2] * 3)
    assert "num_tokens" not in history

    assert json.loads((tmp_path / "best.weights.h5.json").read_text()) == {
        "metric": "score", "value": 3.0, "epoch": 2}
    best = tiny_model()
    best.load_weights(tmp_path / "best.weights.h5")
    for loaded, at_epoch_2 in zip(best.get_weights(), seen[1]):
        np.testing.assert_array_equal(loaded, at_epoch_2)
    last = tiny_model()
    last.load_weights(tmp_path / "last.weights.h5")
    for loaded, final in zip(last.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, final)
    assert not (tmp_path / "backup").exists()  # deleted once training finished

    scalars = read_scalars(tmp_path / "logs")
    assert scalars["epoch_score"] == [(1, 1.0), (2, 3.0), (3, 2.0)]
    assert [step for step, _ in scalars["epoch_tokens_per_second"]] == [1, 2, 3]
    assert {"epoch_loss", "epoch_learning_rate", "epoch_steps_per_second"} <= set(scalars)


def test_early_stopping_on_the_metric(tmp_path):
    _, history, _ = run(tmp_path, epochs=6, scores=[3.0, 2.0, 1.0, 0.0, 0.0, 0.0],
                        early_stopping_patience=2)
    assert history["epoch"] == [1, 2, 3]


def test_interrupted_run_resumes_from_its_backup(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, epochs=4, scores=[1.0, 2.0, 3.0, 4.0], callbacks=[Interrupt()])
    assert (tmp_path / "backup" / "training_metadata.json").exists()
    _, history, _ = run(tmp_path, epochs=4, scores=[0.5, 5.0])
    assert history["epoch"] == [3, 4]
    # The best value of the first run (2.0) carried over: 0.5 did not replace it.
    assert json.loads((tmp_path / "best.weights.h5.json").read_text())["epoch"] == 4


def test_precompiled_model_gets_a_token_counter(tmp_path):
    model = tiny_model()
    model.compile(optimizer=build_optimizer(1e-2), loss=masked_sparse_crossentropy(),
                  metrics=[masked_accuracy])
    _, history, _ = run(tmp_path, epochs=2, model=model)
    assert set(history) >= {"loss", "masked_accuracy", "tokens_per_second", "steps_per_second"}


def test_length_bucketed_batches_of_unknown_count(tmp_path):
    rng = np.random.default_rng(1)
    rows = [rng.integers(1, VOCAB, size=length).astype("int32") for length in (2, 3, 5, 4) * 4]
    data = tf.data.Dataset.from_tensor_slices(tf.ragged.constant(rows)).map(
        lambda tokens: (tokens, tokens)).repeat().bucket_by_sequence_length(
        lambda tokens, _: tf.shape(tokens)[0], bucket_boundaries=[4], bucket_batch_sizes=[4, 2])
    assert data.element_spec[0].shape.as_list() == [None, None]  # no static batch size
    token_ids = keras.Input((None,), dtype="int32")
    model = keras.Model(token_ids, keras.layers.Dense(VOCAB)(
        keras.layers.Embedding(VOCAB, 8)(token_ids)))
    _, history, _ = run(tmp_path, epochs=2, model=model, data=data, batch_size=4)
    assert history["epoch"] == [1, 2] and history["tokens_per_second"][-1] > 0


def test_mixed_precision_with_xla(tmp_path):
    set_precision(True)  # conftest restores float32
    model, history, _ = run(tmp_path, epochs=2, jit_compile=True)
    assert model.jit_compile and model.dtype_policy.name.startswith("mixed_")
    assert history["loss"][1] < history["loss"][0]


def test_nan_loss_stops_with_training_diverged(tmp_path):
    model = tiny_model()
    model.layers[-1].kernel.assign(np.full((8, VOCAB), np.nan, "float32"))
    with pytest.raises(TrainingDiverged, match="became nan at step 1 of epoch 1.*learning rate"):
        run(tmp_path, model=model)
    assert not (tmp_path / "last.weights.h5").exists()


def test_blowup_guard():
    guard = DivergenceGuard(blowup_factor=10.0, min_steps=2)
    for batch, loss in enumerate([5.0, 2.0, 1.0, 9.0]):
        guard.on_train_batch_end(batch, {"loss": loss})
    with pytest.raises(TrainingDiverged, match="rose to 12 at step 5.*over 10 times its best"):
        guard.on_train_batch_end(4, {"loss": 12.0})
    with pytest.raises(TrainingDiverged, match="became inf"):
        DivergenceGuard().on_epoch_end(0, {"loss": math.inf})


def test_blowup_guard_waits_for_min_steps_of_each_epoch():
    """The first steps of an epoch average a few batches: one hard batch is no blow-up."""
    guard = DivergenceGuard(blowup_factor=10.0, min_steps=3)
    guard.on_epoch_begin(0)
    for batch, loss in enumerate([1.0, 0.2, 0.05, 0.05]):
        guard.on_train_batch_end(batch, {"loss": loss})
    guard.on_epoch_begin(1)
    guard.on_train_batch_end(0, {"loss": 1.4})  # 28x the best, but a one-batch mean
    guard.on_train_batch_end(1, {"loss": 0.9})
    with pytest.raises(TrainingDiverged, match="step 3 of epoch 2"):
        guard.on_train_batch_end(2, {"loss": 1.2})


def test_blowup_guard_measures_near_zero_losses_against_its_floor():
    """A classifier's loss of 0.0001 rising to 0.005 has not diverged; to 1.5 it has."""
    guard = DivergenceGuard(blowup_factor=10.0, min_steps=1)
    for batch, loss in enumerate([0.5, 0.001, 0.0001, 0.005, 0.9]):
        guard.on_train_batch_end(batch, {"loss": loss})
    with pytest.raises(TrainingDiverged, match="rose to 1.5"):
        guard.on_train_batch_end(5, {"loss": 1.5})


def test_argument_errors(tmp_path):
    strategy = tf.distribute.get_strategy()
    model = tiny_model()
    with pytest.raises(UsageError, match=r"repeat forever \(call .repeat\(\)"):
        train(model, copy_task().take(3), 3, 1, tmp_path, strategy,
              masked_sparse_crossentropy(), build_optimizer())
    with pytest.raises(UsageError, match="needs an evaluate_fn"):
        train(model, copy_task(), 3, 1, tmp_path, strategy, masked_sparse_crossentropy(),
              build_optimizer(), metric_name="bleu")
    with pytest.raises(UsageError, match="not compiled: pass both loss and optimizer"):
        train(model, copy_task(), 3, 1, tmp_path, strategy)
    with pytest.raises(UsageError, match="steps_per_epoch and epochs must be positive"):
        train(model, copy_task(), 0, 1, tmp_path, strategy, masked_sparse_crossentropy(),
              build_optimizer())
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    with pytest.raises(UsageError, match="not created under the MirroredStrategy"):
        train(model, copy_task(), 3, 1, tmp_path, mirrored, masked_sparse_crossentropy(),
              build_optimizer())
    with mirrored.scope():
        mirrored_model = tiny_model()
    with pytest.raises(UsageError, match="optimizer was not created under the MirroredStrategy"):
        train(mirrored_model, copy_task(), 3, 1, tmp_path, mirrored,
              masked_sparse_crossentropy(), build_optimizer())
