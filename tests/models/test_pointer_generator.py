"""Pointer-generator models: the mixture and its loss, coverage, cached decoding, saving."""

import keras
import numpy as np
import pytest
from keras import ops

import zoo.models
from zoo import decoding, layers
from zoo.errors import UsageError
from zoo.models import (LSTMAttentionSeq2Seq, LSTMPointerGenerator, Transformer,
                        TransformerPointerGenerator)
from zoo.models.pointer_generator import copy_distribution

PAD, BOS, EOS = 0, 2, 3
VOCAB = 24
# Repeated source tokens (9, 4) and padding; row 1 has a token (21) no target uses.
SOURCE = np.array([[5, 9, 12, 9, 7, 0], [4, 4, 21, 0, 0, 0], [8, 6, 5, 11, 13, 9]], "int32")
TARGET_IN = np.array([[2, 9, 7, 6, 0], [2, 4, 0, 0, 0], [2, 3, 4, 5, 6]], "int32")
TARGET_OUT = np.array([[9, 7, 6, 3, 0], [4, 3, 0, 0, 0], [3, 4, 5, 6, 3]], "int32")
REAL = TARGET_IN != 0


def lstm(**kwargs):
    config = dict(embedding_dim=8, units=12, num_layers=2, max_length=10)
    return LSTMPointerGenerator(VOCAB, VOCAB, **{**config, **kwargs})


def transformer(**kwargs):
    config = dict(num_layers=2, d_model=16, num_heads=2, intermediate_dim=32, dropout=0.0,
                  max_length=10)
    return TransformerPointerGenerator(VOCAB, VOCAB, **{**config, **kwargs})


def numpy(tensor):
    return ops.convert_to_numpy(tensor)


def with_twin(family):
    """A pointer-generator without coverage and its plain twin holding the same weights."""
    if family == "lstm":
        model = lstm(coverage_loss_weight=0.0, name="m")
        twin = LSTMAttentionSeq2Seq(VOCAB, VOCAB, embedding_dim=8, units=12, num_layers=2,
                                    max_length=10, name="m")
    else:
        model = transformer(share_embeddings=True, name="m")
        twin = Transformer(VOCAB, VOCAB, num_layers=2, d_model=16, num_heads=2,
                           intermediate_dim=32, dropout=0.0, max_length=10,
                           share_embeddings=True, name="m")
    model((SOURCE, TARGET_IN))
    twin((SOURCE, TARGET_IN))
    by_path = {w.path: w for w in model.weights}
    for weight in twin.weights:
        weight.assign(by_path.pop(weight.path))
    assert {path.split("/")[-2] for path in by_path} == {"p_gen"}  # all else is shared
    return model, twin


def numpy_copy(attention, source_ids):
    copy = np.zeros(attention.shape[:-1] + (VOCAB,), "float64")
    for b, t, s in np.ndindex(*attention.shape):
        if source_ids[b, s]:
            copy[b, t, source_ids[b, s]] += attention[b, t, s]
    return copy


def softmax(x):
    x = np.asarray(x, "float64")
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("family", ["lstm", "transformer"])
def test_outputs_are_the_mixture_and_the_project_loss_is_its_nll(family):
    model, twin = with_twin(family)
    log_probs, attention, p_gen = model((SOURCE, TARGET_IN), return_copy_details=True)
    assert log_probs.dtype == "float32" and tuple(log_probs.shape) == (3, 5, VOCAB)
    assert tuple(attention.shape) == (3, 5, 6) and tuple(p_gen.shape) == (3, 5)
    log_probs, attention, p_gen = numpy(log_probs), numpy(attention), numpy(p_gen)
    logits, scores = twin((SOURCE, TARGET_IN), return_attention_scores=True)
    twin_attention = (numpy(scores) if family == "lstm"
                      else numpy(scores["decoder_cross"][-1]).mean(axis=1))
    np.testing.assert_allclose(attention, twin_attention, atol=1e-6)
    assert np.all(attention[0, :, 5] == 0) and np.all(attention[1, :, 3:] == 0)
    assert np.all((p_gen > 0) & (p_gen < 1))

    mixture = (p_gen[..., None] * softmax(numpy(logits))
               + (1 - p_gen[..., None]) * numpy_copy(attention, SOURCE))
    np.testing.assert_allclose(np.exp(log_probs), mixture, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-5)
    assert mixture[1, 0, 21] > p_gen[1, 0] * softmax(numpy(logits))[1, 0, 21]  # copyable

    labels = TARGET_OUT
    picked = np.take_along_axis(mixture, labels[..., None], axis=-1)[..., 0]
    nll = -np.log(picked)[labels != 0].mean()
    token_losses = numpy(keras.losses.sparse_categorical_crossentropy(
        labels, log_probs, from_logits=True))
    np.testing.assert_allclose(token_losses[labels != 0].mean(), nll, rtol=1e-5)
    if keras.backend.backend() == "tensorflow":
        from zoo.training import MaskedSparseCrossentropy

        loss = MaskedSparseCrossentropy()(labels, log_probs)
        np.testing.assert_allclose(float(loss), nll, rtol=1e-5)


def test_copy_distribution_sums_repeats_and_skips_padding():
    attention = np.random.default_rng(0).dirichlet(np.ones(6), size=(3, 2)).astype("float32")
    copied = numpy(copy_distribution(attention, SOURCE, VOCAB))
    np.testing.assert_allclose(copied, numpy_copy(attention, SOURCE), atol=1e-6)
    assert np.all(copied[..., 0] == 0)
    step = numpy(copy_distribution(attention[:, 1], SOURCE, VOCAB))
    np.testing.assert_allclose(step, copied[:, 1], atol=1e-7)


def expected_coverage_loss(attention, weight):
    coverage = np.cumsum(attention, axis=1) - attention
    steps = np.minimum(attention, coverage).sum(-1)
    return weight * steps[REAL].mean()


@pytest.mark.parametrize("input_feeding", [True, False])
def test_coverage_loss_is_added_and_cached_steps_carry_the_coverage(input_feeding):
    model = lstm(coverage_loss_weight=0.5, input_feeding=input_feeding)
    log_probs, attention, _ = model((SOURCE, TARGET_IN), return_copy_details=True)
    attention = numpy(attention)
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0]),
                               expected_coverage_loss(attention, 0.5), rtol=1e-5)
    state = model.init_decode_state(model.encode(SOURCE), max_length=5)
    for t in range(TARGET_IN.shape[1]):
        np.testing.assert_allclose(numpy(state["coverage"]), attention[:, :t].sum(1),
                                   atol=1e-5)
        step_log_probs, state, alignment = model.decode_step(TARGET_IN[:, t], t, state)
        np.testing.assert_allclose(numpy(step_log_probs), numpy(log_probs[:, t]), atol=1e-5)
        np.testing.assert_allclose(numpy(alignment), attention[:, t], atol=1e-6)


def test_coverage_feature_changes_attention_from_the_second_step_on():
    model = lstm()
    rng = np.random.default_rng(3)
    # Peaked attention (a large score vector), so that the coverage differs across positions.
    model.attention.score_vector.assign(rng.normal(0, 3, 12).astype("float32"))
    kernel = model.attention.coverage_kernel
    kernel.assign(np.zeros(kernel.shape, "float32"))
    _, without, _ = model((SOURCE, TARGET_IN), return_copy_details=True)
    kernel.assign(rng.normal(0, 3, 12).astype("float32"))
    _, with_coverage, _ = model((SOURCE, TARGET_IN), return_copy_details=True)
    without, with_coverage = numpy(without), numpy(with_coverage)
    np.testing.assert_allclose(with_coverage[:, 0], without[:, 0], atol=1e-6)
    assert np.abs(with_coverage[:, 1:] - without[:, 1:]).max() > 1e-3


def test_zero_coverage_weight_turns_coverage_off_entirely():
    model = lstm(coverage_loss_weight=0.0)
    model((SOURCE, TARGET_IN))
    assert model.losses == []
    assert not [w for w in model.weights if "coverage" in w.path]
    assert "coverage" not in model.init_decode_state(model.encode(SOURCE), 4)
    on = lstm()
    assert on.count_params() == model.count_params() + 12  # w_c, one weight per unit


def test_additive_attention_coverage_input():
    layer = layers.AdditiveAttention(8, use_coverage=True)
    rng = np.random.default_rng(1)
    query = rng.normal(size=(2, 3, 5)).astype("float32")
    memory = rng.normal(size=(2, 4, 6)).astype("float32")
    coverage = rng.uniform(size=(2, 3, 4)).astype("float32")
    _, plain = layer(query, memory, return_attention_scores=True)
    _, zero = layer(query, memory, coverage=np.zeros_like(coverage),
                    return_attention_scores=True)
    _, covered = layer(query, memory, coverage=coverage, return_attention_scores=True)
    np.testing.assert_allclose(numpy(zero), numpy(plain), atol=1e-6)
    assert np.abs(numpy(covered) - numpy(plain)).max() > 1e-3
    assert layers.AdditiveAttention.from_config(layer.get_config()).use_coverage
    assert "use_coverage" not in layers.AdditiveAttention(8).get_config()
    with pytest.raises(ValueError, match="use_coverage"):
        layers.AdditiveAttention(8)(query, memory, coverage=coverage)


@pytest.mark.parametrize("make", [
    lambda: lstm(attention="luong_general", coverage_loss_weight=0.0),
    lambda: transformer(),
    lambda: transformer(copy_attention="head0", norm_first=True, coverage_loss_weight=0.5),
], ids=["lstm_luong_no_coverage", "transformer_mean", "transformer_head0_coverage"])
def test_cached_decode_steps_match_teacher_forcing(make):
    model = make()
    log_probs, attention, _ = model((SOURCE, TARGET_IN), return_copy_details=True)
    if isinstance(model, TransformerPointerGenerator):
        _, scores = model((SOURCE, TARGET_IN), return_attention_scores=True)
        alignment = numpy(scores["decoder_cross"][-1]).mean(axis=1)
        if model.coverage_loss_weight:
            np.testing.assert_allclose(float(model.losses[0]),
                                       expected_coverage_loss(numpy(attention), 0.5),
                                       rtol=1e-5)
    else:
        alignment = numpy(attention)
    state = model.init_decode_state(model.encode(SOURCE), max_length=5)
    for t in range(TARGET_IN.shape[1]):
        step_log_probs, state, step_alignment = model.decode_step(
            TARGET_IN[:, t], ops.convert_to_tensor(t, "int32"), state)
        rows = REAL[:, t]
        np.testing.assert_allclose(numpy(step_log_probs)[rows], numpy(log_probs)[rows, t],
                                   atol=1e-5)
        np.testing.assert_allclose(numpy(step_alignment)[rows], alignment[rows, t],
                                   atol=1e-6)


def naive_greedy(model, source_ids, max_length):
    """Greedy decoding that recomputes the whole prefix through `model.call` each step."""
    batch = source_ids.shape[0]
    prefix = np.full((batch, 1), BOS, "int32")
    finished = np.zeros(batch, bool)
    out = np.zeros((batch, max_length), "int32")
    for t in range(max_length):
        log_probs = numpy(model((source_ids, prefix)))
        log_probs[..., [PAD, BOS]] = -np.inf
        tokens = np.where(finished, PAD, log_probs[:, -1].argmax(-1)).astype("int32")
        out[:, t] = tokens
        finished |= tokens == EOS
        prefix = np.concatenate([prefix, tokens[:, None]], axis=1)
    return out


def check_valid_ids(ids):
    assert ids.min() >= 0 and ids.max() < VOCAB and not np.any(ids == BOS)
    for row in ids.reshape(-1, ids.shape[-1]):
        ended = np.flatnonzero(row == EOS)
        end = ended[0] + 1 if len(ended) else len(row)
        assert np.all(row[:end] != PAD) and np.all(row[end:] == PAD)


def sharpened_lstm():
    """An LSTM pointer-generator whose attention, and so its coverage, depends strongly on
    the tokens generated (numpy-drawn weights: the same model under every backend)."""
    model = lstm()
    model((SOURCE, TARGET_IN))
    rng = np.random.default_rng(3)
    for weight in model.weights:
        weight.assign(rng.normal(0, 0.5, weight.shape).astype("float32"))
    model.target_embedding.embeddings.assign(rng.normal(0, 3, (VOCAB, 8)).astype("float32"))
    model.attention.score_vector.assign(rng.normal(0, 3, 12).astype("float32"))
    model.attention.coverage_kernel.assign(rng.normal(0, 8, 12).astype("float32"))
    bias = rng.normal(0, 2, VOCAB)
    bias[EOS] = 3.0  # some hypotheses end inside max_length
    model.output_projection.bias.assign(bias.astype("float32"))
    return model


@pytest.mark.parametrize("family", ["lstm", "transformer"])
def test_greedy_and_beam_search_agree_with_the_model(family):
    model = sharpened_lstm() if family == "lstm" else transformer(coverage_loss_weight=0.5)
    model((SOURCE, TARGET_IN))  # builds the Transformer
    greedy, greedy_alignment = decoding.greedy_search(model, SOURCE, 6, return_alignment=True)
    greedy = numpy(greedy)
    check_valid_ids(greedy)
    np.testing.assert_array_equal(greedy, naive_greedy(model, SOURCE, 6))
    assert tuple(greedy_alignment.shape) == (3, 6, 6)

    ids, scores, alignment = decoding.beam_search(model, SOURCE, 6, beam_size=3,
                                                  num_return=3, return_alignment=True)
    ids, scores, alignment = (numpy(t).reshape((9,) + t.shape[2:])
                              for t in (ids, scores, alignment))
    check_valid_ids(ids)
    # Rescore all 3 hypotheses of every row with one teacher-forced call: a hypothesis
    # whose coverage (or cache) was not reordered with it scores and aligns differently.
    source = np.repeat(SOURCE, 3, axis=0)
    target_in = np.concatenate([np.full((9, 1), BOS, "int32"), ids[:, :-1]], axis=1)
    log_probs, attention, _ = model((source, target_in), return_copy_details=True)
    if family == "transformer":
        _, cross = model((source, target_in), return_attention_scores=True)
        attention = numpy(cross["decoder_cross"][-1]).mean(axis=1)
    log_probs = numpy(log_probs).astype("float64")
    log_probs[..., [PAD, BOS]] = -1e9
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    real = ids != PAD
    totals = (np.take_along_axis(log_probs, ids[..., None], -1)[..., 0] * real).sum(-1)
    expected = totals / ((5.0 + real.sum(-1)) / 6.0) ** 0.6
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    np.testing.assert_allclose(alignment[real], numpy(attention)[real], atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: lstm(dropout=0.1, input_feeding=False),
    lambda: transformer(copy_attention="head0", coverage_loss_weight=0.5,
                        share_embeddings=True),
], ids=["lstm", "transformer"])
def test_round_trips_through_config_and_keras_file(tmp_path, make):
    model = make()
    expected = numpy(model((SOURCE, TARGET_IN)))
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    assert len(restored.weights) == len(model.weights)
    np.testing.assert_allclose(numpy(restored((SOURCE, TARGET_IN))), expected, atol=1e-6)


def test_add_loss_reaches_evaluate_and_fit():
    model = lstm(num_layers=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, jit_compile=False)
    log_probs = model((SOURCE, TARGET_IN))
    coverage = float(model.losses[0])
    assert coverage > 0
    expected = float(loss(TARGET_OUT, log_probs)) + coverage
    evaluated = model.evaluate((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    np.testing.assert_allclose(evaluated, expected, rtol=1e-5)
    history = model.fit((SOURCE, TARGET_IN), TARGET_OUT, batch_size=3, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


@pytest.mark.parametrize("family", ["lstm", "transformer"])
def test_mixed_bfloat16_gives_finite_float32_log_probs(family):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = lstm() if family == "lstm" else transformer(coverage_loss_weight=1.0)
    log_probs, attention, p_gen = model((SOURCE, TARGET_IN), return_copy_details=True)
    assert log_probs.dtype == attention.dtype == p_gen.dtype == "float32"
    log_probs = numpy(log_probs)
    assert np.all(np.isfinite(log_probs))
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-4)
    assert np.isfinite(float(model.losses[0]))
    state = model.init_decode_state(model.encode(SOURCE), 4)
    step_log_probs, _, _ = model.decode_step(TARGET_IN[:, 0], 0, state)
    assert step_log_probs.dtype == "float32" and np.all(np.isfinite(numpy(step_log_probs)))
    if family == "lstm":  # finite gradients too (one eager step; the mixture is shared)
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      run_eagerly=True)
        before = [numpy(w).copy() for w in model.trainable_weights]
        assert np.isfinite(model.train_on_batch((SOURCE, TARGET_IN), TARGET_OUT))
        assert all(np.all(np.isfinite(numpy(w))) for w in model.trainable_weights)
        assert not np.array_equal(before[-1], numpy(model.trainable_weights[-1]))


def test_presets_are_registered_and_add_only_the_copy_weights():
    assert {"lstm_pointer_generator", "transformer_pointer_generator",
            "transformer_pointer_generator_tiny"} <= set(zoo.models.names("seq2seq"))
    assert zoo.models.get("lstm_pointer_generator").defaults["coverage_loss_weight"] == 1.0
    sizes = dict(source_vocab_size=VOCAB, target_vocab_size=VOCAB)
    small = dict(embedding_dim=8, units=12)
    pointer = zoo.models.build("lstm_pointer_generator", **sizes, **small)
    plain = zoo.models.build("lstm_bahdanau", **sizes, **small)
    assert isinstance(pointer, LSTMPointerGenerator)
    # p_gen: [state, embedding, context] -> 1, plus the coverage vector w_c.
    assert pointer.count_params() == plain.count_params() + (12 + 8 + 12 + 1) + 12
    pointer = zoo.models.build("transformer_pointer_generator_tiny", **sizes, d_model=16)
    plain = zoo.models.build("transformer_tiny", **sizes, d_model=16, share_embeddings=True)
    pointer((SOURCE, TARGET_IN)), plain((SOURCE, TARGET_IN))
    assert pointer.count_params() == plain.count_params() + 3 * 16 + 1


def test_bad_hyper_parameters_raise_usage_errors():
    with pytest.raises(UsageError, match="share one vocabulary"):
        LSTMPointerGenerator(20, 24)
    with pytest.raises(UsageError, match="share one vocabulary"):
        zoo.models.build("transformer_pointer_generator", source_vocab_size=20,
                         target_vocab_size=24)
    with pytest.raises(UsageError, match="bahdanau"):
        lstm(attention="luong_dot")
    with pytest.raises(UsageError, match=">= 0"):
        lstm(coverage_loss_weight=-1.0)
    with pytest.raises(UsageError, match="mean, head0"):
        transformer(copy_attention="head1")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function export")
def test_beam_search_traces_to_stock_tensorflow_ops():
    import tensorflow as tf

    model = lstm(num_layers=1)
    function = tf.function(lambda x: decoding.beam_search(model, x, 6, beam_size=2)[0])
    graph = function.get_concrete_function(tf.TensorSpec([None, None], tf.int32)).graph
    graph_def = graph.as_graph_def()
    op_types = {node.op for node in graph_def.node}
    for library_function in graph_def.library.function:
        op_types |= {node.op for node in library_function.node_def}
    assert "ScatterNd" in op_types and not [op for op in op_types if op.startswith("Xla")]
    np.testing.assert_array_equal(
        function(SOURCE).numpy(),
        numpy(decoding.beam_search(model, SOURCE, 6, beam_size=2)[0]))
