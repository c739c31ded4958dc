"""`Dropout`: `keras.layers.Dropout` with the cheaper random mask of `masking.dropout`."""

import keras

from zoo.layers import masking


@keras.saving.register_keras_serializable(package="zoo")
class Dropout(keras.layers.Layer):
    """Inverted dropout, as `keras.layers.Dropout`, drawing its mask from a 32-bit hash.

    Keras' dropout draws Philox numbers through `keras.random`, which made XLA-compiled
    training steps on CPU much slower (bench/README.md, "Dropout");
    `zoo.layers.masking.random_keep_mask` draws the same Bernoulli masks from a 32-bit
    integer hash of a counter, identically on every backend. The kept entries are scaled
    by the exact inverse of the keep probability, so the expectation is unchanged.

    Args:
        rate: float in `[0, 1)`, the fraction of the inputs to drop.
        noise_shape: optional shape of the mask, broadcast over the inputs; None entries
            take the input's size (e.g. `(None, 1, None)` drops whole time steps' features
            alike).
        seed: optional int, the seed of the layer's `keras.random.SeedGenerator`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from zoo.layers import Dropout
    >>> layer = Dropout(0.5, seed=1)
    >>> y = keras.ops.convert_to_numpy(layer(np.ones((4, 256), "float32"), training=True))
    >>> sorted(set(y.ravel().tolist())), bool(0.4 < (y == 0).mean() < 0.6)
    ([0.0, 2.0], True)
    >>> bool((keras.ops.convert_to_numpy(layer(np.ones((4, 256)))) == 1).all())  # inference
    True
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.rate > 0 else None
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        return masking.dropout(inputs, self.rate, self.seed_generator, training,
                               self.noise_shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config
