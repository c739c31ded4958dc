"""Pointer-generator networks (See et al. 2017, "Get To The Point") for both seq2seq families.

At every target step the model mixes generating from the vocabulary with copying a source
token: `P(w) = p_gen · P_vocab(w) + (1 − p_gen) · Σ_{i: x_i = w} a_i`, where `a` is the
cross-attention over the source and `p_gen = σ(w · [s_t; e_t; h*_t] + b)` is computed from
the decoder state `s_t`, the decoder input embedding `e_t` and the context vector
`h*_t = Σ_i a_i h_i` (the attention-weighted encoder outputs). Source and target share
one vocabulary (`source_vocab_size == target_vocab_size`), so copying needs no extended
vocabulary: a source piece that the target side never uses can still be copied (it gets
copy mass like any other id; nothing is special-cased), and source padding (id 0) gets
no copy mass.

The models return float32 **log-probabilities** `(batch, T, vocab)` where the plain models
return logits. `log_softmax` of log-probabilities is the identity, so the project's masked
sparse cross-entropy (`from_logits` semantics), greedy/beam search and sampling (which
`log_softmax` / arg-max what `decode_step` returns) and the exported graph work unchanged.
The mixture is computed stably in float32 (also under mixed precision) as
`logaddexp(log p_gen + log_softmax(logits), log(1 − p_gen) + log P_copy)`, with
`log P_copy` a large negative number (not `-inf`) where the copy mass is 0, so every
token keeps a finite log-probability.

Coverage (See et al. §2.3, `coverage_loss_weight` λ > 0): the LSTM model feeds the
coverage `c_t = Σ_{t'<t} a_t'` into its Bahdanau score (`vᵀ tanh(W_h h + W_s s + w_c c_t +
b)`) and both models add `λ · Σ_t Σ_i min(a_t,i, c_t,i)`, averaged over the real
(non-padding) target steps of the batch, with `self.add_loss` in `call`. Keras adds
`model.losses` to the compiled loss in `fit`, `evaluate` and `train_on_batch` under the
TensorFlow and JAX backends, so recipes need no change; under a `tf.distribute` strategy
each replica adds the mean over its own steps and Keras divides it by the replica count
(the mean of the replicas' means). The Transformer has no coverage feature (its
`coverage_loss_weight`, default 0, adds only the loss, on the copy attention).

The copy scatter runs through `keras.ops.scatter` (TensorFlow `ScatterNd`, JAX
`.at[].add`; duplicates add up on every backend): `B·T·Ts` updates, against the
`B·T·Ts·V` multiply-adds and `B·Ts·V` one-hot of the one-hot-matmul alternative (forward
and backward on a 2-core AMD EPYC: 2.4 vs 13.4 ms at B 32, T 12, Ts 40, V 4k; 98 ms vs
1.5 s at B 16, T 100, Ts 400, V 32k).

Example:

>>> import numpy as np
>>> import zoo.models
>>> model = zoo.models.build("lstm_pointer_generator", source_vocab_size=30,
...                          target_vocab_size=30, embedding_dim=8, units=8)
>>> source = np.array([[5, 9, 12, 9, 0]])
>>> target_in = np.array([[2, 9, 7]])
>>> log_probs, attention, p_gen = model((source, target_in), return_copy_details=True)
>>> tuple(log_probs.shape), tuple(attention.shape), tuple(p_gen.shape)
((1, 3, 30), (1, 3, 5), (1, 3))
>>> np.allclose(np.exp(np.asarray(log_probs)).sum(-1), 1.0, atol=1e-5)
True
>>> len(model.losses)  # the coverage loss
1
"""

import keras
from keras import ops

from zoo import layers
from zoo.errors import UsageError
from zoo.models import registry
from zoo.models.lstm_attention import _PRESET as _LSTM_PRESET
from zoo.models.lstm_attention import LSTMAttentionSeq2Seq
from zoo.models.transformer import _SMALL as _TRANSFORMER_SMALL
from zoo.models.transformer import Transformer, check_batch, padding_mask

COPY_ATTENTIONS = ("mean", "head0")
# log P_copy where the copy mass is 0: finite, so sums and gradients stay NaN-free.
_LOG_ZERO = -1e9


# keras-hub has no pointer-generator: the copy distribution and the mixture are written here.
def copy_distribution(attention, source_ids, vocab_size):
    """Scatters attention over source positions onto their token ids (summing repeats).

    Args:
        attention: float `(batch, Ts)` or `(batch, T, Ts)` weights over the source.
        source_ids: int `(batch, Ts)`; id 0 (padding) gets no mass.
        vocab_size: the shared vocabulary size (a Python int).

    Returns:
        float32 `(batch, vocab_size)` or `(batch, T, vocab_size)`.

    Example:

    >>> import numpy as np
    >>> from zoo.models.pointer_generator import copy_distribution
    >>> p = copy_distribution(np.array([[0.5, 0.3, 0.2]], "float32"), np.array([[4, 1, 4]]), 6)
    >>> np.asarray(p, "float64").round(2).tolist()
    [[0.0, 0.3, 0.0, 0.0, 0.7, 0.0]]
    """
    attention = ops.cast(attention, "float32")
    source_ids = ops.cast(source_ids, "int32")
    has_time = len(attention.shape) == 3
    if has_time:
        source_ids = ops.broadcast_to(source_ids[:, None, :], ops.shape(attention))
    outer_shape = ops.shape(attention)[:-1]
    source_length = ops.shape(attention)[-1]
    weights = ops.reshape(attention, (-1, source_length))
    ids = ops.reshape(source_ids, (-1, source_length))
    weights = weights * ops.cast(ids != 0, "float32")
    rows = ops.shape(weights)[0]
    row_ids = ops.broadcast_to(ops.arange(rows, dtype="int32")[:, None], ops.shape(ids))
    indices = ops.stack([row_ids, ids], axis=-1)
    copied = ops.scatter(indices, weights, (rows, vocab_size))
    return ops.reshape(copied, tuple(outer_shape) + (vocab_size,))


def mix_log_probs(vocab_logits, p_gen_logits, copy_probs, has_source=None):
    """`log(p_gen · softmax(vocab_logits) + (1 − p_gen) · copy_probs)`, float32, stable.

    Args:
        vocab_logits: `(..., V)` logits of the generator.
        p_gen_logits: `(...)` pre-sigmoid p_gen.
        copy_probs: `(..., V)` copy distribution (from `copy_distribution`).
        has_source: optional bool `(batch,)`; rows without any source token generate only
            (p_gen = 1), so the output stays normalised.

    Returns:
        `(log_probs (..., V), p_gen (...))`, both float32.

    Example:

    >>> import numpy as np
    >>> from zoo.models.pointer_generator import mix_log_probs
    >>> log_probs, p_gen = mix_log_probs(np.zeros((1, 4), "float32"), np.zeros((1,)),
    ...                                  np.array([[0.0, 0.0, 1.0, 0.0]], "float32"))
    >>> np.exp(np.asarray(log_probs, "float64")).round(3).tolist()  # 0.5 · 1/4 + 0.5 · copy
    [[0.125, 0.125, 0.625, 0.125]]
    """
    log_vocab = ops.log_softmax(ops.cast(vocab_logits, "float32"), axis=-1)
    z = ops.cast(p_gen_logits, "float32")
    log_p_gen, log_p_copy = ops.log_sigmoid(z), ops.log_sigmoid(-z)
    if has_source is not None:
        has_source = ops.reshape(has_source, (-1,) + (1,) * (len(z.shape) - 1))
        log_p_gen = ops.where(has_source, log_p_gen, 0.0)
        log_p_copy = ops.where(has_source, log_p_copy, _LOG_ZERO)
    copy_probs = ops.cast(copy_probs, "float32")
    positive = copy_probs > 0
    # The inner `where` keeps log's gradient finite where the outer one discards it.
    log_copy = ops.where(positive, ops.log(ops.where(positive, copy_probs, 1.0)), _LOG_ZERO)
    log_probs = ops.logaddexp(log_p_gen[..., None] + log_vocab, log_p_copy[..., None] + log_copy)
    return log_probs, ops.exp(log_p_gen)


def coverage_step_losses(attention):
    """`Σ_i min(a_t,i, c_t,i)` per step, `c_t = Σ_{t'<t} a_t'`: float32 `(batch, T)`.

    Args:
        attention: `(batch, T, Ts)` attention weights of consecutive target steps.

    Example:

    >>> import numpy as np
    >>> from zoo.models.pointer_generator import coverage_step_losses
    >>> attention = np.array([[[1.0, 0.0], [0.5, 0.5]]], "float32")
    >>> np.asarray(coverage_step_losses(attention)).tolist()  # min(0.5, 1) + min(0.5, 0)
    [[0.0, 0.5]]
    """
    attention = ops.cast(attention, "float32")
    coverage = ops.cumsum(attention, axis=1) - attention
    return ops.sum(ops.minimum(attention, coverage), axis=-1)


def _check_vocabularies(source_vocab_size, target_vocab_size):
    if int(source_vocab_size) != int(target_vocab_size):
        raise UsageError(
            "A pointer-generator copies source tokens into the output, so source and target "
            f"share one vocabulary; got source_vocab_size={source_vocab_size} != "
            f"target_vocab_size={target_vocab_size}. Train a joint tokenizer and pass its "
            "size as both."
        )


def _check_coverage_weight(weight):
    if not float(weight) >= 0:
        raise UsageError(f"coverage_loss_weight must be >= 0 (0: off), got {weight}.")
    return float(weight)


def _mean_over_real_steps(step_losses, target_ids):
    real = ops.cast(target_ids != 0, "float32")
    return ops.sum(step_losses * real) / ops.maximum(ops.sum(real), 1.0)


@keras.saving.register_keras_serializable(package="zoo")
class LSTMPointerGenerator(LSTMAttentionSeq2Seq):
    """`LSTMAttentionSeq2Seq` with a copy mechanism and coverage (See et al. 2017).

    `model((source_ids, target_in_ids))` returns float32 log-probabilities
    `(batch, T, vocab)`; with `return_attention_scores=True`, `(log_probs, alignment)` as
    the plain model; with `return_copy_details=True`, `(log_probs, attention, p_gen)`:
    the copy attention `(batch, T, Ts)` and p_gen `(batch, T)` (float32, to plot).
    `decode_step` returns the mixed log-distribution and carries the coverage
    (`state["coverage"]`, `(batch, Ts)` float32) and the source ids for the scatter.

    The decoder state in p_gen is the top decoder LSTM's output; coverage needs
    `attention="bahdanau"` (the other scores take `coverage_loss_weight=0`).

    Args:
        source_vocab_size: the shared vocabulary size (id 0 is padding).
        target_vocab_size: must equal `source_vocab_size`.
        embedding_dim, units, num_layers, bidirectional_encoder, attention, input_feeding,
            dropout, max_length, seed: as in `LSTMAttentionSeq2Seq`.
        coverage_loss_weight: λ of the coverage loss (1.0 in See et al.); 0 turns
            coverage off entirely (no coverage feature, no loss, no coverage state).

    Example:

    >>> from zoo.models import LSTMPointerGenerator
    >>> model = LSTMPointerGenerator(40, 40, embedding_dim=8, units=8,
    ...                              coverage_loss_weight=0.0)
    >>> "coverage" in model.init_decode_state(model.encode([[5, 6, 0]]), max_length=4)
    False
    """

    def __init__(self, source_vocab_size, target_vocab_size, embedding_dim=256, units=256,
                 num_layers=1, bidirectional_encoder=True, attention="bahdanau",
                 input_feeding=True, dropout=0.0, max_length=128, seed=None,
                 coverage_loss_weight=1.0, **kwargs):
        _check_vocabularies(source_vocab_size, target_vocab_size)
        # Read by `_make_attention` and `build`, which the parent's __init__ calls.
        self.coverage_loss_weight = _check_coverage_weight(coverage_loss_weight)
        self.use_coverage = self.coverage_loss_weight > 0
        if self.use_coverage and attention != "bahdanau":
            raise UsageError(
                f"Coverage is implemented for attention='bahdanau' only (got {attention!r}); "
                "pass coverage_loss_weight=0 or attention='bahdanau'.")
        super().__init__(source_vocab_size, target_vocab_size, embedding_dim=embedding_dim,
                         units=units, num_layers=num_layers,
                         bidirectional_encoder=bidirectional_encoder, attention=attention,
                         input_feeding=input_feeding, dropout=dropout, max_length=max_length,
                         seed=seed, **kwargs)

    def _make_attention(self):
        if self.use_coverage:
            return layers.AdditiveAttention(self.units, use_coverage=True, name="attention")
        return super()._make_attention()

    def build(self, input_shape=None):
        # The parent's __init__ builds the model, so the p_gen layer is created here.
        if not hasattr(self, "p_gen_layer"):
            self.p_gen_layer = keras.layers.Dense(1, name="p_gen")
            self.p_gen_layer.build((None, 2 * self.units + self.embedding_dim))
        super().build(input_shape)

    def _pg_step(self, embedded, h, c, feed, coverage, memory, keys, source_mask,
                 dropout_masks=None):
        """`_decoder_step` with coverage, also returning the context and the top output."""
        x, h, c = self._decoder_cells(embedded, h, c, feed, dropout_masks)
        context, weights = self._attend(x, memory, keys, source_mask, coverage)
        attentional = self.attentional(ops.concatenate([context, x], axis=-1))
        return attentional, h, c, weights, context, x

    def _pg_teacher_forced(self, target_ids, memory, source_mask, states, training):
        """Teacher-forced `(attentional, weights, context, top, embedded)` over `(b, T)`."""
        embedded = self.dropout_layer(self.target_embedding(target_ids), training=training)
        batch_size, length = ops.shape(target_ids)[0], ops.shape(target_ids)[1]
        source_length = ops.shape(memory)[1]

        def time_major(t):
            return ops.transpose(t, (1, 0) + tuple(range(2, len(t.shape))))

        if not self.input_feeding:
            x = embedded
            for i, layer in enumerate(self.decoder_layers):
                if i > 0:
                    x = self.dropout_layer(x, training=training)
                x, _, _ = layer(x, initial_state=states[i], training=training)
            if not self.use_coverage:
                context, weights = self.attention(
                    x, memory, attention_mask=source_mask[:, None, :],
                    return_attention_scores=True)
            else:
                # Coverage makes attention recurrent; the LSTMs still run fused.
                keys = self._attention_keys(memory)

                def attend(carry, x_t):
                    coverage = carry[0]
                    context, weights = self._attend(x_t, memory, keys, source_mask, coverage)
                    carry = (coverage + weights, weights, context)
                    return carry, carry  # Keras' TensorFlow scan: outputs shaped like carry

                init = (ops.zeros((batch_size, source_length), "float32"),
                        ops.zeros((batch_size, source_length), "float32"),
                        ops.zeros((batch_size, self.units), memory.dtype))
                _, (_, weights, context) = ops.scan(attend, init, time_major(x))
                weights, context = time_major(weights), time_major(context)
            attentional = self.attentional(ops.concatenate([context, x], axis=-1))
            return attentional, weights, context, x, embedded

        keys = self._attention_keys(memory)
        h = ops.stack([s[0] for s in states], axis=1)
        c = ops.stack([s[1] for s in states], axis=1)
        masks = self._inter_layer_dropout_masks(batch_size, length, embedded.dtype, training)
        inputs = {"embedded": time_major(embedded)}
        if masks is not None:
            inputs["masks"] = masks

        def step(carry, inputs_t):
            coverage = carry["coverage"] if self.use_coverage else None
            attentional, h, c, weights, context, top = self._pg_step(
                inputs_t["embedded"], carry["h"], carry["c"], carry["feed"], coverage,
                memory, keys, source_mask, inputs_t.get("masks"))
            carry = {"h": h, "c": c, "feed": attentional, "weights": weights,
                     "context": context, "top": top}
            if self.use_coverage:
                carry["coverage"] = coverage + weights
            return carry, carry  # Keras' TensorFlow scan: outputs shaped like the carry

        hidden = ops.zeros((batch_size, self.units), memory.dtype)
        init = {"h": h, "c": c, "feed": hidden, "context": hidden, "top": hidden,
                "weights": ops.zeros((batch_size, source_length), "float32")}
        if self.use_coverage:
            init["coverage"] = ops.zeros((batch_size, source_length), "float32")
        _, outputs = ops.scan(step, init, inputs)
        return (time_major(outputs["feed"]), time_major(outputs["weights"]),
                time_major(outputs["context"]), time_major(outputs["top"]), embedded)

    def _mix(self, logits, top, embedded, context, weights, source_ids):
        z = self.p_gen_layer(ops.concatenate([top, embedded, context], axis=-1))[..., 0]
        copy = copy_distribution(weights, source_ids, self.target_vocab_size)
        return mix_log_probs(logits, z, copy, ops.any(source_ids != 0, axis=-1))

    def call(self, inputs, training=None, return_attention_scores=False,
             return_copy_details=False):
        """Teacher-forced log-probabilities `(batch, T, vocab)`, float32.

        Args:
            inputs: `(source_ids (batch, Ts), target_in_ids (batch, T))`, 0-padded.
            training: whether dropout is active.
            return_attention_scores: also return the alignment `(batch, T, Ts)`.
            return_copy_details: return `(log_probs, attention (b, T, Ts), p_gen (b, T))`
                (takes precedence over `return_attention_scores`).
        """
        source_ids, target_ids = inputs
        source_ids = ops.cast(source_ids, "int32")
        target_ids = ops.cast(target_ids, "int32")
        check_batch(target_ids, "target_in_ids", self.max_length, self.target_vocab_size)
        memory, source_mask, states = self._encode(source_ids, training)
        attentional, weights, context, top, embedded = self._pg_teacher_forced(
            target_ids, memory, source_mask, states, training)
        logits = self._logits(attentional, training)
        log_probs, p_gen = self._mix(logits, top, embedded, context, weights, source_ids)
        if self.use_coverage:
            self.add_loss(self.coverage_loss_weight * _mean_over_real_steps(
                coverage_step_losses(weights), target_ids))
        if return_copy_details:
            return log_probs, weights, p_gen
        if return_attention_scores:
            return log_probs, weights
        return log_probs

    def encode(self, source_ids, training=False):
        """The parent's decoding state plus `"source_ids"` (int32), for the copy scatter."""
        return {**super().encode(source_ids, training),
                "source_ids": ops.cast(source_ids, "int32")}

    def init_decode_state(self, state, max_length):
        """Adds the recurrent state, the input feed and (with coverage) a zero coverage."""
        state = super().init_decode_state(state, max_length)
        if self.use_coverage:
            state["coverage"] = ops.zeros(ops.shape(state["source_mask"]), "float32")
        return state

    def decode_step(self, token_ids, step, state):
        """One decoding step (`step` is unused: the recurrent state carries the position).

        Args:
            token_ids: `(batch,)` int, the previous token (BOS at step 0).
            step: int scalar tensor, the position of `token_ids` in the target.
            state: the dict from `init_decode_state` (or a previous step).

        Returns:
            `(log_probs, state, alignment)`: float32 log-probabilities `(batch, vocab)`,
            the new state (coverage advanced), and the attention over the source
            `(batch, Ts)`.
        """
        embedded = self.target_embedding(ops.cast(token_ids, "int32"))
        coverage = state.get("coverage")
        attentional, h, c, weights, context, top = self._pg_step(
            embedded, state["h"], state["c"], state["feed"], coverage, state["memory"],
            state["keys"], state["source_mask"])
        logits = ops.cast(self.output_projection(attentional), "float32")
        log_probs, _ = self._mix(logits, top, embedded, context, weights, state["source_ids"])
        new_state = {**state, "h": h, "c": c, "feed": attentional}
        if coverage is not None:
            new_state["coverage"] = coverage + weights
        return log_probs, new_state, weights

    def get_config(self):
        config = super().get_config()
        config["coverage_loss_weight"] = self.coverage_loss_weight
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TransformerPointerGenerator(Transformer):
    """`Transformer` with a copy mechanism over its last decoder layer's cross-attention.

    `model((source_ids, target_in_ids))` returns float32 log-probabilities
    `(batch, T, vocab)`; `return_attention_scores=True` gives `(log_probs, scores)` as the
    plain model; `return_copy_details=True` gives `(log_probs, attention, p_gen)`: the copy
    attention `(batch, T, Ts)` and p_gen `(batch, T)`, float32. The decoder state in p_gen
    is the last decoder layer's output (after the final norm), the input embedding the
    target token-and-position embedding, the context `Σ_i a_i h_i` over the encoder
    outputs `h` (kept in the decoding state as `"memory"`, with `"source_ids"`).
    `decode_step` returns the mixed log-distribution and, as the plain model, the last
    layer's cross-attention averaged over heads as its alignment.

    Args:
        source_vocab_size: the shared vocabulary size (id 0 is padding).
        target_vocab_size: must equal `source_vocab_size`.
        num_layers, num_encoder_layers, num_decoder_layers, d_model, num_heads,
            intermediate_dim, dropout, attention_dropout, activation, max_length,
            norm_first, share_embeddings, tie_output, position, layer_norm_epsilon: as in
            `Transformer`.
        copy_attention: the copy distribution: `"mean"` of the last layer's heads (the
            default: it is also the alignment `zoo.decoding` returns) or `"head0"`, its
            first head alone (free to specialise, as OpenNMT-py's copy attention); which
            copies better is left to the benchmark.
        coverage_loss_weight: λ of a coverage loss on the copy attention (0: off, the
            default; there is no coverage feature in the Transformer).
        **kwargs: `keras.Model` arguments (`name`, `dtype`).

    Example:

    >>> import numpy as np
    >>> from zoo.models import TransformerPointerGenerator
    >>> model = TransformerPointerGenerator(40, 40, num_layers=1, d_model=16, num_heads=2,
    ...                                     intermediate_dim=32, copy_attention="head0")
    >>> log_probs, attention, p_gen = model((np.array([[5, 6, 0]]), np.array([[2, 6]])),
    ...                                     return_copy_details=True)
    >>> tuple(log_probs.shape), tuple(attention.shape), tuple(p_gen.shape)
    ((1, 2, 40), (1, 2, 3), (1, 2))
    """

    def __init__(self, source_vocab_size, target_vocab_size, num_layers=6,
                 num_encoder_layers=None, num_decoder_layers=None, d_model=512, num_heads=8,
                 intermediate_dim=2048, dropout=0.1, attention_dropout=None,
                 activation="relu", max_length=256, norm_first=False, share_embeddings=False,
                 tie_output=True, position="sinusoidal", layer_norm_epsilon=1e-5,
                 copy_attention="mean", coverage_loss_weight=0.0, **kwargs):
        _check_vocabularies(source_vocab_size, target_vocab_size)
        if copy_attention not in COPY_ATTENTIONS:
            raise UsageError(f"Unknown copy_attention {copy_attention!r}; valid: "
                             f"{', '.join(COPY_ATTENTIONS)}.")
        super().__init__(
            source_vocab_size, target_vocab_size, num_layers=num_layers,
            num_encoder_layers=num_encoder_layers, num_decoder_layers=num_decoder_layers,
            d_model=d_model, num_heads=num_heads, intermediate_dim=intermediate_dim,
            dropout=dropout, attention_dropout=attention_dropout, activation=activation,
            max_length=max_length, norm_first=norm_first, share_embeddings=share_embeddings,
            tie_output=tie_output, position=position, layer_norm_epsilon=layer_norm_epsilon,
            **kwargs)
        self.copy_attention = copy_attention
        self.coverage_loss_weight = _check_coverage_weight(coverage_loss_weight)
        self.p_gen_layer = keras.layers.Dense(1, dtype=self.dtype_policy, name="p_gen")

    def build(self, inputs_shape):
        super().build(inputs_shape)
        self.p_gen_layer.build((None, None, 3 * self.d_model))

    def _copy_weights(self, cross):
        """float32 copy attention from the last layer's cross-attention `(b, h, Tq, Ts)`."""
        cross = ops.cast(cross, "float32")
        return ops.mean(cross, axis=1) if self.copy_attention == "mean" else cross[:, 0]

    def _mix(self, hidden, embedded, memory, attention, source_ids):
        context = ops.einsum("bts,bsd->btd", ops.cast(attention, memory.dtype), memory)
        z = self.p_gen_layer(ops.concatenate([hidden, embedded, context], axis=-1))[..., 0]
        copy = copy_distribution(attention, source_ids, self.target_vocab_size)
        return mix_log_probs(self._logits(hidden), z, copy, ops.any(source_ids != 0, axis=-1))

    def call(self, inputs, training=None, return_attention_scores=False,
             return_copy_details=False):
        """Teacher-forced log-probabilities `(batch, T, vocab)`, float32.

        Args:
            inputs: `(source_ids (batch, Ts), target_in_ids (batch, T))`, 0-padded.
            training: whether dropout is active.
            return_attention_scores: also return the per-layer scores dict of `Transformer`.
            return_copy_details: return `(log_probs, attention (b, T, Ts), p_gen (b, T))`
                (takes precedence over `return_attention_scores`).
        """
        source_ids, target_ids = inputs
        source_ids = ops.cast(source_ids, "int32")
        encoded, source_mask, encoder_scores = self._encode(
            source_ids, training, return_attention_scores)
        target_ids = ops.cast(target_ids, "int32")
        check_batch(target_ids, "target_in_ids", self.max_length, self.target_vocab_size)
        target_mask = padding_mask(target_ids)
        embedded = self.target_embedding(target_ids, training=training)
        x = embedded
        scores = {"encoder": encoder_scores, "decoder_self": [], "decoder_cross": []}
        last = self.num_decoder_layers - 1
        for i, block in enumerate(self.decoder_blocks):
            x, block_scores = block(
                x, encoded,
                decoder_attention_mask=target_mask[:, None, :],
                encoder_attention_mask=source_mask[:, None, :],
                use_causal_mask=True, training=training, return_attention_scores=True,
            )
            if return_attention_scores:
                scores["decoder_self"].append(block_scores["self"])
                scores["decoder_cross"].append(block_scores["cross"])
            if i == last:
                attention = self._copy_weights(block_scores["cross"])
        if self.norm_first:
            x = self.decoder_norm(x)
        log_probs, p_gen = self._mix(x, embedded, encoded, attention, source_ids)
        if self.coverage_loss_weight > 0:
            self.add_loss(self.coverage_loss_weight * _mean_over_real_steps(
                coverage_step_losses(attention), target_ids))
        if return_copy_details:
            return log_probs, attention, p_gen
        if return_attention_scores:
            return log_probs, scores
        return log_probs

    def encode(self, source_ids, training=False):
        """The decoding state of `Transformer.encode` plus `"memory"` and `"source_ids"`."""
        source_ids = ops.cast(source_ids, "int32")
        encoded, source_mask, _ = self._encode(source_ids, training)
        caches = tuple(
            block.compute_cross_attention_cache(encoded) for block in self.decoder_blocks
        )
        return {"source_mask": source_mask, "cross_attention_cache": caches,
                "memory": encoded, "source_ids": source_ids}

    def decode_step(self, token_ids, step, state):
        """One decoding step.

        Args:
            token_ids: `(batch,)` int, the previous token (BOS at step 0).
            step: int scalar tensor, the position of `token_ids` in the target.
            state: the dict from `init_decode_state` (or a previous step).

        Returns:
            `(log_probs, state, alignment)`: float32 log-probabilities `(batch, vocab)`,
            the updated state, and the last decoder layer's cross-attention weights
            averaged over heads, `(batch, Ts)`.
        """
        token_ids = ops.cast(token_ids, "int32")[:, None]
        embedded = self.target_embedding(token_ids, start_index=step, training=False)
        x = embedded
        encoder_attention_mask = state["source_mask"][:, None, :]
        self_caches = []
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
                cross = outputs[3]["cross"]
        if self.norm_first:
            x = self.decoder_norm(x)
        log_probs, _ = self._mix(x, embedded, state["memory"], self._copy_weights(cross),
                                 state["source_ids"])
        alignment = ops.mean(ops.cast(cross, "float32"), axis=1)[:, 0, :]
        new_state = {**state, "self_attention_cache": tuple(self_caches)}
        return log_probs[:, 0, :], new_state, alignment

    def get_config(self):
        config = super().get_config()
        config.update(copy_attention=self.copy_attention,
                      coverage_loss_weight=self.coverage_loss_weight)
        return config


registry.register(
    "lstm_pointer_generator", LSTMPointerGenerator, "seq2seq",
    "lstm_bahdanau + copy (pointer-generator) and coverage, λ 1 (See et al. 2017), shared vocab",
    attention="bahdanau", coverage_loss_weight=1.0, **_LSTM_PRESET)
_POINTER = dict(share_embeddings=True, copy_attention="mean", coverage_loss_weight=0.0)
registry.register(
    "transformer_pointer_generator", TransformerPointerGenerator, "seq2seq",
    "transformer_small + copy over the last layer's mean cross-attention, shared embeddings",
    **_TRANSFORMER_SMALL, **_POINTER)
registry.register(
    "transformer_pointer_generator_tiny", TransformerPointerGenerator, "seq2seq",
    "transformer_tiny + copy over the last layer's mean cross-attention, shared embeddings",
    num_layers=2, d_model=64, num_heads=2, intermediate_dim=256, dropout=0.1,
    attention_dropout=0.0, max_length=128, **_POINTER)
