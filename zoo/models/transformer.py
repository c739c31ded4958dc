"""The encoder-decoder Transformer of Vaswani et al. (2017), with a cached decode step.

Example:

>>> import numpy as np
>>> import zoo.models
>>> model = zoo.models.Transformer(source_vocab_size=100, target_vocab_size=120,
...                                num_layers=2, d_model=32, num_heads=2,
...                                intermediate_dim=64, max_length=16)
>>> source = np.array([[5, 9, 12, 0]])
>>> target_in = np.array([[2, 7, 8]])
>>> tuple(model((source, target_in)).shape)
(1, 3, 120)
"""

import keras
from keras import ops

from zoo import layers
from zoo.errors import UsageError
from zoo.models import registry


def check_decode_length(max_length, model_max_length):
    """Raises a `UsageError` when decoding asks for more tokens than the model takes."""
    if max_length > model_max_length:
        raise UsageError(f"Cannot decode {max_length} tokens: the model's max_length is "
                         f"{model_max_length}. Pass a smaller max_length.")


def check_batch(token_ids, name, max_length, vocab_size=None):
    """Raises a `UsageError` for an empty batch, a too long sequence or unknown ids.

    Shapes are checked whenever they are static. Id values can only be checked when they
    are concrete (eager calls); inside a compiled graph an id `>= vocab_size` is not
    detected here (see `zoo.layers.TokenAndPositionEmbedding`).
    """
    shape = token_ids.shape
    if len(shape) != 2:
        raise ValueError(
            f"`{name}` must be 2-D token ids (batch, length); got shape {tuple(shape)}."
        )
    if shape[0] == 0:
        raise UsageError(f"`{name}` is an empty batch (0 examples); pass at least one.")
    if shape[1] is not None and shape[1] > max_length:
        raise UsageError(
            f"`{name}` has length {shape[1]}, longer than the model's max_length="
            f"{max_length}. Truncate the inputs (the data pipelines' max lengths) or build "
            f"the model with a larger `max_length`."
        )
    values = _concrete_values(token_ids) if vocab_size else None
    if values is not None and values.size and (values.max() >= vocab_size or values.min() < 0):
        bad = values.max() if values.max() >= vocab_size else values.min()
        raise UsageError(
            f"`{name}` holds token id {bad}, outside the vocabulary [0, {vocab_size}). "
            "Encode the inputs with the model's own tokenizer, or build the model with "
            "the tokenizer's vocabulary size."
        )


def _concrete_values(tensor):
    """The numpy value of an eager tensor; None while tracing a graph."""
    try:
        return ops.convert_to_numpy(tensor)
    except (TypeError, ValueError, NotImplementedError, RuntimeError, AttributeError):
        return None


def padding_mask(token_ids):
    """`(batch, T)` boolean mask, True at real tokens (id 0 is padding)."""
    return ops.not_equal(token_ids, 0)


@keras.saving.register_keras_serializable(package="zoo")
class Transformer(keras.Model):
    """Encoder-decoder Transformer ("Attention Is All You Need").

    `model((source_ids, target_in_ids))` returns float32 logits
    `(batch, T_target, target_vocab_size)`, also under mixed precision. Token id 0 is
    padding in both sequences. With `return_attention_scores=True` the call returns
    `(logits, scores)` where `scores` is a dict of per-layer lists, each entry
    `(batch, num_heads, Tq, Tk)`: `"encoder"` (source self-attention),
    `"decoder_self"` and `"decoder_cross"` (target over source).

    For incremental decoding (`zoo.decoding`), `encode` returns a dict of batch-leading
    tensors: `"source_mask"` `(batch, Ts)` and `"cross_attention_cache"`, a tuple with one
    `(keys, values)` pair of `(batch, num_heads, Ts, key_dim)` tensors per decoder layer
    (its source keys and values, computed once); `init_decode_state` adds
    `"self_attention_cache"`, a tuple of `(batch, num_heads, max_length, key_dim)` pairs;
    `decode_step` writes one position of each per step and returns the cross-attention
    weights of the last decoder layer averaged over heads. (Separate tensors per layer and
    for keys and values, not one stacked tensor: slicing them out of a stacked cache copied
    it at every step, a third of a greedy step.)

    Args:
        source_vocab_size: int, size of the source vocabulary.
        target_vocab_size: int, size of the target vocabulary.
        num_layers: int, encoder and decoder depth unless overridden below.
        num_encoder_layers: int, encoder depth; defaults to `num_layers`.
        num_decoder_layers: int, decoder depth; defaults to `num_layers`.
        d_model: int, hidden size.
        num_heads: int, attention heads; `d_model` must be divisible by it.
        intermediate_dim: int, feed-forward hidden size.
        dropout: float, dropout on embeddings and on each sub-layer output.
        attention_dropout: float, dropout on attention weights; defaults to `dropout`.
        activation: feed-forward activation.
        max_length: int, longest source or target sequence (position table size).
        norm_first: bool, pre-layer-norm blocks (plus a final norm) instead of the
            original post-norm.
        share_embeddings: bool, one embedding table for source and target (needs equal
            vocabulary sizes, i.e. a joint vocabulary).
        tie_output: bool, the output projection is the transposed target embedding.
        position: `"sinusoidal"` or `"learned"` position encodings.
        layer_norm_epsilon: float.
        **kwargs: `keras.Model` arguments (`name`, `dtype`).
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        num_layers=6,
        num_encoder_layers=None,
        num_decoder_layers=None,
        d_model=512,
        num_heads=8,
        intermediate_dim=2048,
        dropout=0.1,
        attention_dropout=None,
        activation="relu",
        max_length=256,
        norm_first=False,
        share_embeddings=False,
        tie_output=True,
        position="sinusoidal",
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise UsageError(
                f"d_model={d_model} must be divisible by num_heads={num_heads}."
            )
        if share_embeddings and source_vocab_size != target_vocab_size:
            raise UsageError(
                "share_embeddings=True needs one joint vocabulary, but source_vocab_size="
                f"{source_vocab_size} != target_vocab_size={target_vocab_size}. Train a "
                "joint tokenizer or pass share_embeddings=False."
            )
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.num_layers = num_layers
        self.num_encoder_layers = num_encoder_layers or num_layers
        self.num_decoder_layers = num_decoder_layers or num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.key_dim = d_model // num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = dropout if attention_dropout is None else attention_dropout
        self.activation = activation
        self.max_length = max_length
        self.norm_first = norm_first
        self.share_embeddings = share_embeddings
        self.tie_output = tie_output
        self.position = position
        self.layer_norm_epsilon = layer_norm_epsilon

        def embedding(vocab_size, name):
            # Padding masks are computed once from the ids and passed explicitly, so the
            # embedding attaches no Keras mask (no duplicate mask work in every block).
            return layers.TokenAndPositionEmbedding(
                vocab_size, max_length, d_model, position=position, mask_zero=False,
                dropout=dropout, dtype=self.dtype_policy, name=name,
            )

        self.source_embedding = embedding(source_vocab_size, "source_embedding")
        self.target_embedding = (
            self.source_embedding if share_embeddings
            else embedding(target_vocab_size, "target_embedding")
        )
        block_args = dict(
            num_heads=num_heads, intermediate_dim=intermediate_dim, key_dim=self.key_dim,
            dropout=dropout, attention_dropout=self.attention_dropout,
            activation=activation, norm_first=norm_first,
            layer_norm_epsilon=layer_norm_epsilon, dtype=self.dtype_policy,
        )
        self.encoder = layers.TransformerEncoder(
            self.num_encoder_layers, **block_args, name="encoder"
        )
        self.decoder_blocks = [
            layers.TransformerDecoderBlock(**block_args, name=f"decoder_block_{i}")
            for i in range(self.num_decoder_layers)
        ]
        if norm_first:
            self.decoder_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="decoder_norm"
            )
        if not tie_output:
            self.output_projection = keras.layers.Dense(
                target_vocab_size, dtype=self.dtype_policy, name="output_projection"
            )

    def build(self, inputs_shape):
        source_shape, target_shape = inputs_shape
        hidden = (source_shape[0], source_shape[1], self.d_model)
        target_hidden = (target_shape[0], target_shape[1], self.d_model)
        self.source_embedding.build(source_shape)
        if not self.share_embeddings:
            self.target_embedding.build(target_shape)
        self.encoder.build(hidden)
        for block in self.decoder_blocks:
            block.build(target_hidden, hidden)
        if self.norm_first:
            self.decoder_norm.build(target_hidden)
        if not self.tie_output:
            self.output_projection.build(target_hidden)
        self.built = True

    def _encode(self, source_ids, training, return_attention_scores=False):
        source_ids = ops.cast(source_ids, "int32")
        check_batch(source_ids, "source_ids", self.max_length, self.source_vocab_size)
        source_mask = padding_mask(source_ids)
        attention_mask = source_mask[:, None, :]
        x = self.source_embedding(source_ids, training=training)
        if return_attention_scores:
            x, scores = self.encoder(x, attention_mask=attention_mask, training=training,
                                     return_attention_scores=True)
            return x, source_mask, scores
        return self.encoder(x, attention_mask=attention_mask, training=training), source_mask, []

    def _logits(self, hidden):
        if self.tie_output:
            logits = self.target_embedding.logits(hidden)
        else:
            logits = self.output_projection(hidden)
        return ops.cast(logits, "float32")

    def call(self, inputs, training=None, return_attention_scores=False):
        source_ids, target_ids = inputs
        encoded, source_mask, encoder_scores = self._encode(
            source_ids, training, return_attention_scores
        )
        target_ids = ops.cast(target_ids, "int32")
        check_batch(target_ids, "target_in_ids", self.max_length, self.target_vocab_size)
        target_mask = padding_mask(target_ids)
        x = self.target_embedding(target_ids, training=training)
        scores = {"encoder": encoder_scores, "decoder_self": [], "decoder_cross": []}
        for block in self.decoder_blocks:
            x = block(
                x, encoded,
                decoder_attention_mask=target_mask[:, None, :],
                encoder_attention_mask=source_mask[:, None, :],
                use_causal_mask=True, training=training,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, block_scores = x
                scores["decoder_self"].append(block_scores["self"])
                scores["decoder_cross"].append(block_scores["cross"])
        if self.norm_first:
            x = self.decoder_norm(x)
        logits = self._logits(x)
        if return_attention_scores:
            return logits, scores
        return logits

    def encode(self, source_ids, training=False):
        """Encodes `source_ids` `(batch, Ts)` into the decoding state (a dict)."""
        encoded, source_mask, _ = self._encode(source_ids, training)
        caches = tuple(
            block.compute_cross_attention_cache(encoded) for block in self.decoder_blocks
        )
        return {"source_mask": source_mask, "cross_attention_cache": caches}

    def init_decode_state(self, state, max_length):
        """Adds an empty self-attention cache of `max_length` positions to `state`."""
        check_decode_length(max_length, self.max_length)
        keys = state["cross_attention_cache"][0][0]
        shape = (ops.shape(keys)[0], self.num_heads, max_length, self.key_dim)
        caches = tuple(
            (ops.zeros(shape, dtype=keys.dtype), ops.zeros(shape, dtype=keys.dtype))
            for _ in self.decoder_blocks
        )
        return {**state, "self_attention_cache": caches}

    def decode_step(self, token_ids, step, state):
        """One decoding step.

        Args:
            token_ids: `(batch,)` int, the previous token (BOS at step 0).
            step: int scalar tensor, the position of `token_ids` in the target.
            state: the dict from `init_decode_state` (or a previous step).

        Returns:
            `(logits, state, alignment)`: float32 logits `(batch, target_vocab_size)`,
            the updated state, and the last decoder layer's cross-attention weights
            averaged over heads, `(batch, Ts)`.
        """
        token_ids = ops.cast(token_ids, "int32")[:, None]
        x = self.target_embedding(token_ids, start_index=step, training=False)
        encoder_attention_mask = state["source_mask"][:, None, :]
        self_caches = []
        alignment = None
        last = self.num_decoder_layers - 1
        for i, block in enumerate(self.decoder_blocks):
            outputs = block(
                x,
                encoder_attention_mask=encoder_attention_mask,
                self_attention_cache=state["self_attention_cache"][i],
                self_attention_cache_update_index=step,
                cross_attention_cache=state["cross_attention_cache"][i],
                use_causal_mask=False,
                return_attention_scores=i == last,
                training=False,
            )
            x, self_cache = outputs[0], outputs[1]
            self_caches.append(self_cache)
            if i == last:
                alignment = ops.mean(ops.cast(outputs[3]["cross"], "float32"), axis=1)
        if self.norm_first:
            x = self.decoder_norm(x)
        logits = self._logits(x)[:, 0, :]
        new_state = {**state, "self_attention_cache": tuple(self_caches)}
        return logits, new_state, alignment[:, 0, :]

    def get_config(self):
        config = super().get_config()
        config.update(
            source_vocab_size=self.source_vocab_size,
            target_vocab_size=self.target_vocab_size,
            num_layers=self.num_layers,
            num_encoder_layers=self.num_encoder_layers,
            num_decoder_layers=self.num_decoder_layers,
            d_model=self.d_model,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            activation=self.activation,
            max_length=self.max_length,
            norm_first=self.norm_first,
            share_embeddings=self.share_embeddings,
            tie_output=self.tie_output,
            position=self.position,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


_VASWANI = "hyper-parameters of Vaswani et al. (2017)"
# Vaswani et al. apply dropout to sub-layer outputs and embeddings, not attention weights.
registry.register(
    "transformer_tiny", Transformer, "seq2seq",
    "Transformer 2+2 layers, d 64, 2 heads, ffn 256: trains on the demo corpus in minutes",
    num_layers=2, d_model=64, num_heads=2, intermediate_dim=256, dropout=0.1,
    attention_dropout=0.0, max_length=128,
)
_SMALL = dict(
    num_layers=3, d_model=256, num_heads=4, intermediate_dim=1024, dropout=0.1,
    attention_dropout=0.0, max_length=256,
)
registry.register(
    "transformer_small", Transformer, "seq2seq",
    "Transformer 3+3 layers, d 256, 4 heads, ffn 1024 (Multi30k size)", **_SMALL,
)
registry.register(
    "transformer", Transformer, "seq2seq", "= transformer_small", **_SMALL,
)
registry.register(
    "transformer_base", Transformer, "seq2seq",
    f"Transformer base, 6+6 layers, d 512, 8 heads, ffn 2048, dropout 0.1 ({_VASWANI})",
    num_layers=6, d_model=512, num_heads=8, intermediate_dim=2048, dropout=0.1,
    attention_dropout=0.0, max_length=512,
)
registry.register(
    "transformer_big", Transformer, "seq2seq",
    f"Transformer big, 6+6 layers, d 1024, 16 heads, ffn 4096, dropout 0.3 ({_VASWANI})",
    num_layers=6, d_model=1024, num_heads=16, intermediate_dim=4096, dropout=0.3,
    attention_dropout=0.0, max_length=512,
)
