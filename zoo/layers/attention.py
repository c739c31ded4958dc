"""Single-head attention: Bahdanau (additive) and Luong (dot-product family).

Both layers share the call contract of `keras.layers.MultiHeadAttention`:
`layer(query, value, key=None, attention_mask=None, use_causal_mask=False,
return_attention_scores=False, training=None)` returns the context `softmax(score) · value`
`(batch, Tq, dv)`, or `(context, scores)` with float32 scores `(batch, Tq, Tv)`.
"""

import math

import keras
from keras import ops

from zoo.layers import masking


def _check_rank_3(shape, argument, layer_name):
    if shape is not None and len(shape) != 3:
        raise ValueError(
            f"{layer_name}: `{argument}` must be rank 3, (batch, time, features); "
            f"received shape {tuple(shape)}."
        )


def _check_same(a, b, what, layer_name):
    if a is not None and b is not None and a != b:
        raise ValueError(f"{layer_name}: {what}; received {a} and {b}.")


class _SingleHeadAttention(keras.layers.Layer):
    """Masks, float32 softmax, dropout and the weighted sum; subclasses define the score."""

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dropout = float(dropout)
        self.seed = seed
        self.supports_masking = True
        self._seed_generator = keras.random.SeedGenerator(seed) if self.dropout > 0 else None

    def _check_shapes(self, query_shape, value_shape, key_shape):
        name = type(self).__name__
        _check_rank_3(query_shape, "query", name)
        _check_rank_3(value_shape, "value", name)
        _check_rank_3(key_shape, "key", name)
        key_shape = value_shape if key_shape is None else key_shape
        _check_same(
            query_shape[0], value_shape[0],
            "`query` and `value` must have the same batch size", name,
        )
        _check_same(
            key_shape[1], value_shape[1],
            "`key` and `value` must have the same length (batch, Tv, ...)", name,
        )
        return key_shape

    def _scores(self, query, key):
        """Unnormalised scores `(batch, Tq, Tv)`."""
        raise NotImplementedError

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        coverage=None,
    ):
        if key is None:
            key = value
        if coverage is not None and not getattr(self, "use_coverage", False):
            raise ValueError(
                f"{type(self).__name__}: `coverage` needs a layer built with "
                "use_coverage=True (AdditiveAttention only)."
            )
        query_length, key_length = ops.shape(query)[1], ops.shape(key)[1]
        masking.check_attention_mask(
            attention_mask, ops.shape(query)[0], query_length, key_length, type(self).__name__
        )
        mask = masking.combine_attention_masks(
            query_mask=query_mask,
            value_mask=masking.merge_masks(value_mask, key_mask if key is not value else None),
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            query_length=query_length,
            key_length=key_length,
        )
        scores = self._scores(query, key) if coverage is None else self._scores(
            query, key, coverage=coverage)
        weights = masking.masked_softmax(scores, mask)
        dropped = masking.dropout(
            ops.cast(weights, value.dtype), self.dropout, self._seed_generator, training
        )
        context = ops.matmul(dropped, value)
        if return_attention_scores:
            return context, weights
        return context

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="zoo")
class AdditiveAttention(_SingleHeadAttention):
    """Bahdanau (additive) attention with learned projections.

    score(q, k) = vᵀ tanh(W_q q + W_k k + b); output = softmax(score) · value. Unlike
    `keras.layers.AdditiveAttention`, the query and key are projected to `units` first, so
    they may have different sizes. With `use_coverage`, the call takes a `coverage`
    `(batch, Tq, Tv)` (the attention summed over previous decoder steps) and the score
    becomes vᵀ tanh(W_q q + W_k k + w_c c + b) (See et al. 2017, §2.3); a missing
    `coverage` counts as zeros.

    Args:
        units: size of the hidden layer inside the score.
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether to add the bias `b` inside the tanh.
        seed: seed for the dropout.
        use_coverage: add the coverage term `w_c c` (a `(units,)` weight) to the score.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import AdditiveAttention
    >>> layer = AdditiveAttention(units=8)
    >>> decoder_state = np.ones((2, 1, 6), "float32")
    >>> encoder_outputs = np.ones((2, 5, 4), "float32")
    >>> context, scores = layer(decoder_state, encoder_outputs,
    ...                         return_attention_scores=True)
    >>> tuple(context.shape), tuple(scores.shape)
    ((2, 1, 4), (2, 1, 5))
    """

    def __init__(self, units, dropout=0.0, use_bias=True, seed=None, use_coverage=False,
                 **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.use_coverage = bool(use_coverage)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = self._check_shapes(query_shape, value_shape, key_shape)
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(key_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            if self.use_bias
            else None
        )
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer="glorot_uniform"
        )
        self.coverage_kernel = (
            self.add_weight(name="coverage_kernel", shape=(self.units,),
                            initializer="glorot_uniform")
            if self.use_coverage
            else None
        )

    def _scores(self, query, key, coverage=None):
        projected_query = ops.matmul(query, self.query_kernel)  # (b, Tq, u)
        projected_key = ops.matmul(key, self.key_kernel)  # (b, Tv, u)
        if self.bias is not None:
            projected_key = projected_key + self.bias
        hidden = projected_query[:, :, None, :] + projected_key[:, None, :, :]
        if coverage is not None:
            coverage = ops.cast(coverage, hidden.dtype)[..., None]  # (b, Tq, Tv, 1)
            hidden = hidden + coverage * ops.cast(self.coverage_kernel, hidden.dtype)
        hidden = ops.tanh(hidden)
        return ops.squeeze(ops.matmul(hidden, self.score_vector[:, None]), -1)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "use_bias": self.use_bias})
        if self.use_coverage:  # absent when False: older configs and files stay identical
            config["use_coverage"] = True
        return config


_SCORES = ("dot", "general", "concat", "scaled_dot")


@keras.saving.register_keras_serializable(package="zoo")
class DotProductAttention(_SingleHeadAttention):
    """Luong attention with the scores of Luong et al. (2015), plus the scaled dot product.

    - `"dot"`: qᵀk (query and key of the same size).
    - `"general"`: qᵀWk, W learned `(dq, dk)`.
    - `"concat"`: vᵀ tanh(W[q; k]), W learned `(dq + dk, units)`, v `(units,)`; `units`
      defaults to the query's size dq, as in Luong et al.
    - `"scaled_dot"`: qᵀk / √d.

    Output = softmax(score) · value. The attentional hidden state tanh(W_c[c; h]) of Luong
    et al. belongs to the model, not to this layer.

    Args:
        score: one of `"dot"`, `"general"`, `"concat"`, `"scaled_dot"`.
        units: hidden size of the `"concat"` score (default: the query's feature size;
            unused by the other scores).
        dropout: dropout rate on the attention weights (training only).
        seed: seed for the dropout.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import DotProductAttention
    >>> layer = DotProductAttention(score="general")
    >>> query = np.ones((2, 3, 6), "float32")
    >>> memory = np.ones((2, 5, 4), "float32")
    >>> tuple(layer(query, memory).shape)
    (2, 3, 4)
    """

    def __init__(self, score="dot", units=None, dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if score not in _SCORES:
            raise ValueError(
                f"DotProductAttention: unknown `score` {score!r}; expected one of {_SCORES}."
            )
        if units is not None and int(units) < 1:
            raise ValueError(f"DotProductAttention: `units` must be positive, got {units}.")
        self.score = score
        self.units = None if units is None else int(units)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = self._check_shapes(query_shape, value_shape, key_shape)
        query_dim, key_dim = query_shape[-1], key_shape[-1]
        if self.score in ("dot", "scaled_dot"):
            _check_same(
                query_dim,
                key_dim,
                f"score={self.score!r} needs `query` and `key` of the same feature size "
                "(batch, T, d); use score='general' to compare different sizes",
                "DotProductAttention",
            )
        if self.score == "general":
            self.kernel = self.add_weight(
                name="kernel", shape=(query_dim, key_dim), initializer="glorot_uniform"
            )
        elif self.score == "concat":
            units = self.units or query_dim
            self.kernel = self.add_weight(
                name="kernel", shape=(query_dim + key_dim, units), initializer="glorot_uniform"
            )
            self.score_vector = self.add_weight(
                name="score_vector", shape=(units,), initializer="glorot_uniform"
            )
        self._query_dim = query_dim

    def _scores(self, query, key):
        if self.score == "concat":
            # W[q; k] = W_q q + W_k k, without materialising the (b, Tq, Tv, dq + dk) concat.
            projected_query = ops.matmul(query, self.kernel[: self._query_dim])
            projected_key = ops.matmul(key, self.kernel[self._query_dim:])
            hidden = ops.tanh(projected_query[:, :, None, :] + projected_key[:, None, :, :])
            return ops.squeeze(ops.matmul(hidden, self.score_vector[:, None]), -1)
        if self.score == "general":
            query = ops.matmul(query, self.kernel)
        elif self.score == "scaled_dot":
            query = query * ops.cast(1.0 / math.sqrt(ops.shape(query)[-1]), query.dtype)
        return ops.matmul(query, ops.transpose(key, (0, 2, 1)))

    def get_config(self):
        config = super().get_config()
        config.update({"score": self.score, "units": self.units})
        return config
