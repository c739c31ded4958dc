"""zoo.layers.Dropout: keras.layers.Dropout's contract with the hash-based mask."""

import keras
import numpy as np
import pytest

from layers.harness import run_layer_test, to_numpy
from zoo.layers import Dropout


def test_dropout_harness():
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    run_layer_test(Dropout, init_kwargs={"rate": 0.2, "seed": 3}, input_data={"inputs": x},
                   expected_output_shape=(2, 5, 8), reference=lambda layer, data: data["inputs"],
                   run_training_test=False)


def test_dropout_in_training_matches_keras_statistics():
    x = np.ones((32, 64, 64), "float32")
    for rate in (0.1, 0.5):
        ours = to_numpy(Dropout(rate, seed=1)(x, training=True))
        theirs = to_numpy(keras.layers.Dropout(rate, seed=1)(x, training=True))
        for y in (ours, theirs):
            assert abs((y == 0).mean() - rate) < 0.01
            np.testing.assert_allclose(y[y != 0], 1 / (1 - rate), rtol=1e-6)
        assert abs(ours.mean() - 1.0) < 0.01


def test_dropout_noise_shape_and_fresh_masks_each_call():
    layer = Dropout(0.5, noise_shape=(None, 1, None), seed=0)
    x = np.ones((4, 6, 32), "float32")
    first, second = (to_numpy(layer(x, training=True)) for _ in range(2))
    assert (np.ptp(first, axis=1) == 0).all()  # one mask for all time steps
    assert (first != second).any()


def test_dropout_trains_inside_a_model_and_rejects_bad_rates():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(1)(Dropout(0.3)(inputs)))
    model.compile("sgd", "mse")
    loss = model.fit(np.ones((16, 8)), np.zeros((16, 1)), epochs=2, verbose=0)
    assert np.isfinite(loss.history["loss"]).all()
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)
