"""Transformer encoder and decoder blocks (Vaswani et al., 2017), post- or pre-layer-norm."""

import keras

from zoo.layers import masking
from zoo.layers.dropout import Dropout
from zoo.layers.multi_head_attention import MultiHeadAttention


class _TransformerBlock(keras.layers.Layer):
    """Shared constructor, feed-forward network and residual wiring."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        attention_dropout=None,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.intermediate_dim = int(intermediate_dim)
        self.key_dim = None if key_dim is None else int(key_dim)
        self.dropout = float(dropout)
        self.attention_dropout = self.dropout if attention_dropout is None else float(
            attention_dropout
        )
        self.activation = keras.activations.get(activation)
        self.norm_first = bool(norm_first)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.supports_masking = True

    def _make_sublayers(self, hidden_dim, attention_names):
        if self.key_dim is None and hidden_dim % self.num_heads:
            raise ValueError(
                f"{type(self).__name__}: the feature size {hidden_dim} is not divisible by "
                f"num_heads={self.num_heads}; pass `key_dim` explicitly."
            )
        key_dim = self.key_dim or hidden_dim // self.num_heads
        policy = self.dtype_policy
        for name in attention_names:
            setattr(
                self,
                f"{name}_layer",
                MultiHeadAttention(
                    self.num_heads, key_dim, dropout=self.attention_dropout,
                    output_dim=hidden_dim, dtype=policy, name=name,
                ),
            )
            setattr(
                self,
                f"{name}_norm",
                keras.layers.LayerNormalization(
                    epsilon=self.layer_norm_epsilon, dtype=policy, name=f"{name}_norm"
                ),
            )
            setattr(
                self, f"{name}_dropout", Dropout(self.dropout, dtype=policy)
            )
        self.feedforward_intermediate = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation, dtype=policy,
            name="feedforward_intermediate",
        )
        self.feedforward_output = keras.layers.Dense(
            hidden_dim, dtype=policy, name="feedforward_output"
        )
        self.feedforward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="feedforward_norm"
        )
        self.feedforward_dropout = Dropout(self.dropout, dtype=policy)

    def _build_feedforward(self, sequence_shape):
        self.feedforward_norm.build(sequence_shape)
        self.feedforward_intermediate.build(sequence_shape)
        self.feedforward_output.build(tuple(sequence_shape[:-1]) + (self.intermediate_dim,))

    def _feedforward(self, x, training):
        residual = x
        if self.norm_first:
            x = self.feedforward_norm(x)
        x = self.feedforward_output(self.feedforward_intermediate(x))
        x = residual + self.feedforward_dropout(x, training=training)
        if not self.norm_first:
            x = self.feedforward_norm(x)
        return x

    def _residual(self, name, x, attend, training):
        """`x + dropout(attention(norm?(x)))`, normalised after when post-norm.

        `attend(normed_x)` returns a tuple whose first item is the attention output.
        """
        norm = getattr(self, f"{name}_norm")
        results = attend(norm(x) if self.norm_first else x)
        y = x + getattr(self, f"{name}_dropout")(results[0], training=training)
        if not self.norm_first:
            y = norm(y)
        return (y,) + tuple(results[1:])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "activation": keras.activations.serialize(self.activation),
                "norm_first": self.norm_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TransformerEncoderBlock(_TransformerBlock):
    """Self-attention and feed-forward sublayers, each with residual, dropout and layer norm.

    Post-norm (`norm_first=False`, Vaswani et al.): x = LN(x + Sublayer(x)). Pre-norm:
    x = x + Sublayer(LN(x)) (add a final layer norm after the last block). The Keras
    padding mask of `inputs` is honoured and passed on to the output.

    Args:
        num_heads: number of attention heads.
        intermediate_dim: hidden size of the feed-forward network.
        key_dim: size of each head (default: feature size / num_heads).
        dropout: dropout after each sublayer.
        attention_dropout: dropout on attention weights (default `dropout`).
        activation: activation of the feed-forward network.
        norm_first: pre-layer-norm when True.
        layer_norm_epsilon: epsilon of the layer norms.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import TransformerEncoderBlock
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    >>> out, scores = block(np.ones((2, 5, 8), "float32"), return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((2, 5, 8), (2, 2, 5, 5))
    """

    def build(self, inputs_shape):
        self._make_sublayers(inputs_shape[-1], ["self_attention"])
        self.self_attention_layer.build(inputs_shape, inputs_shape)
        self.self_attention_norm.build(inputs_shape)
        self._build_feedforward(inputs_shape)

    def call(self, inputs, attention_mask=None, training=None, return_attention_scores=False):
        padding_mask = masking.keras_mask(inputs)

        def attend(x):
            return self.self_attention_layer(
                x, x, query_mask=padding_mask, value_mask=padding_mask,
                attention_mask=attention_mask, return_attention_scores=True,
                training=training,
            )

        x, scores = self._residual("self_attention", inputs, attend, training)
        x = self._feedforward(x, training)
        return (x, scores) if return_attention_scores else x


@keras.saving.register_keras_serializable(package="zoo")
class TransformerEncoder(keras.layers.Layer):
    """A stack of `TransformerEncoderBlock`s (plus the final layer norm of pre-norm stacks).

    The encoder of `zoo.models.Transformer`, `TransformerClassifier` and
    `TransformerSpanQA`.

    Args:
        num_layers: number of blocks.
        num_heads, intermediate_dim, key_dim, dropout, attention_dropout, activation,
            norm_first, layer_norm_epsilon: as in `TransformerEncoderBlock`.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import TransformerEncoder
    >>> encoder = TransformerEncoder(2, num_heads=2, intermediate_dim=16)
    >>> padding = np.array([[True, True, True, False, False]] * 2)
    >>> out, scores = encoder(np.ones((2, 5, 8), "float32"), attention_mask=padding[:, None],
    ...                       return_attention_scores=True)
    >>> tuple(out.shape), len(scores), tuple(scores[0].shape)
    ((2, 5, 8), 2, (2, 2, 5, 5))
    """

    def __init__(
        self,
        num_layers,
        num_heads,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        attention_dropout=None,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.block_args = dict(
            num_heads=num_heads, intermediate_dim=intermediate_dim, key_dim=key_dim,
            dropout=dropout, attention_dropout=attention_dropout,
            activation=keras.activations.serialize(keras.activations.get(activation)),
            norm_first=norm_first, layer_norm_epsilon=layer_norm_epsilon,
        )
        self.blocks = [
            TransformerEncoderBlock(**self.block_args, dtype=self.dtype_policy,
                                    name=f"block_{i}")
            for i in range(self.num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="final_norm"
        ) if norm_first else None

    def build(self, inputs_shape):
        for block in self.blocks:
            block.build(inputs_shape)
        if self.final_norm is not None:
            self.final_norm.build(inputs_shape)

    def call(self, inputs, attention_mask=None, training=None, return_attention_scores=False):
        """Returns the encoded sequence, and the blocks' attention scores when asked.

        Args:
            inputs: `(batch, T, features)`.
            attention_mask: boolean, broadcastable to `(batch, T, T)`, e.g. the padding
                mask as `(batch, 1, T)`.
            training: bool.
            return_attention_scores: bool; also return a list of `(batch, heads, T, T)`.
        """
        x, scores = inputs, []
        for block in self.blocks:
            x = block(x, attention_mask=attention_mask, training=training,
                      return_attention_scores=return_attention_scores)
            if return_attention_scores:
                x, block_scores = x
                scores.append(block_scores)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return (x, scores) if return_attention_scores else x

    def get_config(self):
        config = super().get_config()
        config.update({"num_layers": self.num_layers, **self.block_args})
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TransformerDecoderBlock(_TransformerBlock):
    """Causal self-attention, optional cross-attention, feed-forward; with decoding caches.

    Without caches it runs the whole target sequence (teacher forcing). For incremental
    decoding pass `self_attention_cache`, a `(keys, values)` pair of
    `(batch, heads, max_length, key_dim)` tensors (see `MultiHeadAttention`), with
    `self_attention_cache_update_index`, and `cross_attention_cache` from
    `compute_cross_attention_cache(encoder_sequence)` (or `encoder_sequence`, from which the
    cache is then computed); the call then returns `(outputs, self_attention_cache,
    cross_attention_cache)`. With `return_attention_scores=True` a last element
    `{"self": (b, h, Tq, Tq or max_length), "cross": (b, h, Tq, Ts)}` is added.

    Masks: the Keras padding masks of `decoder_sequence` and `encoder_sequence` are
    honoured, `decoder_attention_mask` is broadcast to `(batch, Tq, Tq or max_length)` and
    `encoder_attention_mask` to `(batch, Tq or 1, Ts)`; use `encoder_attention_mask` to mask
    source padding when only a cross-attention cache is passed. If the block is built without
    an encoder shape, the encoder's feature size is assumed equal to the decoder's.

    Args:
        num_heads: number of attention heads.
        intermediate_dim: hidden size of the feed-forward network.
        key_dim: size of each head (default: feature size / num_heads).
        dropout: dropout after each sublayer.
        attention_dropout: dropout on attention weights (default `dropout`).
        activation: activation of the feed-forward network.
        norm_first: pre-layer-norm when True.
        layer_norm_epsilon: epsilon of the layer norms.
        cross_attention: whether the block attends to an encoder sequence.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import TransformerDecoderBlock
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    >>> target, source = np.ones((2, 4, 8), "float32"), np.ones((2, 6, 8), "float32")
    >>> tuple(block(target, source).shape)
    (2, 4, 8)
    >>> cache = (np.zeros((2, 2, 4, 4), "float32"), np.zeros((2, 2, 4, 4), "float32"))
    >>> cross = block.compute_cross_attention_cache(source)
    >>> out, cache, cross = block(target[:, :1], self_attention_cache=cache,
    ...                           self_attention_cache_update_index=0,
    ...                           cross_attention_cache=cross)
    >>> tuple(out.shape), [tuple(t.shape) for t in cross]
    ((2, 1, 8), [(2, 2, 6, 4), (2, 2, 6, 4)])
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        attention_dropout=None,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        cross_attention=True,
        **kwargs,
    ):
        super().__init__(
            num_heads, intermediate_dim, key_dim=key_dim, dropout=dropout,
            attention_dropout=attention_dropout, activation=activation, norm_first=norm_first,
            layer_norm_epsilon=layer_norm_epsilon, **kwargs,
        )
        self.cross_attention = bool(cross_attention)

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        names = ["self_attention"] + (["cross_attention"] if self.cross_attention else [])
        self._make_sublayers(decoder_sequence_shape[-1], names)
        self.self_attention_layer.build(decoder_sequence_shape, decoder_sequence_shape)
        self.self_attention_norm.build(decoder_sequence_shape)
        if self.cross_attention:
            if encoder_sequence_shape is None:
                encoder_sequence_shape = decoder_sequence_shape
            self.cross_attention_layer.build(decoder_sequence_shape, encoder_sequence_shape)
            self.cross_attention_norm.build(decoder_sequence_shape)
        self._build_feedforward(decoder_sequence_shape)

    def compute_cross_attention_cache(self, encoder_sequence):
        """Cross-attention `(keys, values)`, computed once: each `(batch, heads, Ts, key_dim)`."""
        if not self.cross_attention:
            raise ValueError(
                "TransformerDecoderBlock: built with cross_attention=False, so there is no "
                "cross-attention cache."
            )
        if not self.built:
            self.build(tuple(encoder_sequence.shape), tuple(encoder_sequence.shape))
        return self.cross_attention_layer.compute_key_value_cache(encoder_sequence)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_attention_mask=None,
        encoder_attention_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_attention_scores=False,
        training=None,
    ):
        decoder_mask = masking.keras_mask(decoder_sequence)
        encoder_mask = masking.keras_mask(encoder_sequence)
        caching = self_attention_cache is not None or cross_attention_cache is not None
        if self_attention_cache is not None and self_attention_cache_update_index is None:
            raise ValueError(
                "TransformerDecoderBlock: `self_attention_cache` needs "
                "`self_attention_cache_update_index`, the position of the first new token."
            )
        scores = {}

        def self_attend(x):
            if self_attention_cache is None:
                return self.self_attention_layer(
                    x, x, query_mask=decoder_mask, value_mask=decoder_mask,
                    attention_mask=decoder_attention_mask, use_causal_mask=use_causal_mask,
                    return_attention_scores=True, training=training,
                )
            return self.self_attention_layer(
                x, x, query_mask=decoder_mask, attention_mask=decoder_attention_mask,
                cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index,
                return_attention_scores=True, training=training,
            )

        x, scores["self"], *new_self_cache = self._residual(
            "self_attention", decoder_sequence, self_attend, training
        )
        new_self_cache = new_self_cache[0] if new_self_cache else None

        new_cross_cache = None
        if self.cross_attention:
            if cross_attention_cache is None and encoder_sequence is None:
                raise ValueError(
                    "TransformerDecoderBlock: cross-attention needs `encoder_sequence` "
                    "(batch, Ts, d) or `cross_attention_cache`; build the block with "
                    "cross_attention=False for a decoder-only model."
                )
            if cross_attention_cache is None and caching:
                cross_attention_cache = self.compute_cross_attention_cache(encoder_sequence)

            def cross_attend(y):
                if cross_attention_cache is None:
                    return self.cross_attention_layer(
                        y, encoder_sequence, query_mask=decoder_mask, value_mask=encoder_mask,
                        attention_mask=encoder_attention_mask, return_attention_scores=True,
                        training=training,
                    )
                return self.cross_attention_layer(
                    y, encoder_sequence, query_mask=decoder_mask, value_mask=encoder_mask,
                    attention_mask=encoder_attention_mask, cache=cross_attention_cache,
                    return_attention_scores=True, training=training,
                )

            x, scores["cross"], *new_cross_cache = self._residual(
                "cross_attention", x, cross_attend, training
            )
            new_cross_cache = new_cross_cache[0] if new_cross_cache else None

        x = self._feedforward(x, training)
        results = (x,)
        if caching:
            results += (new_self_cache, new_cross_cache)
        if return_attention_scores:
            results += (scores,)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        config = super().get_config()
        config.update({"cross_attention": self.cross_attention})
        return config
