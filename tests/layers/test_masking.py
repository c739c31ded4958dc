"""The mask helpers: float32 masked softmax and the cheaper attention dropout."""

import keras
import numpy as np
from keras import ops

from layers.harness import to_numpy
from zoo.layers import masking


def test_masked_softmax_zeroes_rows_without_keys():
    scores = ops.convert_to_tensor(np.random.default_rng(0).normal(size=(2, 3, 4)), "bfloat16")
    mask = np.ones((2, 3, 4), bool)
    mask[0, 1] = False
    mask[1, :, 2] = False
    weights = masking.masked_softmax(scores, mask)
    assert "float32" in str(weights.dtype)
    weights = to_numpy(weights)
    np.testing.assert_array_equal(weights[0, 1], 0.0)
    np.testing.assert_array_equal(weights[1, :, 2], 0.0)
    np.testing.assert_allclose(weights.sum(-1)[mask.any(-1)], 1.0, atol=1e-6)


def test_attention_dropout_rate_and_expectation():
    seed = keras.random.SeedGenerator(3)
    weights = np.full((4, 2, 64, 63), 0.25, "float32")  # odd key length on purpose
    assert masking.attention_dropout(weights, 0.3, seed, training=False) is weights
    dropped = to_numpy(masking.attention_dropout(weights, 0.3, seed, training=True))
    kept = dropped != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(dropped.mean(), 0.25, rtol=0.02)  # inverted dropout: unbiased
    np.testing.assert_allclose(dropped[kept], 0.25 * 32768 / (32768 - round(0.3 * 32768)),
                               rtol=1e-6)
    shared = to_numpy(masking.attention_dropout(weights, 0.3, seed, training=True,
                                                noise_shape=(4, 1, 64, 63)))
    np.testing.assert_array_equal(shared[:, 0] != 0, shared[:, 1] != 0)  # one draw per head
