"""LSTM encoder-decoder with Bahdanau or Luong attention (Luong et al. 2015), cached decode.

The encoder is a stack of (bi)LSTMs; the decoder a stack of LSTMs whose top output `h_t`
attends over the encoder outputs to give the attentional state
`h̃_t = tanh(W_c [c_t; h_t])`, projected to the target vocabulary. The attention score is
Bahdanau's additive score or one of Luong's `dot` / `general` / `concat` scores (the
"global attention" family of Luong et al. and OpenNMT). With input feeding, `h̃_{t-1}` is
concatenated to the decoder input at step `t`, so teacher-forced training runs one
recurrence over time (`keras.ops.scan`); without it the decoder LSTMs run fused over the
whole target and attention is applied to all positions at once (faster).

Example:

>>> import numpy as np
>>> import zoo.models
>>> model = zoo.models.LSTMAttentionSeq2Seq(source_vocab_size=50, target_vocab_size=60,
...                                         embedding_dim=8, units=16)
>>> source = np.array([[5, 9, 12, 0]])
>>> target_in = np.array([[2, 7, 8]])
>>> tuple(model((source, target_in)).shape)
(1, 3, 60)
>>> logits, alignment = model((source, target_in), return_attention_scores=True)
>>> tuple(alignment.shape)
(1, 3, 4)
"""

import keras
from keras import ops

from zoo import layers
from zoo.errors import UsageError
from zoo.layers import masking
from zoo.layers.masking import masked_softmax
from zoo.models import registry
from zoo.models.transformer import check_batch, check_decode_length, padding_mask

ATTENTIONS = ("bahdanau", "luong_dot", "luong_general", "luong_concat")


@keras.saving.register_keras_serializable(package="zoo")
class LSTMAttentionSeq2Seq(keras.Model):
    """(Bi)LSTM encoder, LSTM decoder with attention, optional Luong input feeding.

    Args:
        source_vocab_size: source vocabulary size (id 0 is padding).
        target_vocab_size: target vocabulary size.
        embedding_dim: size of the source and target embeddings.
        units: LSTM size of the encoder outputs (split between the two directions when
            `bidirectional_encoder`) and of the decoder; also the attention size.
        num_layers: LSTM layers in the encoder and in the decoder; decoder layer `i`
            starts from the final state of encoder layer `i`.
        bidirectional_encoder: whether encoder layers read both directions.
        attention: `"bahdanau"` (additive), `"luong_dot"`, `"luong_general"` or
            `"luong_concat"`.
        input_feeding: feed the previous attentional state to the decoder (Luong et al.).
        dropout: dropout rate on embeddings, between LSTM layers and before the output
            projection.
        max_length: the longest source or target sequence the model accepts.

    Example:

    >>> model = LSTMAttentionSeq2Seq(50, 60, embedding_dim=8, units=16,
    ...                              attention="luong_general")  # doctest: +SKIP
    """

    def __init__(self, source_vocab_size, target_vocab_size, embedding_dim=256, units=256,
                 num_layers=1, bidirectional_encoder=True, attention="bahdanau",
                 input_feeding=True, dropout=0.0, max_length=128, seed=None, **kwargs):
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise UsageError(f"Unknown attention {attention!r}; valid: "
                             f"{', '.join(ATTENTIONS)}.")
        if bidirectional_encoder and units % 2:
            raise UsageError(f"units={units} must be even with bidirectional_encoder=True "
                             "(each direction gets units // 2).")
        if num_layers < 1:
            raise UsageError(f"num_layers must be >= 1, got {num_layers}.")
        self.source_vocab_size = int(source_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.num_layers = int(num_layers)
        self.bidirectional_encoder = bool(bidirectional_encoder)
        self.attention_type = attention
        self.input_feeding = bool(input_feeding)
        self.dropout = float(dropout)
        self.max_length = int(max_length)
        self.seed = seed

        self.source_embedding = keras.layers.Embedding(
            self.source_vocab_size, self.embedding_dim, mask_zero=True, name="source_embedding")
        # The decoder is causal and the loss ignores padding, so its inputs need no mask.
        self.target_embedding = keras.layers.Embedding(
            self.target_vocab_size, self.embedding_dim, name="target_embedding")
        self.source_embedding.build((None, None))
        self.target_embedding.build((None, None))
        self.encoder_layers = []
        for i in range(self.num_layers):
            if self.bidirectional_encoder:
                # An explicit backward layer: Bidirectional's own copy of the forward layer
                # (made by re-deserializing it) intermittently kept go_backwards=False
                # inside keras.saving.load_model.
                directions = [
                    keras.layers.LSTM(self.units // 2, return_sequences=True,
                                      return_state=True, go_backwards=backwards,
                                      name=f"encoder_lstm_{i}_{name}")
                    for backwards, name in ((False, "forward"), (True, "backward"))]
                layer = keras.layers.Bidirectional(
                    directions[0], backward_layer=directions[1], name=f"encoder_lstm_{i}")
            else:
                layer = keras.layers.LSTM(self.units, return_sequences=True,
                                          return_state=True, name=f"encoder_lstm_{i}")
            layer.build((None, None, self.embedding_dim if i == 0 else self.units))
            self.encoder_layers.append(layer)
        self.decoder_layers = []
        for i in range(self.num_layers):
            layer = keras.layers.LSTM(self.units, return_sequences=True, return_state=True,
                                      name=f"decoder_lstm_{i}")
            first_input = self.embedding_dim + (self.units if self.input_feeding else 0)
            layer.build((None, None, first_input if i == 0 else self.units))
            self.decoder_layers.append(layer)
        self.attention = self._make_attention()
        self.attention.build(query_shape=(None, None, self.units),
                             value_shape=(None, None, self.units))
        self.attentional = keras.layers.Dense(self.units, activation="tanh", use_bias=False,
                                              name="attentional")
        self.attentional.build((None, None, 2 * self.units))
        self.output_projection = keras.layers.Dense(self.target_vocab_size,
                                                    name="output_projection")
        self.output_projection.build((None, None, self.units))
        self.dropout_layer = layers.Dropout(self.dropout, seed=seed)
        # Its own seed: with the dropout layer's, their masks would coincide entry by entry.
        self._seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1)
        self.build()

    def build(self, input_shape=None):
        # Every sub-layer is built in __init__ (all shapes follow from the hyper-parameters).
        self.built = True

    def _make_attention(self):
        """The attention layer (unbuilt); a subclass may override it (e.g. coverage)."""
        if self.attention_type == "bahdanau":
            return layers.AdditiveAttention(self.units, name="attention")
        score = self.attention_type.split("_")[1]
        return layers.DotProductAttention(
            score=score, units=self.units if score == "concat" else None, name="attention")

    # --- Encoder -------------------------------------------------------------------

    def _encode(self, source_ids, training):
        source_ids = ops.cast(source_ids, "int32")
        check_batch(source_ids, "source_ids", self.max_length, self.source_vocab_size)
        source_mask = padding_mask(source_ids)
        x = self.dropout_layer(self.source_embedding(source_ids), training=training)
        states = []
        for i, layer in enumerate(self.encoder_layers):
            if i > 0:
                x = self.dropout_layer(x, training=training)
            outputs = layer(x, mask=source_mask, training=training)
            if self.bidirectional_encoder:
                x, h_forward, c_forward, h_backward, c_backward = outputs
                states.append([ops.concatenate([h_forward, h_backward], axis=-1),
                               ops.concatenate([c_forward, c_backward], axis=-1)])
            else:
                x, h, c = outputs
                states.append([h, c])
        # Padded positions hold the last real output under Keras masking: zero them.
        x = x * ops.cast(source_mask[..., None], x.dtype)
        return x, source_mask, states

    # --- Attention over precomputed keys (one decoder step) --------------------------

    def _attention_keys(self, memory):
        """The key-side part of the score, computed once per source (a decode cache)."""
        # zoo.layers' single-head attention recomputes its key projection on every call.
        attention = self.attention
        if self.attention_type == "bahdanau":
            keys = ops.matmul(memory, ops.cast(attention.key_kernel, memory.dtype))
            if attention.bias is not None:
                keys = keys + ops.cast(attention.bias, memory.dtype)
            return keys
        if self.attention_type == "luong_general":
            # qᵀ W k = q · (k Wᵀ)
            return ops.matmul(memory, ops.transpose(ops.cast(attention.kernel, memory.dtype)))
        if self.attention_type == "luong_concat":
            return ops.matmul(memory, ops.cast(attention.kernel[self.units:], memory.dtype))
        return memory

    def _attend(self, query, memory, keys, source_mask, coverage=None):
        """Context `(batch, units)` and float32 weights `(batch, Ts)` for query `(b, units)`.

        `coverage` `(batch, Ts)` (Bahdanau attention built with `use_coverage` only) adds
        the coverage term `w_c c` inside the additive score.
        """
        attention = self.attention
        if self.attention_type in ("bahdanau", "luong_concat"):
            if self.attention_type == "bahdanau":
                query_kernel = attention.query_kernel
            else:
                query_kernel = attention.kernel[: self.units]
            projected = ops.matmul(query, ops.cast(query_kernel, query.dtype))
            hidden = projected[:, None, :] + keys
            if coverage is not None:
                hidden = hidden + ops.cast(
                    coverage[..., None] * ops.cast(attention.coverage_kernel, coverage.dtype),
                    hidden.dtype)
            hidden = ops.tanh(hidden)
            scores = ops.matmul(hidden, ops.cast(attention.score_vector, hidden.dtype))
        else:
            scores = ops.einsum("bd,btd->bt", query, keys)
        weights = masked_softmax(scores, source_mask)
        context = ops.einsum("bt,btd->bd", ops.cast(weights, memory.dtype), memory)
        return context, weights

    # --- Decoder -------------------------------------------------------------------

    def _decoder_cells(self, embedded, h, c, feed, dropout_masks=None):
        """The stacked LSTM cells of one step: `(top output, new h, new c)`; h, c are
        `(b, layers, u)`."""
        x = ops.concatenate([embedded, feed], axis=-1) if self.input_feeding else embedded
        new_h, new_c = [], []
        for i, layer in enumerate(self.decoder_layers):
            if i > 0 and dropout_masks is not None:
                x = x * dropout_masks[i - 1]
            x, (h_i, c_i) = layer.cell(x, [h[:, i], c[:, i]])
            new_h.append(h_i)
            new_c.append(c_i)
        return x, ops.stack(new_h, axis=1), ops.stack(new_c, axis=1)

    def _decoder_step(self, embedded, h, c, feed, memory, keys, source_mask,
                      dropout_masks=None):
        """One decoder step on `(batch, embedding_dim)` inputs; h, c are `(b, layers, u)`."""
        x, h, c = self._decoder_cells(embedded, h, c, feed, dropout_masks)
        context, weights = self._attend(x, memory, keys, source_mask)
        attentional = self.attentional(ops.concatenate([context, x], axis=-1))
        return attentional, h, c, weights

    def _inter_layer_dropout_masks(self, batch_size, length, dtype, training):
        """Dropout masks `(T, layers - 1, b, u)` drawn before the recurrence (no RNG in it)."""
        if not training or self.dropout == 0 or self.num_layers == 1:
            return None
        keep, scale = masking.random_keep_mask(
            (length, self.num_layers - 1, batch_size, self.units), self.dropout,
            self._seed_generator)
        return ops.cast(keep, dtype) * ops.cast(scale, dtype)

    def _decode_teacher_forced(self, target_ids, memory, source_mask, states, training):
        embedded = self.dropout_layer(self.target_embedding(target_ids), training=training)
        if not self.input_feeding:
            x = embedded
            for i, layer in enumerate(self.decoder_layers):
                if i > 0:
                    x = self.dropout_layer(x, training=training)
                x, _, _ = layer(x, initial_state=states[i], training=training)
            context, weights = self.attention(
                x, memory, attention_mask=source_mask[:, None, :],
                return_attention_scores=True)
            attentional = self.attentional(ops.concatenate([context, x], axis=-1))
            return attentional, weights
        keys = self._attention_keys(memory)
        h = ops.stack([s[0] for s in states], axis=1)
        c = ops.stack([s[1] for s in states], axis=1)
        batch_size, length = ops.shape(target_ids)[0], ops.shape(target_ids)[1]
        feed = ops.zeros((batch_size, self.units), memory.dtype)
        masks = self._inter_layer_dropout_masks(batch_size, length, embedded.dtype, training)
        inputs = {"embedded": ops.transpose(embedded, (1, 0, 2))}
        if masks is not None:
            inputs["masks"] = masks

        def step(carry, inputs_t):
            h, c, feed, _ = carry
            attentional, h, c, weights = self._decoder_step(
                inputs_t["embedded"], h, c, feed, memory, keys, source_mask,
                inputs_t.get("masks"))
            carry = (h, c, attentional, weights)
            # Keras' TensorFlow `scan` needs the per-step outputs shaped like the carry.
            return carry, carry

        weights = ops.zeros((batch_size, ops.shape(memory)[1]), "float32")
        _, (_, _, attentional, weights) = ops.scan(step, (h, c, feed, weights), inputs)
        return ops.transpose(attentional, (1, 0, 2)), ops.transpose(weights, (1, 0, 2))

    def _logits(self, attentional, training):
        attentional = self.dropout_layer(attentional, training=training)
        return ops.cast(self.output_projection(attentional), "float32")

    def call(self, inputs, training=None, return_attention_scores=False):
        """Teacher-forced logits `(batch, T, target_vocab_size)`, float32.

        Args:
            inputs: `(source_ids (batch, Ts), target_in_ids (batch, T))`, 0-padded.
            training: whether dropout is active.
            return_attention_scores: also return the alignment `(batch, T, Ts)`.
        """
        source_ids, target_ids = inputs
        target_ids = ops.cast(target_ids, "int32")
        check_batch(target_ids, "target_in_ids", self.max_length, self.target_vocab_size)
        memory, source_mask, states = self._encode(source_ids, training)
        attentional, weights = self._decode_teacher_forced(
            target_ids, memory, source_mask, states, training)
        logits = self._logits(attentional, training)
        if return_attention_scores:
            return logits, weights
        return logits

    # --- The decoding interface of zoo.decoding ----------------------------------------

    def encode(self, source_ids, training=False):
        """Encodes `source_ids` `(batch, Ts)` into a dict of batch-leading tensors."""
        memory, source_mask, states = self._encode(source_ids, training)
        return {
            "memory": memory,
            "keys": self._attention_keys(memory),
            "source_mask": source_mask,
            "initial_h": ops.stack([s[0] for s in states], axis=1),
            "initial_c": ops.stack([s[1] for s in states], axis=1),
        }

    def init_decode_state(self, state, max_length):
        """Adds the recurrent state and the input feed; LSTMs need no length-sized cache."""
        check_decode_length(max_length, self.max_length)
        memory = state["memory"]
        return {**state, "h": state["initial_h"], "c": state["initial_c"],
                "feed": ops.zeros((ops.shape(memory)[0], self.units), memory.dtype)}

    def decode_step(self, token_ids, step, state):
        """One decoding step (`step` is unused: the recurrent state carries the position).

        Args:
            token_ids: `(batch,)` int, the previous token (BOS at step 0).
            step: int scalar tensor, the position of `token_ids` in the target.
            state: the dict from `init_decode_state` (or a previous step).

        Returns:
            `(logits, state, alignment)`: float32 logits `(batch, target_vocab_size)`,
            the new state, and the attention weights over the source `(batch, Ts)`.
        """
        embedded = self.target_embedding(ops.cast(token_ids, "int32"))
        attentional, h, c, weights = self._decoder_step(
            embedded, state["h"], state["c"], state["feed"], state["memory"], state["keys"],
            state["source_mask"])
        logits = ops.cast(self.output_projection(attentional), "float32")
        return logits, {**state, "h": h, "c": c, "feed": attentional}, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            source_vocab_size=self.source_vocab_size,
            target_vocab_size=self.target_vocab_size,
            embedding_dim=self.embedding_dim,
            units=self.units,
            num_layers=self.num_layers,
            bidirectional_encoder=self.bidirectional_encoder,
            attention=self.attention_type,
            input_feeding=self.input_feeding,
            dropout=self.dropout,
            max_length=self.max_length,
            seed=self.seed,
        )
        return config


_PRESET = dict(embedding_dim=256, units=256, num_layers=1, bidirectional_encoder=True,
               input_feeding=True, dropout=0.2, max_length=128)
registry.register(
    "lstm_bahdanau", LSTMAttentionSeq2Seq, "seq2seq",
    "biLSTM encoder, LSTM decoder, Bahdanau (additive) attention, input feeding, 256 units",
    attention="bahdanau", **_PRESET)
registry.register(
    "lstm_luong", LSTMAttentionSeq2Seq, "seq2seq",
    "biLSTM encoder, LSTM decoder, Luong 'general' attention, input feeding, 256 units",
    attention="luong_general", **_PRESET)
registry.register(
    "lstm_luong_dot", LSTMAttentionSeq2Seq, "seq2seq",
    "biLSTM encoder, LSTM decoder, Luong 'dot' attention, input feeding, 256 units",
    attention="luong_dot", **_PRESET)
registry.register(
    "lstm_luong_concat", LSTMAttentionSeq2Seq, "seq2seq",
    "biLSTM encoder, LSTM decoder, Luong 'concat' attention, input feeding, 256 units",
    attention="luong_concat", **_PRESET)
