"""Greedy search, beam search and sampling (`zoo.decoding`).

The search logic is checked on `TableModel`, a hand-written model whose next-token
log-probabilities come from a transition table (plus a source bias and a decaying history),
so tests can build "a model made to make greedy choose wrong". The cache checks then run on
the registry's seq2seq models.
"""

import keras
import numpy as np
import pytest
from keras import ops

import zoo
import zoo.models
from zoo import decoding
from zoo.errors import UsageError

PAD, BOS, EOS = 0, 2, 3
VOCAB = 10


class TableModel(keras.Model):
    """A seq2seq model with the decoding interface and hand-set next-token scores.

    logits(step) = table[previous token] + source_bias[source tokens].sum()
                   + history @ mixing, history = 0.5 * history + one_hot(previous token).
    """

    def __init__(self, table, source_bias=None, mixing=None, max_length=16, **kwargs):
        super().__init__(**kwargs)
        self.table = ops.convert_to_tensor(np.asarray(table, "float32"))
        vocab = self.table.shape[-1]
        zeros = np.zeros((vocab, vocab))
        self.source_bias = ops.convert_to_tensor(
            np.asarray(zeros if source_bias is None else source_bias, "float32"))
        self.mixing = ops.convert_to_tensor(
            np.asarray(zeros if mixing is None else mixing, "float32"))
        self.target_vocab_size = self.source_vocab_size = vocab
        self.max_length = max_length

    def encode(self, source_ids, training=False):
        mask = ops.cast(source_ids != PAD, "float32")
        bias = ops.einsum("bs,bsv->bv", mask, ops.take(self.source_bias, source_ids, axis=0))
        return {"bias": bias, "mask": mask}

    def init_decode_state(self, state, max_length):
        history = ops.zeros_like(state["bias"])
        return {**state, "history": history}

    def decode_step(self, token_ids, step, state):
        history = 0.5 * state["history"] + ops.one_hot(token_ids, self.target_vocab_size)
        logits = ops.take(self.table, token_ids, axis=0) + state["bias"] + history @ self.mixing
        alignment = state["mask"] / ops.sum(state["mask"], axis=-1, keepdims=True)
        return logits, {**state, "history": history}, alignment

    def call(self, inputs):
        source_ids, target_in = inputs
        state = self.init_decode_state(self.encode(source_ids), target_in.shape[1])
        outputs = []
        for t in range(target_in.shape[1]):
            logits, state, _ = self.decode_step(target_in[:, t], t, state)
            outputs.append(logits)
        return ops.stack(outputs, axis=1)


def log_table(rows):
    """A (VOCAB, VOCAB) log-probability table; rows maps token -> {next: prob}."""
    table = np.full((VOCAB, VOCAB), -30.0, "float32")
    table[:, EOS] = 0.0  # unspecified rows end at once
    for token, nexts in rows.items():
        table[token] = -30.0
        for nxt, p in nexts.items():
            table[token, nxt] = np.log(p)
    return table


def sequence_log_prob(model, source, ids):
    """Log-probability of `ids` (1-D, ending at EOS or 0-padded) under `model`."""
    ids = [int(i) for i in ids if i != PAD]
    target_in = np.array([[BOS] + ids[:-1]], "int32")
    logits = model((np.array([source], "int32"), target_in))
    log_probs = ops.convert_to_numpy(ops.log_softmax(logits, axis=-1))[0]
    return float(sum(log_probs[t, tok] for t, tok in enumerate(ids)))


def naive_greedy(model, source_ids, max_length):
    """The tutorial's way: recompute the whole prefix every step (uncached)."""
    source_ids = np.asarray(source_ids, "int32")
    batch = source_ids.shape[0]
    prefix = np.full((batch, 1), BOS, "int32")
    finished = np.zeros(batch, bool)
    out = np.zeros((batch, max_length), "int32")
    for t in range(max_length):
        logits = ops.convert_to_numpy(model((source_ids, prefix), training=False))
        logits[..., [PAD, BOS]] = -np.inf  # decoding never emits padding or BOS
        tokens = np.where(finished, PAD, logits[:, -1].argmax(-1)).astype("int32")
        out[:, t] = tokens
        finished |= tokens == EOS
        prefix = np.concatenate([prefix, tokens[:, None]], axis=1)
        if finished.all():
            break
    return out


# Greedy picks 4 (p=0.4) whose continuations are all unlikely; 5 (p=0.35) then EOS is
# the most probable sequence: 0.4 * 0.22 = 0.088 < 0.35 * 0.95.
TRAP = log_table({
    BOS: {4: 0.4, 5: 0.35, 6: 0.25},
    4: {6: 0.22, 7: 0.2, 8: 0.2, 9: 0.19, EOS: 0.19},
    5: {EOS: 0.95, 6: 0.05},
})
SOURCE = [7, 8, 3]


@pytest.fixture
def trap_model():
    return TableModel(TRAP)


def test_greedy_follows_the_table_and_stops_at_eos(trap_model):
    ids = ops.convert_to_numpy(decoding.greedy_search(trap_model, [SOURCE], 6))
    # 4, then its most probable continuation 6, whose row ends at once.
    np.testing.assert_array_equal(ids, [[4, 6, EOS, 0, 0, 0]])
    assert ids.dtype == np.int32


def test_beam_search_finds_the_higher_scoring_sequence(trap_model):
    greedy = ops.convert_to_numpy(decoding.greedy_search(trap_model, [SOURCE], 6))[0]
    ids, scores = decoding.beam_search(trap_model, [SOURCE], 6, beam_size=3,
                                       length_penalty=0.0)
    ids = ops.convert_to_numpy(ids)[0]
    np.testing.assert_array_equal(ids, [5, EOS, 0, 0, 0, 0])
    beam_log_prob = sequence_log_prob(trap_model, SOURCE, ids)
    assert beam_log_prob > sequence_log_prob(trap_model, SOURCE, greedy) + 1.0
    np.testing.assert_allclose(ops.convert_to_numpy(scores)[0], beam_log_prob, rtol=1e-5)


def test_beam_size_one_equals_greedy():
    rng = np.random.default_rng(0)
    model = TableModel(rng.normal(0, 2, (VOCAB, VOCAB)), rng.normal(0, 1, (VOCAB, VOCAB)),
                       rng.normal(0, 1, (VOCAB, VOCAB)))
    source = rng.integers(4, VOCAB, (5, 4)).astype("int32")
    greedy = decoding.greedy_search(model, source, 12)
    ids, _ = decoding.beam_search(model, source, 12, beam_size=1)
    np.testing.assert_array_equal(ops.convert_to_numpy(ids), ops.convert_to_numpy(greedy))


def test_length_penalty_favours_longer_hypotheses_as_alpha_grows():
    # Short: 4 EOS, log P = log 0.5 + log 1.0. Long: 5 6 7 8 EOS, log P = log 0.45
    # + 4 log 0.95, lower, but its length penalty grows faster with alpha.
    table = log_table({BOS: {4: 0.5, 5: 0.45, 9: 0.05}, 4: {EOS: 1.0},
                       5: {6: 0.95, EOS: 0.05}, 6: {7: 0.95, EOS: 0.05},
                       7: {8: 0.95, EOS: 0.05}, 8: {EOS: 1.0}})
    model = TableModel(table)
    short, long = [4, EOS], [5, 6, 7, 8, EOS]
    chosen = {}
    for alpha in (0.0, 2.0):
        ids, scores = decoding.beam_search(model, [SOURCE], 8, beam_size=4,
                                           length_penalty=alpha)
        chosen[alpha] = [int(i) for i in ops.convert_to_numpy(ids)[0] if i]
        best = chosen[alpha]
        expected = sequence_log_prob(model, SOURCE, best) / ((5 + len(best)) / 6) ** alpha
        np.testing.assert_allclose(ops.convert_to_numpy(scores)[0], expected, rtol=1e-5)
    assert chosen == {0.0: short, 2.0: long}


def test_n_best_is_sorted_and_distinct(trap_model):
    ids, scores = decoding.beam_search(trap_model, [SOURCE, SOURCE], 6, beam_size=4,
                                       num_return=3, length_penalty=0.6)
    ids, scores = ops.convert_to_numpy(ids), ops.convert_to_numpy(scores)
    assert ids.shape == (2, 3, 6) and scores.shape == (2, 3)
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert len({tuple(row) for row in ids[0]}) == 3
    for hypothesis, score in zip(ids[0], scores[0]):
        length = int((hypothesis != PAD).sum())
        expected = sequence_log_prob(trap_model, SOURCE, hypothesis) / ((5 + length) / 6) ** 0.6
        np.testing.assert_allclose(score, expected, rtol=1e-5)


def test_max_length_cuts_sequences_that_never_end():
    loop = log_table({BOS: {4: 1.0}, 4: {4: 0.9, EOS: 0.1}})
    model = TableModel(loop)
    ids = ops.convert_to_numpy(decoding.greedy_search(model, [SOURCE], 5))
    np.testing.assert_array_equal(ids, [[4, 4, 4, 4, 4]])
    beam_ids, _ = decoding.beam_search(model, [SOURCE], 5, beam_size=2, length_penalty=0.0)
    beam_ids = ops.convert_to_numpy(beam_ids)
    # 4 4 4 4 4 (0.9^4) is more probable than 4 EOS (0.1): the best beam is cut.
    np.testing.assert_array_equal(beam_ids, [[4, 4, 4, 4, 4]])


def test_alignment_is_returned_for_the_chosen_hypothesis(trap_model):
    source = np.array([[7, 8, 3, 0], [7, 3, 0, 0]], "int32")
    ids, _, alignment = decoding.beam_search(trap_model, source, 5, beam_size=2,
                                             return_alignment=True)
    alignment = ops.convert_to_numpy(alignment)
    assert alignment.shape == (2, 5, 4)
    np.testing.assert_allclose(alignment[0, 0], [1 / 3, 1 / 3, 1 / 3, 0], rtol=1e-6)
    np.testing.assert_allclose(alignment[1, 1], [0.5, 0.5, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(alignment[:, 2:], 0.0)  # after EOS
    _, greedy_alignment = decoding.greedy_search(trap_model, source, 5,
                                                 return_alignment=True)
    np.testing.assert_allclose(ops.convert_to_numpy(greedy_alignment)[1, 0], [0.5, 0.5, 0, 0],
                               rtol=1e-6)


def test_sampling_respects_top_k_and_is_reproducible_with_a_seed():
    rng = np.random.default_rng(1)
    model = TableModel(rng.normal(0, 1, (VOCAB, VOCAB)))
    source = np.tile(np.array([SOURCE], "int32"), (64, 1))
    a = ops.convert_to_numpy(decoding.sample(model, source, 6, top_k=1, seed=3))
    np.testing.assert_array_equal(a, ops.convert_to_numpy(
        decoding.greedy_search(model, source, 6)))
    b = ops.convert_to_numpy(decoding.sample(model, source, 6, temperature=2.0, seed=7))
    c = ops.convert_to_numpy(decoding.sample(model, source, 6, temperature=2.0, seed=7))
    np.testing.assert_array_equal(b, c)
    assert len({tuple(row) for row in b}) > 1
    first = ops.convert_to_numpy(decoding.sample(model, source, 1, top_k=2, seed=5))[:, 0]
    row = ops.convert_to_numpy(model.table)[BOS].copy()
    row[[PAD, BOS]] = -np.inf  # never generated
    allowed = set(np.argsort(-row)[:2])
    assert set(first) <= allowed and len(set(first)) == 2


def test_top_p_keeps_the_nucleus_only():
    model = TableModel(log_table({BOS: {4: 0.5, 5: 0.3, 6: 0.15, 7: 0.05}}))
    source = np.tile(np.array([SOURCE], "int32"), (200, 1))
    first = ops.convert_to_numpy(decoding.sample(model, source, 1, top_p=0.7, seed=0))
    assert set(first[:, 0]) == {4, 5}


@pytest.mark.parametrize("kwargs, message", [
    ({"max_length": 0}, "max_length"),
    ({"max_length": 99}, "max_length=16"),
    ({"source_ids": np.zeros((0, 3), "int32")}, "empty"),
    ({"source_ids": np.array([[4, 99]], "int32")}, "vocabulary"),
    ({"source_ids": np.ones((1, 20), "int32")}, "truncate"),
    ({"beam_size": 2, "num_return": 3}, "num_return"),
])
def test_bad_input_raises_a_usage_error(trap_model, kwargs, message):
    arguments = {"source_ids": [SOURCE], "max_length": 4, **kwargs}
    with pytest.raises(UsageError, match=message):
        decoding.beam_search(trap_model, **arguments)


def test_sampling_rejects_bad_filters(trap_model):
    with pytest.raises(UsageError, match="temperature"):
        decoding.sample(trap_model, [SOURCE], 4, temperature=0)
    with pytest.raises(UsageError, match="top_p"):
        decoding.sample(trap_model, [SOURCE], 4, top_p=1.5)


# --- Decoding controls: min_length and no_repeat_ngram_size ---------------------------

# Without min_length, EOS comes at once; each extra required token has one best choice:
# min_length=1: 4 EOS (0.3 * 0.5); 2: 4 5 EOS (0.3 * 0.4 * 0.5); 3: 4 5 6 EOS.
EARLY_EOS = log_table({
    BOS: {EOS: 0.6, 4: 0.3, 5: 0.1},
    4: {EOS: 0.5, 5: 0.4, 6: 0.1},
    5: {EOS: 0.5, 6: 0.35, 4: 0.15},
    6: {EOS: 0.9, 4: 0.1},
})
# Greedy loops 4 5 4 5 ...; each n bans a different continuation (see the test).
LOOP = log_table({
    BOS: {4: 0.6, 6: 0.4},
    4: {5: 0.8, 6: 0.2},
    5: {4: 0.7, 6: 0.2, EOS: 0.1},
    6: {EOS: 0.9, 4: 0.1},
})


def random_model(seed):
    """A model whose next token depends on the source and the decayed history."""
    rng = np.random.default_rng(seed)
    return TableModel(rng.normal(0, 2, (VOCAB, VOCAB)), rng.normal(0, 1, (VOCAB, VOCAB)),
                      rng.normal(0, 1, (VOCAB, VOCAB)))


def ngrams(tokens, n):
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def assert_controls_hold(ids, min_length, ngram_size):
    """Every output row (any leading shape): EOS not before min_length, no n-gram twice."""
    for row in np.asarray(ids).reshape(-1, np.shape(ids)[-1]):
        tokens = [int(t) for t in row if t != PAD]
        if EOS in tokens:
            assert tokens.index(EOS) >= min_length, row
        if ngram_size:
            grams = ngrams(tokens, ngram_size)
            assert len(grams) == len(set(grams)), row


def reference_beam_search(model, source, max_length, beam_size, length_penalty=0.6,
                          min_length=0, ngram_size=0):
    """Beam search over one source in numpy, from uncached full-model calls, with the
    bans applied by brute force (the n-grams of each hypothesis as Python tuples).

    Returns the `(tokens, score)` hypotheses, best first (banned continuations are never
    kept, so fewer than `beam_size` remain when too few are allowed).
    """
    def penalty(length):
        return ((5.0 + length) / 6.0) ** length_penalty

    beams = [([], 0.0, False)]  # (tokens, log-probability, finished)
    for step in range(max_length):
        prefixes = np.array([[BOS] + tokens for tokens, _, _ in beams], "int32")
        logits = ops.convert_to_numpy(model((np.repeat([source], len(beams), 0), prefixes)))
        candidates = []
        for (tokens, log_prob, finished), row in zip(beams, logits[:, -1].astype("float64")):
            if finished:  # extends with padding only
                length = sum(t != PAD for t in tokens)
                candidates.append((log_prob / penalty(length), tokens + [PAD], log_prob, True))
                continue
            row[[PAD, BOS]] = -np.inf
            log_probs = row - np.logaddexp.reduce(row)
            banned = {EOS} if step < min_length else set()
            if ngram_size:
                tail = tuple(tokens[max(0, len(tokens) - ngram_size + 1):]) \
                    if ngram_size > 1 else ()
                banned |= {g[-1] for g in ngrams(tokens, ngram_size) if g[:-1] == tail}
            for token in range(len(log_probs)):
                if token in banned or not np.isfinite(log_probs[token]):
                    continue
                total = log_prob + log_probs[token]
                candidates.append((total / penalty(len(tokens) + 1), tokens + [token], total,
                                   token == EOS))
        candidates.sort(key=lambda c: -c[0])  # stable: beam order, then token order
        beams = [(tokens, total, done) for _, tokens, total, done in candidates[:beam_size]]
        if all(done for _, _, done in beams):
            break
    return [(tokens, total / penalty(sum(t != PAD for t in tokens)))
            for tokens, total, _ in beams]


def padded(tokens, max_length):
    return list(tokens) + [PAD] * (max_length - len(tokens))


def test_default_controls_leave_outputs_unchanged():
    """Outputs of the code before the controls existed (same under jax and tensorflow)."""
    model = random_model(11)
    source = np.array([[7, 4, 9], [7, 8, 7], [6, 9, 4], [6, 8, 8]], "int32")
    greedy = [[9, 5, 9, 5, 9, 5, 9, 5, 9], [9, 3, 0, 0, 0, 0, 0, 0, 0],
              [9, 5, 9, 5, 9, 5, 9, 5, 9], [3, 0, 0, 0, 0, 0, 0, 0, 0]]
    beam = [[[9, 5, 9, 5, 9, 5, 9, 5, 9], [9, 5, 1, 9, 5, 9, 5, 9, 5]],
            [[9, 3, 0, 0, 0, 0, 0, 0, 0], [9, 4, 1, 9, 3, 0, 0, 0, 0]],
            [[9, 5, 9, 5, 9, 5, 9, 5, 9], [9, 5, 1, 9, 5, 9, 5, 9, 5]],
            [[3, 0, 0, 0, 0, 0, 0, 0, 0], [9, 3, 0, 0, 0, 0, 0, 0, 0]]]
    scores = [[-2.10756, -2.63594], [-1.32889, -2.79258], [-2.249, -2.69367],
              [-0.98289, -1.56871]]
    for controls in ({}, {"min_length": 0, "no_repeat_ngram_size": 0}):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(decoding.greedy_search(model, source, 9, **controls)), greedy)
        ids, best = decoding.beam_search(model, source, 9, beam_size=3, num_return=2,
                                         **controls)
        np.testing.assert_array_equal(ops.convert_to_numpy(ids), beam)
        np.testing.assert_allclose(ops.convert_to_numpy(best), scores, atol=2e-5)


@pytest.mark.parametrize("min_length, expected", [
    (0, [EOS]), (1, [4, EOS]), (2, [4, 5, EOS]), (3, [4, 5, 6, EOS])])
def test_min_length_delays_eos_under_greedy_and_beam(min_length, expected):
    model = TableModel(EARLY_EOS)
    greedy = ops.convert_to_numpy(decoding.greedy_search(model, [SOURCE], 6,
                                                         min_length=min_length))[0]
    np.testing.assert_array_equal(greedy, padded(expected, 6))
    ids, scores = decoding.beam_search(model, [SOURCE], 6, beam_size=2, length_penalty=0.0,
                                       min_length=min_length)
    np.testing.assert_array_equal(ops.convert_to_numpy(ids)[0], padded(expected, 6))
    # Banned tokens are not renormalised away: the score is the model's log-probability.
    np.testing.assert_allclose(ops.convert_to_numpy(scores)[0],
                               sequence_log_prob(model, SOURCE, expected), rtol=1e-5)


@pytest.mark.parametrize("ngram_size, expected", [
    (0, [4, 5, 4, 5, 4, 5, 4, 5]),
    # 4 5 bans 5 after the next 4: 4 5 4 6, then 6's EOS.
    (2, [4, 5, 4, 6, EOS]),
    # 4 5 4 bans 4 after the next 4 5: 4 5 4 5 6 EOS.
    (3, [4, 5, 4, 5, 6, EOS]),
    # No token twice: after 4 5, 6 (0.2) beats EOS (0.1), then EOS.
    (1, [4, 5, 6, EOS]),
])
def test_no_repeat_ngram_size_under_greedy_and_beam(ngram_size, expected):
    model = TableModel(LOOP)
    greedy = ops.convert_to_numpy(decoding.greedy_search(
        model, [SOURCE], 8, no_repeat_ngram_size=ngram_size))[0]
    np.testing.assert_array_equal(greedy, padded(expected, 8))
    ids, scores = decoding.beam_search(model, [SOURCE], 8, beam_size=3, num_return=3,
                                       no_repeat_ngram_size=ngram_size)
    ids = ops.convert_to_numpy(ids)
    if ngram_size:
        assert_controls_hold(ids, 0, ngram_size)
    else:  # without the control the loop is in the n-best (second, after 6 EOS)
        assert [4, 5, 4, 5, 4, 5, 4, 5] in ids[0].tolist()
    reference = reference_beam_search(model, SOURCE, 8, 3, ngram_size=ngram_size)
    np.testing.assert_array_equal(ids[0], [padded(t, 8) for t, _ in reference])
    np.testing.assert_allclose(ops.convert_to_numpy(scores)[0], [s for _, s in reference],
                               rtol=1e-5)


@pytest.mark.parametrize("seed, min_length, ngram_size", [
    (0, 3, 2), (1, 0, 3), (2, 2, 1), (11, 4, 2)])
def test_controls_match_a_brute_force_reference(seed, min_length, ngram_size):
    """Greedy (= beam 1) and beam 3's n-best, with length penalty, equal a numpy beam
    search whose bans come from each hypothesis' own n-grams: the bans are per beam,
    after the beams were reordered."""
    model = random_model(seed)
    source = np.random.default_rng(seed + 100).integers(4, VOCAB, (3, 3)).astype("int32")
    controls = {"min_length": min_length, "no_repeat_ngram_size": ngram_size}
    greedy = ops.convert_to_numpy(decoding.greedy_search(model, source, 8, **controls))
    ids, scores = decoding.beam_search(model, source, 8, beam_size=3, num_return=3,
                                       length_penalty=0.6, **controls)
    ids, scores = ops.convert_to_numpy(ids), ops.convert_to_numpy(scores)
    assert_controls_hold(greedy, min_length, ngram_size)
    assert_controls_hold(ids, min_length, ngram_size)
    for row in range(len(source)):
        [(best, _)] = reference_beam_search(model, source[row], 8, 1, **_ref(controls))
        np.testing.assert_array_equal(greedy[row], padded(best, 8))
        reference = reference_beam_search(model, source[row], 8, 3, **_ref(controls))
        assert len(reference) == 3
        np.testing.assert_array_equal(ids[row], [padded(t, 8) for t, _ in reference])
        np.testing.assert_allclose(scores[row], [s for _, s in reference], rtol=1e-5)


def _ref(controls):
    return {"min_length": controls["min_length"],
            "ngram_size": controls["no_repeat_ngram_size"]}


def test_controls_compose_with_n_best_and_alignment():
    model = TableModel(LOOP)
    source = np.array([[7, 8, 3, 0], [7, 3, 0, 0]], "int32")
    controls = {"min_length": 3, "no_repeat_ngram_size": 2}
    ids, scores, alignment = decoding.beam_search(model, source, 8, beam_size=3,
                                                  num_return=2, return_alignment=True,
                                                  **controls)
    ids, alignment = ops.convert_to_numpy(ids), ops.convert_to_numpy(alignment)
    assert ids.shape == (2, 2, 8) and alignment.shape == (2, 2, 8, 4)
    assert_controls_hold(ids, 3, 2)
    np.testing.assert_allclose(alignment[1, 0, 0], [0.5, 0.5, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(alignment[ids == PAD], 0.0)  # after EOS
    greedy, greedy_alignment = decoding.greedy_search(model, source, 8,
                                                      return_alignment=True, **controls)
    greedy = ops.convert_to_numpy(greedy)
    assert_controls_hold(greedy, 3, 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(greedy_alignment)[greedy == PAD], 0.0)


def test_sampling_obeys_the_controls():
    source = np.tile(np.array([SOURCE], "int32"), (64, 1))
    early = TableModel(EARLY_EOS)
    free = ops.convert_to_numpy(decoding.sample(early, source, 6, seed=3))
    assert (free[:, 0] == EOS).any()  # EOS first is the most probable start
    held = ops.convert_to_numpy(decoding.sample(early, source, 6, seed=3, min_length=2))
    assert_controls_hold(held, 2, 0)
    assert (held[:, 2] == EOS).any()
    loop = TableModel(LOOP)
    free = ops.convert_to_numpy(decoding.sample(loop, source, 8, seed=4))
    assert any(len(set(ngrams(list(row), 2))) < len(ngrams(list(row), 2)) for row in free)
    held = ops.convert_to_numpy(decoding.sample(loop, source, 8, seed=4,
                                                no_repeat_ngram_size=2))
    assert_controls_hold(held, 0, 2)


@pytest.mark.parametrize("kwargs, message", [
    ({"min_length": -1}, "min_length must be"),
    ({"min_length": 1.5}, "min_length must be"),
    ({"min_length": 5}, "min_length=5 exceeds max_length=4"),
    ({"no_repeat_ngram_size": -2}, "no_repeat_ngram_size must be"),
    ({"no_repeat_ngram_size": True}, "no_repeat_ngram_size must be"),
])
@pytest.mark.parametrize("search", ["greedy_search", "beam_search", "sample"])
def test_bad_controls_raise_a_usage_error(trap_model, search, kwargs, message):
    with pytest.raises(UsageError, match=message):
        getattr(decoding, search)(trap_model, [SOURCE], 4, **kwargs)


# --- Registry models -----------------------------------------------------------------

SEQ2SEQ_SMALL = {
    "lstm_bahdanau": {"units": 16, "embedding_dim": 8},
    "lstm_luong": {"units": 16, "embedding_dim": 8},
    "transformer_tiny": {},
}


def small_model(name):
    if name not in zoo.models.names():
        pytest.skip(f"{name} is not registered yet")
    model = zoo.models.build(name, source_vocab_size=30, target_vocab_size=30,
                             max_length=16, **SEQ2SEQ_SMALL[name])
    model((np.ones((1, 2), "int32"), np.ones((1, 2), "int32")))  # creates the weights
    return model


def ragged_sources():
    rng = np.random.default_rng(2)
    lengths = [7, 3, 1]
    source = np.zeros((len(lengths), 8), "int32")
    for row, length in enumerate(lengths):
        source[row, :length] = rng.integers(4, 30, length)
    return source, lengths


@pytest.mark.parametrize("name", list(SEQ2SEQ_SMALL))
def test_cached_greedy_equals_uncached_recomputation(name):
    model = small_model(name)
    source, _ = ragged_sources()
    cached = ops.convert_to_numpy(decoding.greedy_search(model, source, 10))
    np.testing.assert_array_equal(cached, naive_greedy(model, source, 10))


@pytest.mark.parametrize("name", list(SEQ2SEQ_SMALL))
def test_batched_decoding_equals_decoding_each_alone(name):
    model = small_model(name)
    source, lengths = ragged_sources()
    greedy = ops.convert_to_numpy(decoding.greedy_search(model, source, 8))
    beam, scores = decoding.beam_search(model, source, 8, beam_size=3)
    beam, scores = ops.convert_to_numpy(beam), ops.convert_to_numpy(scores)
    for row, length in enumerate(lengths):
        alone = source[row:row + 1, :length]
        np.testing.assert_array_equal(
            ops.convert_to_numpy(decoding.greedy_search(model, alone, 8))[0], greedy[row])
        ids, score = decoding.beam_search(model, alone, 8, beam_size=3)
        np.testing.assert_array_equal(ops.convert_to_numpy(ids)[0], beam[row])
        np.testing.assert_allclose(ops.convert_to_numpy(score)[0], scores[row], atol=1e-4)


def test_controls_on_a_registry_model_match_the_reference():
    """The cached step under the controls equals uncached recomputation with brute-force
    bans (the untrained model repeats itself, so the bans bite)."""
    model = small_model("lstm_bahdanau")
    source, lengths = ragged_sources()
    controls = {"min_length": 3, "no_repeat_ngram_size": 2}
    free, _ = decoding.beam_search(model, source, 8, beam_size=3, num_return=3)
    with pytest.raises(AssertionError):
        assert_controls_hold(ops.convert_to_numpy(free), 3, 2)
    greedy = ops.convert_to_numpy(decoding.greedy_search(model, source, 8, **controls))
    ids, scores = decoding.beam_search(model, source, 8, beam_size=3, num_return=3,
                                       **controls)
    ids, scores = ops.convert_to_numpy(ids), ops.convert_to_numpy(scores)
    for row, length in enumerate(lengths):
        alone = source[row, :length]
        [(best, _)] = reference_beam_search(model, alone, 8, 1, **_ref(controls))
        np.testing.assert_array_equal(greedy[row], padded(best, 8))
        reference = reference_beam_search(model, alone, 8, 3, **_ref(controls))
        np.testing.assert_array_equal(ids[row], [padded(t, 8) for t, _ in reference])
        np.testing.assert_allclose(scores[row], [s for _, s in reference], atol=1e-4)


def _graph_op_types(graph):
    """The op types of a traced TensorFlow graph, loop bodies included."""
    graph_def = graph.as_graph_def()
    op_types = {node.op for node in graph_def.node}
    for library_function in graph_def.library.function:
        op_types |= {node.op for node in library_function.node_def}
    return op_types


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function export")
@pytest.mark.parametrize("name", ["lstm_bahdanau",
                                  pytest.param("transformer_tiny", marks=pytest.mark.slow)])
def test_decoding_traces_into_tf_function_without_xla_ops(name):
    import tensorflow as tf

    model = small_model(name)
    source, _ = ragged_sources()
    spec = tf.TensorSpec([None, None], tf.int32)
    controls = {"min_length": 2, "no_repeat_ngram_size": 2}
    searches = {
        "greedy": lambda x: decoding.greedy_search(model, x, 8),
        "beam": lambda x: decoding.beam_search(model, x, 8, beam_size=2)[0],
        "greedy, controls": lambda x: decoding.greedy_search(model, x, 8, **controls),
        "beam, controls": lambda x: decoding.beam_search(model, x, 8, beam_size=2,
                                                         **controls)[0],
    }
    for label, search in searches.items():
        function = tf.function(search)
        op_types = _graph_op_types(function.get_concrete_function(spec).graph)
        assert "While" in op_types or "StatelessWhile" in op_types
        assert not [op for op in op_types if op.startswith("Xla")]
        # The n-gram bans' scatter (a stock op) is only there when asked for.
        assert ("ScatterNd" in op_types) == ("controls" in label)
        np.testing.assert_array_equal(function(source).numpy(),
                                      ops.convert_to_numpy(search(source)))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow graph ops")
def test_greedy_search_avoids_keras_float_argmax_passes():
    """Keras' TensorFlow argmax bit-casts the logits to order -0.0 (four extra passes over
    them a step); greedy search calls tf.argmax instead (bench/README.md, Decoding)."""
    import tensorflow as tf

    model = small_model("lstm_bahdanau")
    function = tf.function(lambda x: decoding.greedy_search(model, x, 8))
    op_types = _graph_op_types(
        function.get_concrete_function(tf.TensorSpec([None, None], tf.int32)).graph)
    assert "ArgMax" in op_types
    assert "Bitcast" not in op_types


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="XLA via tf.function")
def test_beam_search_compiles_with_xla():
    import tensorflow as tf

    model = small_model("lstm_bahdanau")
    source, _ = ragged_sources()
    for controls in ({}, {"min_length": 2, "no_repeat_ngram_size": 2}):
        compiled = tf.function(
            lambda x: decoding.beam_search(model, x, 8, beam_size=2, **controls),
            jit_compile=True)
        ids, scores = compiled(tf.constant(source))
        expected_ids, expected_scores = decoding.beam_search(model, source, 8, beam_size=2,
                                                             **controls)
        np.testing.assert_array_equal(ids.numpy(), ops.convert_to_numpy(expected_ids))
        np.testing.assert_allclose(scores.numpy(), ops.convert_to_numpy(expected_scores),
                                   atol=1e-4)
