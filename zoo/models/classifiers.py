"""Text classifiers: a BiLSTM or n-gram convolutions with attention pooling, and a Transformer
encoder.

Example:

>>> import numpy as np
>>> import zoo.models
>>> model = zoo.models.LSTMAttentionClassifier(vocab_size=100, num_classes=3,
...                                            embedding_dim=16, units=16)
>>> tuple(model(np.array([[7, 8, 9, 0]])).shape)
(1, 3)
"""

import keras
from keras import ops

from zoo import layers
from zoo.errors import UsageError
from zoo.models import registry
from zoo.models.transformer import check_batch, padding_mask

CLS_ID = 4  # = zoo.text.CLS_ID; zoo.text imports TensorFlow, zoo.models must not.


@keras.saving.register_keras_serializable(package="zoo")
class FusedBidirectionalLSTMCell(keras.layers.Layer):
    """One step of a forward and a backward LSTM at once, for `keras.layers.RNN`.

    Its step input is `[z_forward, z_backward, m_forward, m_backward]`: the gate
    pre-activations `x W + b` of each direction, already computed for the whole sequence
    in one matmul, and each direction's 0/1 padding flag. A masked step keeps the state
    and outputs zeros. The two recurrent matmuls run as one batched matmul.

    Args:
        units: int, hidden size of each direction.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [2 * units, 2 * units]
        self.output_size = 2 * units

    def build(self, inputs_shape):
        self.recurrent_kernel = self.add_weight(
            shape=(2, self.units, 4 * self.units), initializer="orthogonal",
            name="recurrent_kernel",
        )

    def call(self, inputs, states):
        u = self.units
        batch_shape = ops.shape(inputs)[:1]
        z = ops.reshape(inputs[:, : 8 * u], (-1, 2, 4 * u))
        step_mask = inputs[:, 8 * u:, None]
        h = ops.reshape(states[0], (-1, 2, u))
        c = ops.reshape(states[1], (-1, 2, u))
        z = z + ops.einsum("bdu,dug->bdg", h, self.recurrent_kernel)
        i, f, g, o = ops.split(z, 4, axis=-1)
        new_c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        new_h = ops.sigmoid(o) * ops.tanh(new_c)
        c = c + step_mask * (new_c - c)
        h = h + step_mask * (new_h - h)
        flat = (batch_shape[0], 2 * u)
        return ops.reshape(new_h * step_mask, flat), [ops.reshape(h, flat),
                                                      ops.reshape(c, flat)]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="zoo")
class BidirectionalLSTM(keras.layers.Layer):
    """A bidirectional LSTM over padded sequences, both directions in one loop.

    Same maths as `keras.layers.Bidirectional(keras.layers.LSTM(units,
    return_sequences=True))` with a padding mask (outputs are zero at padding, and the
    backward direction starts at each sequence's last real token), but the input
    projection of both directions is one matmul over the whole sequence and one
    `keras.layers.RNN` loop steps both directions: keras' LSTM recomputes `x W` inside
    every step and runs one loop per direction, which is what makes it slow on CPU.

    Args:
        units: int, hidden size of each direction; outputs have `2 * units` features.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np
    >>> from zoo.models.classifiers import BidirectionalLSTM
    >>> layer = BidirectionalLSTM(8)
    >>> x = np.ones((2, 5, 4), "float32")
    >>> tuple(layer(x, padding_mask=np.array([[1, 1, 1, 0, 0], [1] * 5], bool)).shape)
    (2, 5, 16)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.cell = FusedBidirectionalLSTMCell(units, dtype=self.dtype_policy, name="cell")
        self.rnn = keras.layers.RNN(
            self.cell, return_sequences=True, dtype=self.dtype_policy, name="rnn"
        )

    def build(self, inputs_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(inputs_shape[-1], 8 * u), initializer="glorot_uniform", name="kernel"
        )
        # Forget gates start at 1 (Jozefowicz et al., 2015), as in keras' LSTM.
        ones = [0.0] * u + [1.0] * u + [0.0] * (2 * u)
        self.bias = self.add_weight(
            shape=(8 * u,), initializer=keras.initializers.Constant(ones * 2), name="bias"
        )
        self.rnn.build((inputs_shape[0], inputs_shape[1], 8 * u + 2))

    def call(self, inputs, padding_mask=None):
        """Args: inputs `(batch, T, d)`; padding_mask `(batch, T)`, True at tokens."""
        u = self.units
        z = ops.matmul(inputs, self.kernel) + self.bias
        if padding_mask is None:
            step_mask = ops.ones_like(z[..., :1])
        else:
            step_mask = ops.cast(padding_mask, z.dtype)[..., None]
        sequence = ops.concatenate(
            [z[..., : 4 * u], ops.flip(z[..., 4 * u:], axis=1), step_mask,
             ops.flip(step_mask, axis=1)],
            axis=-1,
        )
        outputs = self.rnn(sequence)
        return ops.concatenate(
            [outputs[..., :u], ops.flip(outputs[..., u:], axis=1)], axis=-1
        )

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:-1], 2 * self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _float32_logits(dense, x):
    return ops.cast(dense(x), "float32")


POOLINGS = ("attention", "max", "attention_max")


def _check_pooling(pooling):
    if pooling not in POOLINGS:
        raise UsageError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}.")


def _load_table(table, vectors, hparam, scale=1.0):
    """Assigns pretrained `vectors` (e.g. GloVe rows) to the embedding `table` variable."""
    if tuple(vectors.shape) != tuple(table.shape):
        raise UsageError(
            f"The pretrained embeddings hold {vectors.shape[0]} vectors of "
            f"{vectors.shape[1]} dimensions; the model embeds {table.shape[0]} tokens in "
            f"{table.shape[1]}: build it with {hparam}={vectors.shape[1]} "
            f"(--hparams={hparam}={vectors.shape[1]} in the recipes).")
    table.assign(ops.cast(ops.convert_to_tensor(vectors, "float32") * scale, table.dtype))


def _set_keras_embeddings(model, vectors):
    """Loads pretrained `(vocab_size, embedding_dim)` vectors (e.g. from
    `zoo.text.word_vectors.embedding_table`) into the built model's token embeddings;
    training fine-tunes them."""
    _load_table(model.embedding.embeddings, vectors, "embedding_dim")


def _pooled_logits(model, x, mask, training, return_attention_scores):
    """The BiLSTM's and the CNN's head: pool `x` over time, dropout, float32 logits."""
    pooled, weights = _pool_over_time(x, mask, model.pooling,
                                      getattr(model, "attention_pooling", None), training)
    logits = _float32_logits(
        model.classifier, model.dropout_layer(pooled, training=training)
    )
    if return_attention_scores:
        return logits, {"pooling": weights}
    return logits


def _pool_over_time(x, mask, pooling, attention_pooling, training):
    """`(pooled (batch, features), token weights (batch, T))` of `x` `(batch, T, d)`.

    The weights are the attention weights, or with `"max"` pooling the share of the
    features whose maximum each token holds.
    """
    if pooling == "attention":
        return attention_pooling(x, padding_mask=mask, training=training,
                                 return_attention_scores=True)
    masked = ops.where(mask[..., None], x, ops.cast(-1e4, x.dtype))
    pooled = ops.max(masked, axis=1)
    winners = ops.cast(masked == pooled[:, None, :], "float32")
    weights = ops.mean(winners, axis=-1) * ops.cast(mask, "float32")
    if pooling == "max":
        return pooled, weights
    attended, attention = attention_pooling(x, padding_mask=mask, training=training,
                                            return_attention_scores=True)
    return ops.concatenate([attended, pooled], axis=-1), attention


@keras.saving.register_keras_serializable(package="zoo")
class LSTMAttentionClassifier(keras.Model):
    """Embedding, stacked BiLSTM and additive attention pooling, then a softmax layer.

    `model(token_ids)` returns float32 logits `(batch, num_classes)`; with
    `return_attention_scores=True`, `(logits, {"pooling": weights (batch, T)})`: the
    attention weights, or with max pooling the share of the features whose maximum each
    token holds. Token id 0 is padding.

    Args:
        vocab_size: int.
        num_classes: int.
        embedding_dim: int, token embedding size.
        units: int, LSTM size of each direction.
        num_layers: int, stacked BiLSTM layers.
        attention_units: int, hidden size of the attention pooling; defaults to `units`.
        dropout: float, dropout on embeddings, between layers and before the classifier.
        max_length: int, longest accepted sequence.
        pooling: `"attention"` (additive attention over the BiLSTM states), `"max"`
            (max over time of each feature, as in Kim 2014's CNNs) or `"attention_max"`
            (both, concatenated).
        **kwargs: `keras.Model` arguments.
    """

    def __init__(
        self,
        vocab_size,
        num_classes,
        embedding_dim=128,
        units=128,
        num_layers=1,
        attention_units=None,
        dropout=0.1,
        max_length=512,
        pooling="attention",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_pooling(pooling)
        self.pooling = pooling
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.attention_units = attention_units or units
        self.dropout = dropout
        self.max_length = max_length
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, dtype=policy, name="embedding"
        )
        self.lstms = [
            BidirectionalLSTM(units, dtype=policy, name=f"bilstm_{i}")
            for i in range(num_layers)
        ]
        self.dropout_layer = layers.Dropout(dropout, dtype=policy, name="dropout")
        if pooling != "max":
            self.attention_pooling = layers.AttentionPooling(
                self.attention_units, dtype=policy, name="attention_pooling"
            )
        self.classifier = keras.layers.Dense(num_classes, dtype=policy, name="classifier")

    def build(self, inputs_shape):
        self.embedding.build(inputs_shape)
        shape = (*inputs_shape, self.embedding_dim)
        for lstm in self.lstms:
            lstm.build(shape)
            shape = (*inputs_shape, 2 * self.units)
        if self.pooling != "max":
            self.attention_pooling.build(shape)
        pooled = 2 * self.units * (2 if self.pooling == "attention_max" else 1)
        self.classifier.build((inputs_shape[0], pooled))
        self.built = True

    def call(self, token_ids, training=None, return_attention_scores=False):
        token_ids = ops.cast(token_ids, "int32")
        check_batch(token_ids, "token_ids", self.max_length, self.vocab_size)
        mask = padding_mask(token_ids)
        x = self.dropout_layer(self.embedding(token_ids), training=training)
        for lstm in self.lstms:
            x = self.dropout_layer(lstm(x, padding_mask=mask), training=training)
        return _pooled_logits(self, x, mask, training, return_attention_scores)

    set_token_embeddings = _set_keras_embeddings

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, num_classes=self.num_classes,
            embedding_dim=self.embedding_dim, units=self.units,
            num_layers=self.num_layers, attention_units=self.attention_units,
            dropout=self.dropout, max_length=self.max_length, pooling=self.pooling,
        )
        return config

@keras.saving.register_keras_serializable(package="zoo")
class ConvAttentionClassifier(keras.Model):
    """Embedding, parallel n-gram convolutions (Kim, 2014), pooled over time, then softmax.

    Each kernel size reads every window of that many tokens with `filters` ReLU feature
    detectors; their outputs, concatenated, are pooled over time by attention, by max
    (Kim's CNN) or by both. Padding embeddings are zeroed before the convolutions, so
    the logits of a text do not depend on how much padding follows it. `model(token_ids)`
    returns float32 logits `(batch, num_classes)`; with `return_attention_scores=True`,
    `(logits, {"pooling": weights (batch, T)})` as in `LSTMAttentionClassifier`. Token id
    0 is padding. On short texts it is several times faster than a BiLSTM or a
    Transformer: a few matmuls per layer, no loop over time (bench/README.md, "TREC-6").

    Args:
        vocab_size: int.
        num_classes: int.
        embedding_dim: int, token embedding size.
        filters: int, feature detectors per kernel size.
        kernel_sizes: tuple of ints, the n-gram widths.
        attention_units: int, hidden size of the attention pooling; defaults to
            `filters`.
        dropout: float, dropout on the pooled features before the classifier.
        max_length: int, longest accepted sequence.
        pooling: `"attention"`, `"max"` or `"attention_max"` (both, concatenated).
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> from zoo.models import ConvAttentionClassifier
    >>> model = ConvAttentionClassifier(vocab_size=100, num_classes=3, embedding_dim=16,
    ...                                 filters=8)
    >>> logits, scores = model(np.array([[7, 8, 9, 0]]), return_attention_scores=True)
    >>> tuple(logits.shape), tuple(scores["pooling"].shape)
    ((1, 3), (1, 4))
    """

    def __init__(
        self,
        vocab_size,
        num_classes,
        embedding_dim=128,
        filters=100,
        kernel_sizes=(3, 4, 5),
        attention_units=None,
        dropout=0.5,
        max_length=512,
        pooling="attention_max",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_pooling(pooling)
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.filters = filters
        self.kernel_sizes = tuple(kernel_sizes)
        self.attention_units = attention_units or filters
        self.dropout = dropout
        self.max_length = max_length
        self.pooling = pooling
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, dtype=policy, name="embedding"
        )
        self.convolutions = [
            keras.layers.Conv1D(filters, size, padding="same", activation="relu",
                                dtype=policy, name=f"conv_{size}")
            for size in self.kernel_sizes
        ]
        if pooling != "max":
            self.attention_pooling = layers.AttentionPooling(
                self.attention_units, dtype=policy, name="attention_pooling"
            )
        self.dropout_layer = layers.Dropout(dropout, dtype=policy, name="dropout")
        self.classifier = keras.layers.Dense(num_classes, dtype=policy, name="classifier")

    def build(self, inputs_shape):
        self.embedding.build(inputs_shape)
        for convolution in self.convolutions:
            convolution.build((*inputs_shape, self.embedding_dim))
        features = self.filters * len(self.kernel_sizes)
        if self.pooling != "max":
            self.attention_pooling.build((*inputs_shape, features))
        pooled = features * (2 if self.pooling == "attention_max" else 1)
        self.classifier.build((inputs_shape[0], pooled))
        self.built = True

    def call(self, token_ids, training=None, return_attention_scores=False):
        token_ids = ops.cast(token_ids, "int32")
        check_batch(token_ids, "token_ids", self.max_length, self.vocab_size)
        mask = padding_mask(token_ids)
        x = self.embedding(token_ids) * ops.cast(mask, self.compute_dtype)[..., None]
        x = ops.concatenate([convolution(x) for convolution in self.convolutions], axis=-1)
        return _pooled_logits(self, x, mask, training, return_attention_scores)

    set_token_embeddings = _set_keras_embeddings

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, num_classes=self.num_classes,
            embedding_dim=self.embedding_dim, filters=self.filters,
            kernel_sizes=list(self.kernel_sizes), attention_units=self.attention_units,
            dropout=self.dropout, max_length=self.max_length, pooling=self.pooling,
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TransformerClassifier(keras.Model):
    """A Transformer encoder over the tokens, pooled into class logits.

    `model(token_ids)` returns float32 logits `(batch, num_classes)`. With
    `return_attention_scores=True` it returns `(logits, scores)`, `scores["encoder"]` a
    list with one `(batch, num_heads, T', T')` tensor per layer (`T' = T + 1` with the
    class token, which sits at position 0), plus `scores["pooling"]` `(batch, T)` for
    attention pooling. Token id 0 is padding.

    Args:
        vocab_size: int.
        num_classes: int.
        num_layers: int, encoder blocks.
        d_model: int, hidden size.
        num_heads: int.
        intermediate_dim: int, feed-forward hidden size.
        dropout: float.
        attention_dropout: float, dropout on attention weights; defaults to `dropout`.
        activation: feed-forward activation.
        max_length: int, longest accepted sequence (without the class token).
        norm_first: bool, pre-layer-norm blocks plus a final norm.
        pooling: `"cls"` (a `[CLS]` token is prepended and its output classified),
            `"mean"` (masked mean over tokens) or `"attention"` (additive attention
            pooling).
        position: `"sinusoidal"` or `"learned"`.
        layer_norm_epsilon: float.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> from zoo.models import TransformerClassifier
    >>> model = TransformerClassifier(vocab_size=100, num_classes=2, num_layers=1,
    ...                               d_model=16, num_heads=2, intermediate_dim=32)
    >>> tuple(model(np.array([[7, 8, 9, 0]])).shape)
    (1, 2)
    """

    def __init__(
        self,
        vocab_size,
        num_classes,
        num_layers=2,
        d_model=128,
        num_heads=4,
        intermediate_dim=512,
        dropout=0.1,
        attention_dropout=None,
        activation="relu",
        max_length=512,
        norm_first=False,
        pooling="cls",
        position="sinusoidal",
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if pooling not in ("cls", "mean", "attention"):
            raise UsageError(
                f"pooling must be 'cls', 'mean' or 'attention', got {pooling!r}."
            )
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = dropout if attention_dropout is None else attention_dropout
        self.activation = activation
        self.max_length = max_length
        self.norm_first = norm_first
        self.pooling = pooling
        self.position = position
        self.layer_norm_epsilon = layer_norm_epsilon
        policy = self.dtype_policy
        self.embedding = layers.TokenAndPositionEmbedding(
            vocab_size, max_length + (pooling == "cls"), d_model, position=position,
            mask_zero=False, dropout=dropout, dtype=policy, name="embedding",
        )
        self.encoder = layers.TransformerEncoder(
            num_layers, num_heads, intermediate_dim, key_dim=d_model // num_heads,
            dropout=dropout, attention_dropout=self.attention_dropout, activation=activation,
            norm_first=norm_first, layer_norm_epsilon=layer_norm_epsilon, dtype=policy,
            name="encoder",
        )
        if pooling == "attention":
            self.attention_pooling = layers.AttentionPooling(
                d_model, dtype=policy, name="attention_pooling"
            )
        self.dropout_layer = layers.Dropout(dropout, dtype=policy, name="dropout")
        self.classifier = keras.layers.Dense(num_classes, dtype=policy, name="classifier")

    def build(self, inputs_shape):
        length = inputs_shape[1]
        if self.pooling == "cls" and length is not None:
            length += 1
        ids_shape = (inputs_shape[0], length)
        hidden = (*ids_shape, self.d_model)
        self.embedding.build(ids_shape)
        self.encoder.build(hidden)
        if self.pooling == "attention":
            self.attention_pooling.build(hidden)
        self.classifier.build((inputs_shape[0], self.d_model))
        self.built = True

    def call(self, token_ids, training=None, return_attention_scores=False):
        token_ids = ops.cast(token_ids, "int32")
        check_batch(token_ids, "token_ids", self.max_length, self.vocab_size)
        if self.pooling == "cls":
            cls = ops.full_like(token_ids[:, :1], CLS_ID)
            token_ids = ops.concatenate([cls, token_ids], axis=1)
        mask = padding_mask(token_ids)
        x = self.encoder(self.embedding(token_ids, training=training),
                         attention_mask=mask[:, None, :], training=training,
                         return_attention_scores=return_attention_scores)
        scores = {}
        if return_attention_scores:
            x, scores["encoder"] = x
        if self.pooling == "cls":
            pooled = x[:, 0, :]
        elif self.pooling == "mean":
            weights = ops.cast(mask, x.dtype)[..., None]
            pooled = ops.sum(x * weights, axis=1) / ops.maximum(
                ops.sum(weights, axis=1), 1.0
            )
        else:
            pooled, scores["pooling"] = self.attention_pooling(
                x, padding_mask=mask, training=training, return_attention_scores=True
            )
        logits = _float32_logits(
            self.classifier, self.dropout_layer(pooled, training=training)
        )
        if return_attention_scores:
            return logits, scores
        return logits

    def set_token_embeddings(self, vectors):
        """Loads pretrained `(vocab_size, d_model)` vectors (e.g. from
        `zoo.text.word_vectors.embedding_table`) into the built model's token embeddings,
        so that each token enters the encoder as its vector; training fine-tunes them."""
        scale = self.d_model**-0.5 if self.embedding.scale_embeddings else 1.0
        _load_table(self.embedding.token_embeddings, vectors, "d_model", scale)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, num_classes=self.num_classes,
            num_layers=self.num_layers, d_model=self.d_model, num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim, dropout=self.dropout,
            attention_dropout=self.attention_dropout, activation=self.activation,
            max_length=self.max_length, norm_first=self.norm_first,
            pooling=self.pooling, position=self.position,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


registry.register(
    "lstm_attention_classifier", LSTMAttentionClassifier, "classifier",
    "BiLSTM (128 per direction) with additive attention pooling",
    embedding_dim=128, units=128, num_layers=1, dropout=0.1, max_length=512,
)
registry.register(
    "conv_attention_classifier", ConvAttentionClassifier, "classifier",
    "Convolutions over 3, 4 and 5 tokens (100 each) pooled by attention and max",
    embedding_dim=128, filters=100, kernel_sizes=(3, 4, 5), dropout=0.5, max_length=512,
    pooling="attention_max",
)
registry.register(
    "transformer_classifier", TransformerClassifier, "classifier",
    "Transformer encoder, 2 layers, d 128, 4 heads, ffn 512, class-token pooling",
    num_layers=2, d_model=128, num_heads=4, intermediate_dim=512, dropout=0.1,
    attention_dropout=0.0, max_length=512, pooling="cls",
)
