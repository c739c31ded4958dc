"""Extractive question answering: start/end logits over the context tokens.

Both models take `(question_ids, context_ids)` (token id 0 is padding) and return
`(start_logits, end_logits)`, each float32 `(batch, Tc)`, with padding positions at a
large negative value; `best_span` turns them into an answer span.

Example:

>>> import numpy as np
>>> import zoo.models
>>> model = zoo.models.BiDAFSpanQA(vocab_size=100, embedding_dim=16, units=8)
>>> question, context = np.array([[7, 8, 0]]), np.array([[9, 10, 11, 12, 0]])
>>> start_logits, end_logits = model((question, context))
>>> start, end = zoo.models.best_span(start_logits, end_logits, max_answer_length=3)
>>> bool(start[0] <= end[0] < 4)
True
"""

import keras
from keras import ops

from zoo import layers
from zoo.models import registry
from zoo.models.classifiers import BidirectionalLSTM
from zoo.layers.masking import masked_softmax
from zoo.models.transformer import check_batch, padding_mask

_LARGE_NEGATIVE = -1e9


def _masked_logits(logits, mask):
    return ops.where(mask, ops.cast(logits, "float32"), _LARGE_NEGATIVE)


def best_span(start_logits, end_logits, max_answer_length, first_position=0):
    """The best span `first_position <= start <= end < start + max_answer_length`.

    A span's score is `start_logits[start] + end_logits[end]`. Readers that keep a "no
    answer" slot at position 0 (the `[CLS]` convention of `zoo.data.qa_windows`) pass
    `first_position=1`, so that the slot is never part of a span; they compare its score
    with the best span's themselves. When no position is allowed (a context shorter than
    `first_position + 1`), the result is `(0, 0)`.

    Args:
        start_logits: `(batch, Tc)` float.
        end_logits: `(batch, Tc)` float.
        max_answer_length: int, longest answer in tokens.
        first_position: int, the first position a span may start at.

    Returns:
        `(start, end)`, each int32 `(batch,)`, token positions in the context.

    Example:

    >>> import numpy as np
    >>> from zoo.models import best_span
    >>> start, end = best_span(np.array([[0.0, 5.0, 1.0]]), np.array([[1.0, 0.0, 4.0]]), 2)
    >>> int(start[0]), int(end[0])
    (1, 2)
    >>> start, end = best_span(np.array([[9.0, 1.0, 2.0]]), np.array([[9.0, 3.0, 0.0]]), 2,
    ...                        first_position=1)  # position 0 is the null slot
    >>> int(start[0]), int(end[0])
    (1, 1)
    """
    max_answer_length = int(max_answer_length)
    start_logits = ops.cast(start_logits, "float32")
    end_logits = ops.cast(end_logits, "float32")
    length = ops.shape(start_logits)[1]
    positions = ops.arange(length, dtype="int32")
    widths = ops.arange(max_answer_length, dtype="int32")
    # Scores of (start, width) pairs: O(Tc * max_answer_length), not O(Tc^2), memory.
    ends = positions[:, None] + widths[None, :]
    allowed = ops.logical_and(ends < length, positions[:, None] >= first_position)
    end_scores = ops.take(end_logits, ops.minimum(ends, length - 1), axis=1)
    pair_scores = start_logits[:, :, None] + end_scores
    pair_scores = ops.where(allowed[None], pair_scores, -float("inf"))
    best = ops.cast(ops.argmax(ops.reshape(pair_scores, (ops.shape(pair_scores)[0], -1)),
                               axis=-1), "int32")
    start = best // max_answer_length
    return start, start + best % max_answer_length


@keras.saving.register_keras_serializable(package="zoo")
class TransformerSpanQA(keras.Model):
    """A Transformer encoder over `[question; context]` with a start/end head.

    Question and context are embedded separately, each with positions from 0 (so padding
    of one never shifts the other) plus a learned segment embedding, then concatenated and
    encoded jointly; a dense layer gives start and end logits at each context token.
    With `return_attention_scores=True` the call returns
    `(start_logits, end_logits, {"encoder": [(batch, heads, Tq+Tc, Tq+Tc), ...]})`.

    Args:
        vocab_size: int, shared question/context vocabulary.
        num_layers: int.
        d_model: int.
        num_heads: int.
        intermediate_dim: int.
        dropout: float.
        attention_dropout: float; defaults to `dropout`.
        activation: feed-forward activation.
        max_length: int, longest question and longest context.
        norm_first: bool, pre-layer-norm blocks plus a final norm.
        layer_norm_epsilon: float.
        **kwargs: `keras.Model` arguments.
    """

    def __init__(
        self,
        vocab_size,
        num_layers=2,
        d_model=128,
        num_heads=4,
        intermediate_dim=512,
        dropout=0.1,
        attention_dropout=None,
        activation="relu",
        max_length=512,
        norm_first=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = dropout if attention_dropout is None else attention_dropout
        self.activation = activation
        self.max_length = max_length
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        policy = self.dtype_policy
        self.embedding = layers.TokenAndPositionEmbedding(
            vocab_size, max_length, d_model, mask_zero=False, dropout=dropout,
            dtype=policy, name="embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            2, d_model, dtype=policy, name="segment_embedding"
        )
        self.encoder = layers.TransformerEncoder(
            num_layers, num_heads, intermediate_dim, key_dim=d_model // num_heads,
            dropout=dropout, attention_dropout=self.attention_dropout, activation=activation,
            norm_first=norm_first, layer_norm_epsilon=layer_norm_epsilon, dtype=policy,
            name="encoder",
        )
        self.span_head = keras.layers.Dense(2, dtype=policy, name="span_head")

    def build(self, inputs_shape):
        question_shape, context_shape = inputs_shape
        self.embedding.build(context_shape)
        self.segment_embedding.build((None,))
        total = None if None in (question_shape[1], context_shape[1]) else (
            question_shape[1] + context_shape[1]
        )
        hidden = (context_shape[0], total, self.d_model)
        self.encoder.build(hidden)
        self.span_head.build(hidden)
        self.built = True

    def call(self, inputs, training=None, return_attention_scores=False):
        question_ids, context_ids = (ops.cast(x, "int32") for x in inputs)
        check_batch(question_ids, "question_ids", self.max_length, self.vocab_size)
        check_batch(context_ids, "context_ids", self.max_length, self.vocab_size)
        segments = self.segment_embedding(ops.arange(2, dtype="int32"))
        question = self.embedding(question_ids, training=training) + segments[0]
        context = self.embedding(context_ids, training=training) + segments[1]
        x = ops.concatenate([question, context], axis=1)
        context_mask = padding_mask(context_ids)
        mask = ops.concatenate([padding_mask(question_ids), context_mask], axis=1)
        x = self.encoder(x, attention_mask=mask[:, None, :], training=training,
                         return_attention_scores=return_attention_scores)
        if return_attention_scores:
            x, scores = x
        question_length = ops.shape(question_ids)[1]
        logits = self.span_head(x[:, question_length:, :])
        start = _masked_logits(logits[..., 0], context_mask)
        end = _masked_logits(logits[..., 1], context_mask)
        if return_attention_scores:
            return start, end, {"encoder": scores}
        return start, end

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, num_layers=self.num_layers, d_model=self.d_model,
            num_heads=self.num_heads, intermediate_dim=self.intermediate_dim,
            dropout=self.dropout, attention_dropout=self.attention_dropout,
            activation=self.activation, max_length=self.max_length,
            norm_first=self.norm_first, layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class BiDAFSpanQA(keras.Model):
    """BiDAF-style reader (Seo et al., 2017): BiLSTM encoders and bidirectional attention.

    Question and context go through a shared embedding and BiLSTM; a trilinear similarity
    `S[t, j] = w · [c_t; q_j; c_t * q_j]` gives context-to-question attention (each context
    token reads the question) and query-to-context attention (the context tokens most
    similar to some question word). `G = [c; c2q; c * c2q; c * q2c]` goes through a
    modelling BiLSTM `M`; start logits come from `[G; M]`, end logits from `[G; M2]`
    with `M2` another BiLSTM over `M`. With `return_attention_scores=True` the call returns
    `(start, end, {"context_to_question": (batch, Tc, Tq), "question_to_context":
    (batch, Tc)})`.

    Args:
        vocab_size: int.
        embedding_dim: int.
        units: int, LSTM size of each direction.
        dropout: float, dropout on embeddings and between the layers.
        max_length: int, longest question and longest context.
        **kwargs: `keras.Model` arguments.
    """

    def __init__(self, vocab_size, embedding_dim=128, units=64, dropout=0.1,
                 max_length=512, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.dropout = dropout
        self.max_length = max_length
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, dtype=policy, name="embedding"
        )
        self.contextual = BidirectionalLSTM(units, dtype=policy, name="contextual_bilstm")
        self.modelling = BidirectionalLSTM(units, dtype=policy, name="modelling_bilstm")
        self.end_modelling = BidirectionalLSTM(units, dtype=policy, name="end_bilstm")
        self.dropout_layer = layers.Dropout(dropout, dtype=policy, name="dropout")
        self.start_head = keras.layers.Dense(1, dtype=policy, name="start_head")
        self.end_head = keras.layers.Dense(1, dtype=policy, name="end_head")

    def build(self, inputs_shape):
        question_shape, context_shape = inputs_shape
        d = 2 * self.units
        self.embedding.build(context_shape)
        self.contextual.build((*context_shape, self.embedding_dim))
        # The trilinear similarity weights [w_c; w_q; w_cq], written by hand because
        # zoo.layers' scores are bilinear/additive and hide the logits q2c needs.
        self.similarity_kernel = self.add_weight(
            shape=(3, d), initializer="glorot_uniform", name="similarity_kernel"
        )
        self.modelling.build((*context_shape, 4 * d))
        self.end_modelling.build((*context_shape, d))
        self.start_head.build((*context_shape, 5 * d))
        self.end_head.build((*context_shape, 5 * d))
        self.built = True

    def _encode(self, token_ids, mask, training):
        x = self.dropout_layer(self.embedding(token_ids), training=training)
        return self.dropout_layer(self.contextual(x, padding_mask=mask), training=training)

    def call(self, inputs, training=None, return_attention_scores=False):
        question_ids, context_ids = (ops.cast(x, "int32") for x in inputs)
        check_batch(question_ids, "question_ids", self.max_length, self.vocab_size)
        check_batch(context_ids, "context_ids", self.max_length, self.vocab_size)
        question_mask, context_mask = padding_mask(question_ids), padding_mask(context_ids)
        q = self._encode(question_ids, question_mask, training)  # (b, Tq, d)
        c = self._encode(context_ids, context_mask, training)  # (b, Tc, d)

        w = ops.cast(self.similarity_kernel, c.dtype)
        similarity = (
            ops.matmul(c, w[0][:, None])  # (b, Tc, 1)
            + ops.matmul(q, w[1][:, None])[:, None, :, 0]  # (b, 1, Tq)
            + ops.einsum("btd,bjd->btj", c * w[2], q)
        )
        pair_mask = ops.logical_and(context_mask[:, :, None], question_mask[:, None, :])
        c2q_weights = masked_softmax(similarity, pair_mask)  # (b, Tc, Tq)
        c2q = ops.matmul(ops.cast(c2q_weights, q.dtype), q)
        best_match = ops.max(
            ops.where(pair_mask, ops.cast(similarity, "float32"), _LARGE_NEGATIVE), axis=-1
        )
        q2c_weights = masked_softmax(best_match, context_mask)  # (b, Tc)
        q2c = ops.einsum("bt,btd->bd", ops.cast(q2c_weights, c.dtype), c)[:, None, :]
        g = ops.concatenate([c, c2q, c * c2q, c * q2c], axis=-1)

        m = self.dropout_layer(self.modelling(g, padding_mask=context_mask), training=training)
        m2 = self.dropout_layer(
            self.end_modelling(m, padding_mask=context_mask), training=training
        )
        start = self.start_head(ops.concatenate([g, m], axis=-1))[..., 0]
        end = self.end_head(ops.concatenate([g, m2], axis=-1))[..., 0]
        start, end = _masked_logits(start, context_mask), _masked_logits(end, context_mask)
        if return_attention_scores:
            return start, end, {
                "context_to_question": c2q_weights, "question_to_context": q2c_weights,
            }
        return start, end

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, embedding_dim=self.embedding_dim,
            units=self.units, dropout=self.dropout, max_length=self.max_length,
        )
        return config


registry.register(
    "transformer_span_qa", TransformerSpanQA, "span_qa",
    "Transformer encoder over question and context, 2 layers, d 128, 4 heads",
    num_layers=2, d_model=128, num_heads=4, intermediate_dim=512, dropout=0.1,
    attention_dropout=0.0, max_length=512,
)
registry.register(
    "bidaf_span_qa", BiDAFSpanQA, "span_qa",
    "BiDAF-style reader: BiLSTM encoders with context-to-question attention",
    embedding_dim=128, units=64, dropout=0.1, max_length=512,
)
