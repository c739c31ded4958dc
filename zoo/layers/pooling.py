"""Additive attention pooling over time: the classic LSTM-attention classifier head."""

import keras
from keras import ops

from zoo.layers import masking


@keras.saving.register_keras_serializable(package="zoo")
class AttentionPooling(keras.layers.Layer):
    """Pools `(batch, T, d)` to `(batch, d)` with learned additive attention over time.

    score_t = vᵀ tanh(W h_t + b), α = softmax over the unmasked steps, output = Σ_t α_t h_t
    (Bahdanau-style pooling, as in Yang et al., 2016). Padded steps (the Keras mask of
    `inputs`, or `padding_mask`) get zero weight; a sequence with no real step gives zeros.

    Args:
        units: size of the hidden layer inside the score.
        dropout: dropout rate on the attention weights (training only).
        seed: seed for the dropout.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import AttentionPooling
    >>> pool = AttentionPooling(units=8)
    >>> pooled, weights = pool(np.ones((2, 5, 4), "float32"), return_attention_scores=True)
    >>> tuple(pooled.shape), tuple(weights.shape)
    ((2, 4), (2, 5))
    """

    def __init__(self, units, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        self.seed = seed
        self.supports_masking = True
        self._seed_generator = keras.random.SeedGenerator(seed) if self.dropout > 0 else None

    def build(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "AttentionPooling: `inputs` must be rank 3, (batch, T, d); received shape "
                f"{tuple(inputs_shape)}."
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(inputs_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer="glorot_uniform"
        )

    def call(self, inputs, padding_mask=None, return_attention_scores=False, training=None):
        mask = masking.merge_masks(masking.keras_mask(inputs), padding_mask)
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)
        scores = ops.squeeze(ops.matmul(hidden, self.score_vector[:, None]), -1)  # (b, T)
        weights = masking.masked_softmax(scores, mask)
        dropped = masking.dropout(
            ops.cast(weights, inputs.dtype), self.dropout, self._seed_generator, training
        )
        pooled = ops.squeeze(ops.matmul(dropped[:, None, :], inputs), 1)
        return (pooled, weights) if return_attention_scores else pooled

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "dropout": self.dropout, "seed": self.seed})
        return config
