"""The mask helpers: float32 masked softmax and the hash-based dropout."""

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


def test_dropout_rate_and_expectation():
    seed = keras.random.SeedGenerator(3)
    weights = np.full((4, 2, 64, 63), 0.25, "float32")  # odd sizes on purpose
    assert masking.dropout(weights, 0.3, seed, training=False) is weights
    dropped = to_numpy(masking.dropout(weights, 0.3, seed, training=True))
    kept = dropped != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(dropped.mean(), 0.25, rtol=0.02)  # inverted dropout: unbiased
    np.testing.assert_allclose(dropped[kept], 0.25 / 0.7, rtol=1e-6)
    shared = to_numpy(masking.dropout(weights, 0.3, seed, training=True,
                                      noise_shape=(4, 1, 64, 63)))
    np.testing.assert_array_equal(shared[:, 0] != 0, shared[:, 1] != 0)  # one draw per head
    by_step = to_numpy(masking.dropout(weights, 0.3, seed, training=True,
                                       noise_shape=(4, 2, None, 1)))
    assert (np.ptp(by_step, axis=-1) == 0).all()  # None takes the input's size


def test_random_keep_masks_are_independent_and_reproducible():
    """Masks of successive seeds, and neighbouring entries, are uncorrelated."""
    shape, rate = (64, 1000), 0.5
    first, scale = masking.random_keep_mask(shape, rate, keras.random.SeedGenerator(7))
    assert scale == 2.0
    generator = keras.random.SeedGenerator(7)
    masks = [to_numpy(masking.random_keep_mask(shape, rate, generator)[0]).astype(float)
             for _ in range(3)]
    np.testing.assert_array_equal(to_numpy(first), masks[0])  # same seed, same mask
    n = masks[0].size
    for a, b in [(masks[0], masks[1]), (masks[1], masks[2])]:
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 4 / np.sqrt(n)
    flat = masks[0].ravel()
    for lag in (1, 2, 1000):  # within a row and across rows
        assert abs(np.corrcoef(flat[:-lag], flat[lag:])[0, 1]) < 4 / np.sqrt(n)
    assert abs(masks[0].mean(axis=0).mean() - 0.5) < 0.01
    assert abs(masks[0].mean(axis=1).std() - 0.5 / np.sqrt(1000)) < 0.005  # binomial spread
    for extreme in (0.0, 1e-12):
        keep, _ = masking.random_keep_mask((1000,), extreme, generator)
        assert to_numpy(keep).all()
