"""Epoch snapshots and checkpoint averaging."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import UsageError
from zoo.training import (
    EpochSnapshots,
    average_checkpoints,
    build_optimizer,
    masked_sparse_crossentropy,
    snapshot_paths,
    train,
)


class Counter(keras.layers.Layer):
    """A float weight and an integer one (like a seed generator's state)."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(2,), initializer="zeros")
        self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros",
                                     trainable=False)

    def call(self, x):
        return x * self.scale


def counter_model():
    inputs = keras.Input((2,))
    return keras.Model(inputs, Counter()(inputs))


def test_average_checkpoints_means_floats_and_keeps_the_last_integers(tmp_path):
    model = counter_model()
    paths = []
    for step, (scale, count) in enumerate([([1.0, 10.0], 1), ([2.0, 20.0], 2), ([6.0, 0.0], 7)]):
        model.set_weights([np.array(scale, "float32"), np.array(count, "int32")])
        paths.append(str(tmp_path / f"epoch-{step + 1:03d}.weights.h5"))
        model.save_weights(paths[-1])
    fresh = counter_model()
    average_checkpoints(fresh, paths)
    scale, count = fresh.get_weights()
    np.testing.assert_allclose(scale, [3.0, 10.0])
    assert scale.dtype == np.float32 and int(count) == 7
    with pytest.raises(UsageError, match="at least one"):
        average_checkpoints(fresh, [])


def test_epoch_snapshots_keep_the_last_epochs(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    data = tf.data.Dataset.from_tensor_slices(
        (np.ones((8, 3), "float32"), np.ones((8,), "int32"))).batch(4).repeat()
    train(model, data, steps_per_epoch=2, epochs=5, model_dir=tmp_path,
          strategy=tf.distribute.get_strategy(), loss=masked_sparse_crossentropy(),
          optimizer=build_optimizer(1e-2), keep_snapshots=2, verbose=0)
    paths = snapshot_paths(tmp_path / "snapshots")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["epoch-004.weights.h5",
                                                     "epoch-005.weights.h5"]
    last = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    last.load_weights(paths[-1])
    for loaded, final in zip(last.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, final)
    assert snapshot_paths(tmp_path / "absent") == []
    with pytest.raises(ValueError, match="keep"):
        EpochSnapshots(str(tmp_path), keep=0)
