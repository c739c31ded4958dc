"""Position encodings: fixed sinusoids (Vaswani et al., 2017) and learned embeddings.

Both return encodings shaped like their input `(batch, T, d)` for positions
`start_index .. start_index + T - 1`, so a decoder step can ask for position `step` alone.
"""

import keras
from keras import ops


def _check_length(layer_name, inputs, start_index, max_length):
    """Raises when `start_index + T > max_length` is known statically."""
    shape = ops.shape(inputs)
    if len(shape) != 3:
        raise ValueError(
            f"{layer_name}: `inputs` must be rank 3, (batch, T, d); received shape "
            f"{tuple(shape)}."
        )
    length = shape[1]
    if isinstance(length, int) and isinstance(start_index, int):
        if start_index + length > max_length:
            raise ValueError(
                f"{layer_name}: positions {start_index}..{start_index + length - 1} exceed "
                f"max_length={max_length}; truncate the sequence or build the layer with a "
                "larger `max_length`."
            )


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Fixed sinusoidal position encoding: sin on even features, cos on odd ones.

    PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)). No weights.
    Positions past `max_length` raise when the length is static; with a dynamic length or
    `start_index` the encoding is computed for any position (no error).

    Args:
        max_length: the largest number of positions.
        max_wavelength: the base of the geometric wavelength progression.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import SinusoidalPositionEncoding
    >>> layer = SinusoidalPositionEncoding(max_length=16)
    >>> tuple(layer(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, max_length, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.max_wavelength = float(max_wavelength)

    def call(self, inputs, start_index=0):
        _check_length("SinusoidalPositionEncoding", inputs, start_index, self.max_length)
        shape = ops.shape(inputs)
        length, dim = shape[1], shape[2]
        positions = ops.cast(ops.arange(length) + start_index, "float32")
        feature = ops.arange(dim)
        exponents = ops.cast(2 * (feature // 2), "float32") / float(dim)
        inverse_wavelengths = ops.power(1.0 / self.max_wavelength, exponents)
        angles = positions[:, None] * inverse_wavelengths[None, :]
        is_cos = ops.cast(feature % 2, "float32")
        encoding = ops.sin(angles) * (1.0 - is_cos) + ops.cos(angles) * is_cos
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype)[None], shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_length": self.max_length, "max_wavelength": self.max_wavelength})
        return config


@keras.saving.register_keras_serializable(package="zoo")
class LearnedPositionEmbedding(keras.layers.Layer):
    """A learned `(max_length, d)` position table, read at `start_index .. start_index + T - 1`.

    A static length past `max_length` raises. With a dynamic length or `start_index`,
    positions past the table are an out-of-range gather: an error on TensorFlow CPU,
    clamped to the last row on jax and on accelerators.

    Args:
        max_length: the number of learned positions.
        initializer: initializer of the table.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import LearnedPositionEmbedding
    >>> layer = LearnedPositionEmbedding(max_length=16)
    >>> tuple(layer(np.zeros((2, 5, 8), "float32"), start_index=3).shape)
    (2, 5, 8)
    """

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_length, inputs_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs, start_index=0):
        _check_length("LearnedPositionEmbedding", inputs, start_index, self.max_length)
        shape = ops.shape(inputs)
        positions = ops.arange(shape[1], dtype="int32") + ops.cast(start_index, "int32")
        encoding = ops.take(self.position_embeddings, positions, axis=0)
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype)[None], shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
