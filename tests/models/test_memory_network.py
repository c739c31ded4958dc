"""The memory network: its reading of sentences against a NumPy MemN2N, decoding, saving."""

import keras
import numpy as np
import pytest
from keras import ops

import zoo.models
from zoo import decoding
from zoo.errors import UsageError
from zoo.models import MemoryNetworkSeq2Seq
from zoo.text import BOS_ID, EOS_ID, SEP_ID

VOCAB = 30
PERIOD, QUESTION_MARK = 6, 7
# "q q ? [SEP] s1 . s2 s2 s2 . s3 s3" (the last sentence has no period), then padding; a
# row with no context; a row whose context is one sentence.
SOURCE = np.array([
    [10, 11, QUESTION_MARK, SEP_ID, 12, 13, PERIOD, 14, 15, 16, PERIOD, 17, 18, 0],
    [19, 20, SEP_ID, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [21, SEP_ID, 22, 23, 24, 25, PERIOD, 0, 0, 0, 0, 0, 0, 0]], "int32")
TARGET_IN = np.array([[BOS_ID, 12, 13], [BOS_ID, 0, 0], [BOS_ID, 22, 8]], "int32")


def memory_network(**kwargs):
    config = dict(embedding_dim=8, hops=3, memory_size=5, max_length=20,
                  sentence_end_ids=(PERIOD, QUESTION_MARK), seed=1)
    return MemoryNetworkSeq2Seq(VOCAB, VOCAB, **{**config, **kwargs})


def numpy(tensor):
    return ops.convert_to_numpy(tensor)


def reference_read(model, row, linear=False):
    """Sukhbaatar et al.'s MemN2N forward pass (position encoding, temporal encoding,
    adjacent tying; the question encoded by the first hop's input table, plus the learnt
    offset when untied; the first `gated_hops` hops' updates gated), written out sentence
    by sentence for one source row: the final state, the sentences kept, and the hops'
    mean attention over them (`linear`: the raw scores, as in the paper's linear start)."""
    d = model.embedding_dim
    words = [numpy(e.embeddings) for e in model.word_embeddings]
    times = [numpy(e.embeddings) for e in model.temporal_embeddings]
    ends = set(model.sentence_end_ids)
    tokens = [int(t) for t in row if t]
    split = tokens.index(SEP_ID)
    question = [t for t in tokens[:split] if t not in ends]
    sentences, current = [], []
    for token in tokens[split + 1:]:
        if token in ends:
            sentences.append(current)
            current = []
        else:
            current.append(token)
    sentences = [s for s in sentences + [current] if s][-model.memory_size:]

    def encode(sentence, table):
        size = len(sentence)
        total = np.zeros(d)
        for j, token in enumerate(sentence, start=1):
            k = np.arange(1, d + 1) / d
            total += ((1 - j / size) - k * (1 - 2 * j / size)) * table[token]
        return total

    def memories(k):
        return np.array([encode(s, words[k]) + times[k][len(sentences) - 1 - i]
                         for i, s in enumerate(sentences)]).reshape(len(sentences), d)

    question_table = words[0] if model.tie_question_embedding else \
        words[0] + numpy(model.question_offset.embeddings)
    u = encode(question, question_table)
    mean_weights = np.zeros(len(sentences))
    for k in range(1, model.hops + 1):
        read = np.zeros(d)  # no sentences: nothing to read
        if sentences:
            scores = memories(k - 1) @ u
            weights = scores if linear else \
                np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            read = weights @ memories(k)
            mean_weights += weights / model.hops
        if k <= model.gated_hops:
            gate_kernel, gate_bias = (numpy(w) for w in model.hop_gates[k - 1].weights)
            gate = 1 / (1 + np.exp(-(u @ gate_kernel + gate_bias)))
            u = gate * read + (1 - gate) * u
        else:
            u = u + read
    return u, sentences, mean_weights


@pytest.mark.parametrize("tie_question,gated", [(True, 0), (False, 0), (True, 1), (True, 3)])
def test_reading_matches_a_numpy_memn2n(tie_question, gated):
    model = memory_network(tie_question_embedding=tie_question, gated_hops=gated)
    if not tie_question:  # the offset starts at zero: give it values to be read
        model.question_offset.embeddings.assign(
            np.random.default_rng(0).normal(size=(VOCAB, 8)).astype("float32"))
    if gated:  # biases off their zero start, so the NumPy gate reads them too
        assert len(model.hop_gates) == gated
        for gate in model.hop_gates:
            gate.bias.assign(np.random.default_rng(1).normal(size=8).astype("float32"))
    state = model.encode(SOURCE)
    for row in range(len(SOURCE)):
        u, _, _ = reference_read(model, SOURCE[row])
        np.testing.assert_allclose(numpy(state["h"])[row], u, atol=1e-5)


def test_attention_is_spread_over_each_sentences_tokens():
    model = memory_network()
    alignment = numpy(model.encode(SOURCE)["alignment"])
    _, sentences, weights = reference_read(model, SOURCE[0])
    assert len(sentences) == 3
    expected = np.zeros(SOURCE.shape[1])
    expected[[4, 5]] = weights[0]
    expected[[7, 8, 9]] = weights[1]
    expected[[11, 12]] = weights[2]
    np.testing.assert_allclose(alignment[0], expected, atol=1e-6)
    np.testing.assert_allclose(alignment[1], 0.0)  # no context: no memory, no NaN
    np.testing.assert_allclose(alignment[2, [2, 3, 4, 5]], 1.0, atol=1e-6)


def test_only_the_latest_memory_size_sentences_are_read():
    model = memory_network(memory_size=2)
    changed = SOURCE.copy()
    changed[0, [4, 5]] = [26, 27]  # the oldest of three sentences
    np.testing.assert_allclose(numpy(model.encode(changed)["h"]),
                               numpy(model.encode(SOURCE)["h"]), atol=1e-6)
    wider = memory_network(memory_size=3)
    assert not np.allclose(numpy(wider.encode(changed)["h"])[0],
                           numpy(wider.encode(SOURCE)["h"])[0])


def test_an_untied_question_starts_tied_and_learns_an_offset_of_its_own():
    tied, untied = memory_network(), memory_network(tie_question_embedding=False)
    assert tied.question_offset is None
    offset = untied.question_offset.embeddings
    shared = [w for w in untied.weights if w is not offset]
    assert len(shared) == len(tied.weights)
    for mine, theirs in zip(shared, tied.weights):
        mine.assign(theirs)
    np.testing.assert_allclose(numpy(untied.encode(SOURCE)["h"]),
                               numpy(tied.encode(SOURCE)["h"]), atol=1e-6)
    # The offset moves the question only: the memories keep their vectors.
    values = np.zeros((VOCAB, 8), "float32")
    values[12] = 1.0  # token 12 is a context word of row 0, not a question word
    before = numpy(untied.encode(SOURCE)["h"])
    offset.assign(values)
    np.testing.assert_allclose(numpy(untied.encode(SOURCE)["h"]), before, atol=1e-6)
    values[10] = 1.0  # a question word of row 0
    offset.assign(values)
    assert not np.allclose(numpy(untied.encode(SOURCE)["h"])[0], before[0])


def test_word_order_within_a_sentence_matters_and_padding_does_not():
    model = memory_network()
    swapped = SOURCE.copy()
    swapped[0, [7, 9]] = swapped[0, [9, 7]]
    assert not np.allclose(numpy(model.encode(swapped)["h"])[0],
                           numpy(model.encode(SOURCE)["h"])[0])
    padded = np.pad(SOURCE, ((0, 0), (0, 4)))
    np.testing.assert_allclose(numpy(model((padded, TARGET_IN))),
                               numpy(model((SOURCE, TARGET_IN))), atol=1e-5)


def test_without_sentence_ends_the_context_is_one_memory():
    model = memory_network(sentence_end_ids=())
    alignment = numpy(model.encode(SOURCE)["alignment"])
    context = (SOURCE != 0) & (np.cumsum(SOURCE == SEP_ID, axis=1) > 0) & (SOURCE != SEP_ID)
    np.testing.assert_allclose(alignment[0], context[0].astype("float32"), atol=1e-6)


def test_temporal_noise_shifts_older_sentences_while_training_only():
    model = memory_network(temporal_noise=0.5, memory_size=12)
    twin = memory_network(memory_size=12)
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(numpy(model((SOURCE, TARGET_IN))),
                               numpy(twin((SOURCE, TARGET_IN))), atol=1e-6)
    _, plain, _, _ = twin._layout(SOURCE)
    slot_of = {tuple(numpy(plain)[0, t].nonzero()[0]) for t in (4, 7, 11)}
    assert slot_of == {(2,), (1,), (0,)}  # oldest to latest sentence
    shifted_any = False
    for _ in range(5):
        _, slots, _, _ = model._layout(SOURCE, training=True)
        slot = [int(numpy(slots)[0, t].argmax()) for t in (4, 5, 7, 8, 9, 11, 12)]
        assert slot[0] == slot[1] and slot[2] == slot[3] == slot[4] and slot[5] == slot[6]
        assert slot[0] - slot[2] >= 1 and slot[2] - slot[5] >= 1 and slot[5] >= 0
        shifted_any |= slot[0] > 2
    assert shifted_any


def test_linear_start_reads_raw_scores_for_its_training_steps():
    model = memory_network(linear_start_steps=2)
    for expect_linear in (True, True, False):
        state = model.encode(SOURCE)
        model((SOURCE, TARGET_IN))  # not training: not counted
        for row in range(len(SOURCE)):
            u, _, _ = reference_read(model, SOURCE[row], linear=expect_linear)
            np.testing.assert_allclose(numpy(state["h"])[row], u, atol=1e-5)
        model((SOURCE, TARGET_IN), training=True)
    assert int(numpy(model.training_steps)) == 3


def test_linear_start_counts_fit_steps_and_is_saved(tmp_path):
    model = memory_network(linear_start_steps=100)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit((SOURCE, TARGET_IN[:, :-1]), TARGET_IN[:, 1:], batch_size=1, epochs=2,
              verbose=0)
    assert int(numpy(model.training_steps)) == 6
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    restored = memory_network(linear_start_steps=100)
    restored.load_weights(path)
    assert int(numpy(restored.training_steps)) == 6
    assert not hasattr(memory_network(), "training_steps")


@pytest.mark.parametrize("tie", [False, True])
def test_cached_decode_steps_match_teacher_forcing(tie):
    model = memory_network(tie_answer_embeddings=tie)
    logits, scores = model((SOURCE, TARGET_IN), return_attention_scores=True)
    state = model.init_decode_state(model.encode(SOURCE), max_length=3)
    for t in range(TARGET_IN.shape[1]):
        step_logits, state, alignment = model.decode_step(TARGET_IN[:, t], t, state)
        np.testing.assert_allclose(numpy(step_logits), numpy(logits)[:, t], atol=1e-5)
        np.testing.assert_allclose(numpy(alignment), numpy(scores)[:, t], atol=1e-6)


def test_beam_search_drives_it_like_any_seq2seq_model():
    model = memory_network()
    greedy = decoding.greedy_search(model, SOURCE, max_length=4)
    beam, scores = decoding.beam_search(model, SOURCE, max_length=4, beam_size=3)
    assert numpy(greedy).shape == (3, 4) and numpy(beam).shape == (3, 4)
    assert np.all(np.isfinite(numpy(scores)))
    with pytest.raises(UsageError, match="max_length"):
        model.init_decode_state(model.encode(SOURCE), max_length=21)


def test_tied_answers_are_scored_by_the_last_output_embedding():
    model = memory_network(tie_answer_embeddings=True)
    state = model.init_decode_state(model.encode(SOURCE), max_length=3)
    logits, _, _ = model.decode_step(TARGET_IN[:, 0], 0, state)
    output, _ = model.decoder.cell(numpy(model.word_embeddings[-1](TARGET_IN[:, 0])),
                                   [numpy(state["h"])])
    table = numpy(model.word_embeddings[-1].embeddings)
    np.testing.assert_allclose(numpy(logits), numpy(output) @ table.T, atol=1e-5)
    assert not hasattr(model, "output_projection")


def test_learns_to_answer_where_someone_is():
    # Stories of "PERSON went PLACE ." (persons 10-13, places 14-19); "where PERSON ?"
    # asks for the place of that person's latest move, so the model must attend to the
    # right sentence: the latest one alone answers only some of the questions.
    rng = np.random.default_rng(0)
    sources, targets = [], []
    for _ in range(512):
        story = [[int(rng.integers(10, 14)), 9, int(rng.integers(14, 20))] for _ in range(4)]
        person = story[int(rng.integers(0, 4))][0]
        answer = [place for who, _, place in story if who == person][-1]
        context = [token for sentence in story for token in sentence + [PERIOD]]
        sources.append([8, person, QUESTION_MARK, SEP_ID] + context)
        targets.append([BOS_ID, answer, EOS_ID])
    sources, targets = np.array(sources, "int32"), np.array(targets, "int32")
    keras.utils.set_random_seed(0)
    model = memory_network(embedding_dim=24, memory_size=8)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit((sources[:448], targets[:448, :-1]), targets[:448, 1:], batch_size=32,
              epochs=25, verbose=0)
    answers = numpy(model((sources[448:], targets[448:, :-1]))).argmax(-1)[:, 0]
    assert (answers == targets[448:, 1]).mean() > 0.8


@pytest.mark.parametrize("tie", [False, True])
def test_round_trips_through_config_and_keras_file(tmp_path, tie):
    model = memory_network(dropout=0.1, temporal_noise=0.1, tie_answer_embeddings=tie,
                           tie_question_embedding=tie, gated_hops=0 if tie else 2,
                           linear_start_steps=10)
    expected = numpy(model((SOURCE, TARGET_IN)))
    clone = MemoryNetworkSeq2Seq.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is MemoryNetworkSeq2Seq
    assert restored.sentence_end_ids == (PERIOD, QUESTION_MARK)
    np.testing.assert_allclose(numpy(restored((SOURCE, TARGET_IN))), expected, atol=1e-6)


@pytest.mark.parametrize("tie", [False, True])
def test_mixed_precision_gives_finite_float32_logits(tie):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = memory_network(tie_answer_embeddings=tie, gated_hops=int(tie))
        logits = model((SOURCE, TARGET_IN))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(numpy(logits)))


def test_registered_and_bad_arguments_are_clear_errors():
    assert zoo.models.get("memory_network").family == "seq2seq"
    assert zoo.models.get("memory_network").builder.reads_sentences
    with pytest.raises(UsageError, match="hops"):
        memory_network(hops=0)
    with pytest.raises(UsageError, match="one vocabulary"):
        MemoryNetworkSeq2Seq(30, 31, tie_answer_embeddings=True)
    with pytest.raises(UsageError, match="temporal_noise"):
        memory_network(temporal_noise=1.0)
    with pytest.raises(UsageError, match="gated_hops=4 must be in"):
        memory_network(gated_hops=4)
    with pytest.raises(UsageError, match="linear_start_steps"):
        memory_network(linear_start_steps=-1)
    with pytest.raises(UsageError, match="max_length"):
        memory_network()((np.ones((1, 21), "int32"), TARGET_IN))
