"""Token embedding plus position encoding, with the tied output projection."""

import math

import keras
from keras import ops

from zoo.layers.dropout import Dropout
from zoo.layers.position import LearnedPositionEmbedding, SinusoidalPositionEncoding

_POSITIONS = {"sinusoidal": SinusoidalPositionEncoding, "learned": LearnedPositionEmbedding}


@keras.saving.register_keras_serializable(package="zoo")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding (optionally scaled by √d) plus a position encoding, then dropout.

    Token id 0 is padding: with `mask_zero=True` the output carries the Keras mask
    `token_ids != 0`. `logits(hidden)` multiplies by the transposed token table (the tied
    output projection of Press & Wolf, 2017).

    A static length past `max_length` raises. Ids are not range-checked inside a compiled
    graph: an id `>= vocab_size` is an error on TensorFlow CPU and is clamped on jax and
    accelerators, so keep ids within the vocabulary.

    Args:
        vocab_size: number of token ids (including the reserved ones).
        max_length: the largest sequence length (and decoding position).
        embedding_dim: the size `d` of the embeddings.
        position: `"sinusoidal"` (fixed) or `"learned"`.
        scale_embeddings: multiply token embeddings by √d (Vaswani et al.).
        mask_zero: produce the padding mask for id 0.
        dropout: dropout rate on the summed embeddings.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import TokenAndPositionEmbedding
    >>> layer = TokenAndPositionEmbedding(vocab_size=20, max_length=8, embedding_dim=4)
    >>> hidden = layer(np.array([[5, 6, 7, 0]]))
    >>> tuple(hidden.shape), tuple(layer.logits(hidden).shape)
    ((1, 4, 4), (1, 4, 20))
    """

    def __init__(
        self,
        vocab_size,
        max_length,
        embedding_dim,
        position="sinusoidal",
        scale_embeddings=True,
        mask_zero=True,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if position not in _POSITIONS:
            raise ValueError(
                f"TokenAndPositionEmbedding: unknown `position` {position!r}; expected one of "
                f"{tuple(_POSITIONS)}."
            )
        self.vocab_size = int(vocab_size)
        self.max_length = int(max_length)
        self.embedding_dim = int(embedding_dim)
        self.position = position
        self.scale_embeddings = bool(scale_embeddings)
        self.mask_zero = bool(mask_zero)
        self.dropout = float(dropout)
        self.position_encoding = _POSITIONS[position](
            max_length=self.max_length, dtype=self.dtype_policy, name="position_encoding"
        )
        self.dropout_layer = Dropout(self.dropout, dtype=self.dtype_policy)
        self.supports_masking = self.mask_zero

    def build(self, token_ids_shape):
        # Vaswani et al. scale by √d, so the table starts at std d^-1/2 (unit-norm rows).
        stddev = self.embedding_dim**-0.5 if self.scale_embeddings else 0.05
        self.token_embeddings = self.add_weight(
            name="token_embeddings",
            shape=(self.vocab_size, self.embedding_dim),
            initializer=keras.initializers.RandomNormal(stddev=stddev),
        )
        self.position_encoding.build(tuple(token_ids_shape) + (self.embedding_dim,))

    def call(self, token_ids, start_index=0, training=None):
        token_ids = ops.cast(token_ids, "int32")
        embedded = ops.take(self.token_embeddings, token_ids, axis=0)
        if self.scale_embeddings:
            embedded = embedded * ops.cast(math.sqrt(self.embedding_dim), embedded.dtype)
        embedded = embedded + self.position_encoding(embedded, start_index=start_index)
        return self.dropout_layer(embedded, training=training)

    def compute_mask(self, token_ids, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(token_ids, 0)

    def logits(self, hidden):
        """Tied output projection: float32 `hidden @ Eᵀ`, `(batch, T, vocab_size)`."""
        table = ops.cast(self.token_embeddings, hidden.dtype)
        return ops.cast(ops.matmul(hidden, ops.transpose(table)), "float32")

    def compute_output_shape(self, token_ids_shape):
        return tuple(token_ids_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "max_length": self.max_length,
                "embedding_dim": self.embedding_dim,
                "position": self.position,
                "scale_embeddings": self.scale_embeddings,
                "mask_zero": self.mask_zero,
                "dropout": self.dropout,
            }
        )
        return config
