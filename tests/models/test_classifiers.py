"""Tests of the classifiers: masks, attention weights, the fused BiLSTM, saving, bad input."""

import numpy as np
import pytest

import zoo  # noqa: F401
import keras
from keras import ops

from zoo.errors import UsageError
from zoo.models import ConvAttentionClassifier, LSTMAttentionClassifier, TransformerClassifier
from zoo.models.classifiers import BidirectionalLSTM

TOKENS = np.array([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]], "int32")
REAL = TOKENS != 0


def lstm_classifier(**kwargs):
    args = dict(vocab_size=20, num_classes=3, embedding_dim=8, units=6, dropout=0.0)
    return LSTMAttentionClassifier(**{**args, **kwargs})


def conv_classifier(**kwargs):
    args = dict(vocab_size=20, num_classes=3, embedding_dim=8, filters=4, dropout=0.0)
    return ConvAttentionClassifier(**{**args, **kwargs})


def transformer_classifier(**kwargs):
    args = dict(vocab_size=20, num_classes=3, num_layers=1, d_model=8, num_heads=2,
                intermediate_dim=16, dropout=0.0, max_length=10)
    return TransformerClassifier(**{**args, **kwargs})


BUILDERS = {
    "lstm": lstm_classifier,
    "lstm_2_layers": lambda: lstm_classifier(num_layers=2),
    "conv_attention_max": conv_classifier,
    "conv_attention": lambda: conv_classifier(pooling="attention", kernel_sizes=(2, 5)),
    "conv_max": lambda: conv_classifier(pooling="max"),
    "transformer_cls": transformer_classifier,
    "transformer_mean": lambda: transformer_classifier(pooling="mean", norm_first=True),
    "transformer_attention": lambda: transformer_classifier(pooling="attention"),
}


def numpy(x):
    return ops.convert_to_numpy(x)


def test_bidirectional_lstm_matches_keras():
    ours = BidirectionalLSTM(4)
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mask = REAL
    ours(x, padding_mask=mask)
    theirs(x, mask=mask)
    forward, backward = theirs.forward_layer.cell, theirs.backward_layer.cell
    ours.kernel.assign(np.concatenate([forward.kernel.numpy(), backward.kernel.numpy()], 1))
    ours.bias.assign(np.concatenate([forward.bias.numpy(), backward.bias.numpy()]))
    ours.cell.recurrent_kernel.assign(
        np.stack([forward.recurrent_kernel.numpy(), backward.recurrent_kernel.numpy()])
    )
    np.testing.assert_allclose(
        numpy(ours(x, padding_mask=mask)), numpy(theirs(x, mask=mask)), atol=1e-5
    )


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_padding_does_not_change_logits(name):
    model = BUILDERS[name]()
    out = numpy(model(TOKENS))
    assert out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(numpy(model(np.pad(TOKENS, [(0, 0), (0, 4)]))), out, atol=1e-5)


def test_float32_logits_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    for model in (lstm_classifier(), conv_classifier(), transformer_classifier()):
        out = model(TOKENS)
        assert out.dtype == "float32" and np.all(np.isfinite(numpy(out)))


def test_lstm_attention_weights():
    model = lstm_classifier()
    logits, scores = model(TOKENS, return_attention_scores=True)
    weights = numpy(scores["pooling"])
    assert weights.shape == (2, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(weights[0, 3:] == 0.0)
    np.testing.assert_allclose(numpy(logits), numpy(model(TOKENS)), atol=1e-6)


def test_transformer_attention_weights():
    model = transformer_classifier(num_layers=2, pooling="attention")
    _, scores = model(TOKENS, return_attention_scores=True)
    assert [tuple(s.shape) for s in scores["encoder"]] == [(2, 2, 5, 5)] * 2
    assert np.all(numpy(scores["encoder"][0])[0, :, :, 3:] == 0.0)
    assert tuple(scores["pooling"].shape) == (2, 5)
    _, scores = transformer_classifier()(TOKENS, return_attention_scores=True)
    assert tuple(scores["encoder"][0].shape) == (2, 2, 6, 6)  # the class token comes first


@pytest.mark.parametrize("name", ["lstm_2_layers", "conv_attention", "transformer_attention"])
def test_keras_round_trip(name, tmp_path):
    model = BUILDERS[name]()
    expected = numpy(model(TOKENS))
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert type(restored) is type(model)
    np.testing.assert_allclose(numpy(restored(TOKENS)), expected, atol=1e-6)


@pytest.mark.parametrize("builder", [lstm_classifier, conv_classifier])
def test_fits_a_small_batch(builder):
    model = builder()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    labels = np.array([0, 2])
    losses = [model.train_on_batch(TOKENS, labels) for _ in range(15)]
    assert losses[-1] < 0.2 * losses[0]


def test_bad_input_is_explained():
    with pytest.raises(UsageError, match="pooling"):
        transformer_classifier(pooling="max")
    with pytest.raises(UsageError, match="max_length=10"):
        transformer_classifier()(np.ones((1, 11), "int32"))
    with pytest.raises(UsageError, match="empty batch"):
        lstm_classifier()(np.zeros((0, 3), "int32"))
    with pytest.raises(UsageError, match="outside the vocabulary"):
        lstm_classifier()(np.array([[3, 20]]))
    with pytest.raises(UsageError, match="pooling must be one of"):
        conv_classifier(pooling="mean")
    with pytest.raises(UsageError, match="max_length=4"):
        conv_classifier(max_length=4)(np.ones((1, 5), "int32"))


def test_conv_classifier_reads_ngrams_within_the_text():
    """A token's features come from its window; the token weights sum to 1 over the text."""
    model = conv_classifier(kernel_sizes=(3,))
    _, scores = model(TOKENS, return_attention_scores=True)
    weights = numpy(scores["pooling"])
    assert np.all(weights[0, 3:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    changed = TOKENS.copy()
    changed[1, 0] = 13  # the first token of the second text only
    np.testing.assert_allclose(numpy(model(changed))[0], numpy(model(TOKENS))[0], atol=1e-6)
    assert not np.allclose(numpy(model(changed))[1], numpy(model(TOKENS))[1])
    clone = ConvAttentionClassifier.from_config(model.get_config())
    assert clone.kernel_sizes == (3,) and clone.pooling == "attention_max"


@pytest.mark.parametrize("pooling", ["max", "attention_max"])
def test_lstm_classifier_max_pooling_ignores_padding(pooling):
    """Max over time of the real tokens only; the token weights say which tokens hold it."""
    import numpy as np

    from zoo.models import LSTMAttentionClassifier

    model = LSTMAttentionClassifier(vocab_size=50, num_classes=3, embedding_dim=8, units=8,
                                    dropout=0.0, pooling=pooling)
    ids = np.array([[7, 8, 9, 0, 0]], "int32")
    logits, scores = model(ids, return_attention_scores=True)
    padded = model(np.array([[7, 8, 9, 0, 0, 0, 0]], "int32"))
    np.testing.assert_allclose(np.asarray(logits), np.asarray(padded), atol=1e-5)
    weights = np.asarray(scores["pooling"])[0]
    assert weights[3:].sum() == 0 and abs(weights.sum() - 1.0) < 1e-5
    clone = LSTMAttentionClassifier.from_config(model.get_config())
    assert clone.pooling == pooling
    with pytest.raises(Exception, match="pooling must be one of"):
        LSTMAttentionClassifier(vocab_size=50, num_classes=3, pooling="mean")


@pytest.mark.parametrize("name", ["lstm", "conv_max", "transformer_cls"])
def test_pretrained_token_embeddings_are_what_the_model_reads(name):
    model = BUILDERS[name]()
    model(TOKENS)
    vectors = np.random.default_rng(0).normal(size=(20, 8)).astype("float32")
    model.set_token_embeddings(vectors)
    if name.startswith("transformer"):  # the table is scaled by sqrt(d) when read
        read = numpy(model.embedding.token_embeddings) * np.sqrt(8)
    else:
        read = numpy(model.embedding(np.arange(20)))
    np.testing.assert_allclose(read, vectors, rtol=1e-5, atol=1e-6)
    hparam = "d_model" if name.startswith("transformer") else "embedding_dim"
    with pytest.raises(UsageError, match=f"--hparams={hparam}=300"):
        model.set_token_embeddings(np.zeros((20, 300), "float32"))
