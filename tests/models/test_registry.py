"""Tests of the model registry: every name builds and trains a step; the presets' values."""

import inspect

import numpy as np
import pytest

import zoo  # noqa: F401
import keras

import zoo.models
from zoo.errors import UsageError
from zoo.text import SEP_ID

# Small enough for a one-step test; each builder takes the arguments its signature has.
TINY = dict(d_model=16, num_heads=2, intermediate_dim=32, num_layers=1, embedding_dim=8,
            units=8, max_length=12)
VOCAB = 30
RNG = np.random.default_rng(0)
SOURCE = RNG.integers(6, VOCAB, size=(2, 6)).astype("int32")
SOURCE[:, 2] = SEP_ID  # "question [SEP] context", which the memory network reads apart
TARGET = RNG.integers(1, VOCAB, size=(2, 5)).astype("int32")
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

FAMILY_DATA = {
    "seq2seq": (dict(source_vocab_size=VOCAB, target_vocab_size=VOCAB), (SOURCE, TARGET),
                TARGET, LOSS),
    "classifier": (dict(vocab_size=VOCAB, num_classes=3), SOURCE, np.array([0, 2]), LOSS),
    "span_qa": (dict(vocab_size=VOCAB), (TARGET, SOURCE), (np.array([0, 1]), np.array([2, 4])),
                [LOSS, LOSS]),
}


def tiny_overrides(builder):
    parameters = inspect.signature(builder).parameters
    return {k: v for k, v in TINY.items() if k in parameters}


@pytest.mark.parametrize("name", zoo.models.names())
def test_every_name_builds_and_trains_one_step(name):
    preset = zoo.models.get(name)
    sizes, x, y, loss = FAMILY_DATA[preset.family]
    model = zoo.models.build(name, **sizes, **tiny_overrides(preset.builder))
    assert isinstance(model, keras.Model)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, run_eagerly=True)
    model(x)
    before = [w.numpy().copy() for w in model.trainable_weights]
    assert before
    result = model.train_on_batch(x, y)
    assert np.all(np.isfinite(result))
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert sum(changed) > 0.9 * len(changed)


@pytest.mark.parametrize("name", zoo.models.names("seq2seq"))
def test_every_seq2seq_model_refuses_to_decode_past_its_max_length(name):
    preset = zoo.models.get(name)
    model = zoo.models.build(name, **FAMILY_DATA["seq2seq"][0], **tiny_overrides(preset.builder))
    state = model.encode(SOURCE)
    model.init_decode_state(state, max_length=12)
    with pytest.raises(UsageError, match="Cannot decode 13 tokens: the model's max_length is 12"):
        model.init_decode_state(state, max_length=13)


def test_my_names_are_registered_in_their_families():
    assert {"transformer", "transformer_tiny", "transformer_small", "transformer_base",
            "transformer_big"} <= set(zoo.models.names("seq2seq"))
    assert {"lstm_attention_classifier", "transformer_classifier"} <= set(
        zoo.models.names("classifier"))
    assert {"transformer_span_qa", "bidaf_span_qa"} <= set(zoo.models.names("span_qa"))
    assert {"lstm_pointer_generator", "transformer_pointer_generator",
            "transformer_pointer_generator_tiny"} <= set(zoo.models.names("seq2seq"))


def test_transformer_presets_follow_vaswani_et_al():
    base = zoo.models.get("transformer_base").defaults
    big = zoo.models.get("transformer_big").defaults
    for preset, (d_model, heads, ffn, dropout) in ((base, (512, 8, 2048, 0.1)),
                                                   (big, (1024, 16, 4096, 0.3))):
        assert preset["num_layers"] == 6
        assert (preset["d_model"], preset["num_heads"], preset["intermediate_dim"],
                preset["dropout"]) == (d_model, heads, ffn, dropout)
    assert zoo.models.get("transformer").defaults == zoo.models.get("transformer_small").defaults
    small = zoo.models.get("transformer_small").defaults
    assert (small["num_layers"], small["d_model"], small["num_heads"],
            small["intermediate_dim"]) == (3, 256, 4, 1024)


def test_base_preset_has_the_paper_parameter_count():
    # Vaswani et al. Table 3: 65M parameters for base with a shared 37k BPE vocabulary.
    model = zoo.models.build("transformer_base", source_vocab_size=37000,
                             target_vocab_size=37000, share_embeddings=True)
    model.build(((None, None), (None, None)))
    assert 60e6 < model.count_params() < 66e6


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(UsageError, match="transformer_tiny") as error:
        zoo.models.build("transformer_huge", source_vocab_size=10, target_vocab_size=10)
    assert "transformer_huge" in str(error.value)


def test_kwargs_override_the_preset():
    model = zoo.models.build("transformer_big", source_vocab_size=VOCAB, target_vocab_size=VOCAB,
                             d_model=32, num_heads=4, intermediate_dim=64)
    assert (model.d_model, model.num_heads, model.num_layers, model.dropout) == (32, 4, 6, 0.3)
