"""Decoding speed: `zoo.decoding` vs keras-hub's samplers vs naive prefix re-decoding.

Decodes 32 new tokens for a batch of 64 sources of 32 tokens with same-sized random-weight
Transformers (3+3 layers, d 256, 4 heads, ffn 1024, vocabulary 8,000):

- ours: `zoo.decoding.greedy_search` / `beam_search(beam_size=4)` on `transformer_small`
  (cached single-step decode inside one `ops.while_loop`), in a `tf.function`;
- keras-hub: `BartSeq2SeqLM.generate_step` (its cache, `GreedySampler` / `BeamSampler(4)`)
  on a BART of the same size, in a `tf.function` as `generate` does;
- keras-hub loop on our model: keras-hub's samplers driving our model's cached step
  through a `next(prompt, cache, index)` adapter (isolates the search loop);
- naive: the TensorFlow tutorial's way, re-running the whole model on the growing prefix
  every step (a `tf.function` per step, Python loop).

Each configuration is timed in alternating rounds in one process. Tokens/s are from the
best round; ratios are medians of per-round ratios (runs of one round are seconds apart, so
the machine's drift cancels), with quartiles against keras-hub's greedy search. Ids of
ours, of keras-hub's loop on our model and of the naive loop must be identical.

`--no_repeat_ngram_size N` adds "ours beam 4" with that n-gram blocking (same model,
same sources) and prints its time against plain "ours beam 4" (median of the per-round
ratios, quartiles); the script checks that no n-gram repeats in its outputs.

Run: `python bench/decoding.py [--rounds 3] [--xla] [--only greedy] [--no_repeat_ngram_size
3] [--skip_baselines]` (`--only` keeps the runs whose name contains one of the given words,
any case, and the baselines they need, unless `--skip_baselines`).
"""

import argparse
import statistics
import time

import zoo  # noqa: F401  (quiet TensorFlow first)

import keras
import keras_hub
import numpy as np
import tensorflow as tf

import zoo.models
from zoo import decoding

BATCH, SOURCE_LENGTH, NEW_TOKENS, VOCAB = 64, 32, 32, 8000
BOS = 2
NEVER = -1  # an EOS id that is never generated, so every run decodes all 32 tokens


def make_sources():
    rng = np.random.default_rng(0)
    return tf.constant(rng.integers(6, VOCAB, (BATCH, SOURCE_LENGTH)), tf.int32)


def mask_special(logits):
    ids = tf.range(tf.shape(logits)[-1])
    return tf.where((ids == 0) | (ids == BOS), -1e9, tf.cast(logits, tf.float32))


def ours(model, jit, no_repeat_ngram_size=0):
    greedy = tf.function(
        lambda x: decoding.greedy_search(model, x, NEW_TOKENS, eos_id=NEVER), jit_compile=jit)
    beam = tf.function(
        lambda x: decoding.beam_search(model, x, NEW_TOKENS, eos_id=NEVER, beam_size=4,
                                       no_repeat_ngram_size=no_repeat_ngram_size)[0],
        jit_compile=jit)
    return greedy, beam


def keras_hub_on_our_model(model, sampler, jit):
    """keras-hub's sampler loop over our model's cached decode step."""

    def generate(source):
        state = model.init_decode_state(model.encode(source), NEW_TOKENS + 1)

        def next(prompt, cache, index):
            tokens = tf.gather(prompt, index - 1, axis=1)
            logits, cache, _ = model.decode_step(tokens, index - 1, cache)
            logits = mask_special(logits)
            return logits, logits, cache

        prompt = tf.concat([tf.fill([BATCH, 1], BOS), tf.zeros([BATCH, NEW_TOKENS], tf.int32)],
                           axis=1)
        mask = tf.concat([tf.ones([BATCH, 1], bool), tf.zeros([BATCH, NEW_TOKENS], bool)], 1)
        return sampler(next, prompt, cache=state, index=1, mask=mask)[:, 1:]

    return tf.function(generate, jit_compile=jit)


def keras_hub_bart(sampler, jit):
    backbone = keras_hub.models.BartBackbone(
        vocabulary_size=VOCAB, num_layers=3, num_heads=4, hidden_dim=256,
        intermediate_dim=1024, dropout=0.1, max_sequence_length=64)
    lm = keras_hub.models.BartSeq2SeqLM(backbone=backbone, preprocessor=None)
    lm.compile(sampler=sampler)
    inputs = {
        "encoder_token_ids": make_sources(),
        "encoder_padding_mask": tf.ones([BATCH, SOURCE_LENGTH], bool),
        "decoder_token_ids": tf.concat(
            [tf.fill([BATCH, 1], BOS), tf.zeros([BATCH, NEW_TOKENS], tf.int32)], axis=1),
        "decoder_padding_mask": tf.concat(
            [tf.ones([BATCH, 1], bool), tf.zeros([BATCH, NEW_TOKENS], bool)], axis=1),
    }
    step = tf.function(lambda x: lm.generate_step(x, stop_token_ids=None)["decoder_token_ids"],
                       jit_compile=jit)
    return lambda _: step(inputs)


def naive(model):
    """The tutorial's loop: re-decode the whole prefix (and re-encode) every step."""
    last_logits = tf.function(lambda s, p: model((s, p), training=False)[:, -1],
                              reduce_retracing=True)

    def generate(source):
        prefix = tf.fill([BATCH, 1], BOS)
        for _ in range(NEW_TOKENS):
            tokens = tf.argmax(mask_special(last_logits(source, prefix)), -1, tf.int32)
            prefix = tf.concat([prefix, tokens[:, None]], axis=1)
        return prefix[:, 1:]

    return generate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="also time jit_compile=True")
    parser.add_argument("--only", nargs="+", default=(),
                        help="time only the runs whose name contains one of these words")
    parser.add_argument("--no_repeat_ngram_size", type=int, default=0,
                        help="also time beam 4 with this n-gram blocking (0: not)")
    parser.add_argument("--skip_baselines", action="store_true",
                        help="with --only: keep no baseline (naive, keras-hub BART)")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = zoo.models.build("transformer_small", source_vocab_size=VOCAB,
                             target_vocab_size=VOCAB, max_length=64)
    source = make_sources()
    model((source[:1], source[:1, :2]))
    jits = [False, True] if args.xla else [False]
    runs = {"naive prefix re-decoding": naive(model)}
    for jit in jits:
        tag = " (XLA)" if jit else ""
        greedy, beam = ours(model, jit)
        runs[f"ours greedy{tag}"] = greedy
        runs[f"ours beam 4{tag}"] = beam
        if args.no_repeat_ngram_size:
            runs[f"ours beam 4, no_repeat_ngram_size={args.no_repeat_ngram_size}{tag}"] = ours(
                model, jit, args.no_repeat_ngram_size)[1]
        runs[f"keras-hub GreedySampler, BART{tag}"] = keras_hub_bart(
            keras_hub.samplers.GreedySampler(), jit)
        runs[f"keras-hub BeamSampler(4), BART{tag}"] = keras_hub_bart(
            keras_hub.samplers.BeamSampler(num_beams=4), jit)
        runs[f"keras-hub GreedySampler, our model{tag}"] = keras_hub_on_our_model(
            model, keras_hub.samplers.GreedySampler(), jit)
        runs[f"keras-hub BeamSampler(4), our model{tag}"] = keras_hub_on_our_model(
            model, keras_hub.samplers.BeamSampler(num_beams=4), jit)

    if args.only:  # keep the selected runs and the baselines their columns need
        keep = [word.lower() for word in args.only]
        if not args.skip_baselines:
            keep += ["naive", "greedysampler, bart"]
            if any("beam" in word for word in keep):
                keep.append("beamsampler(4), bart")
        runs = {name: function for name, function in runs.items()
                if any(word in name.lower() for word in keep)}

    outputs, seconds = {}, {name: [] for name in runs}
    for name, function in runs.items():  # warm-up: tracing and compilation
        outputs[name] = np.asarray(function(source))
    for _ in range(args.rounds):
        for name, function in runs.items():
            start = time.perf_counter()
            np.asarray(function(source))
            seconds[name].append(time.perf_counter() - start)

    reference = outputs.get("naive prefix re-decoding")
    for name in runs:
        if reference is None:
            break
        if name.startswith("ours greedy") or name.startswith("keras-hub GreedySampler, our"):
            same = np.array_equal(outputs[name], reference)
            print(f"ids identical to naive: {name}: {same}")
            assert same, name

    n = args.no_repeat_ngram_size
    for name in runs:
        if f"no_repeat_ngram_size={n}" in name:
            for row in outputs[name]:
                grams = [tuple(row[i:i + n]) for i in range(len(row) - n + 1)]
                assert len(grams) == len(set(grams)), (name, row)
            plain = outputs["ours beam 4" + (" (XLA)" if "(XLA)" in name else "")]
            changed = np.mean(np.any(outputs[name] != plain, axis=-1))
            print(f"no {n}-gram repeats: {name}: True ({changed:.0%} of the outputs differ "
                  "from plain beam 4's)")

    def ratio(baseline, name, quartiles=False):
        if baseline not in seconds:
            return "-"
        ratios = [b / t for b, t in zip(seconds[baseline], seconds[name])]
        text = f"{statistics.median(ratios):.2f}x"
        if quartiles and len(ratios) > 1:
            low, _, high = statistics.quantiles(ratios, n=4)
            text += f" ({low:.2f}-{high:.2f})"
        return text

    print(f"\n{args.rounds} rounds; tokens/s from the best round, ratios: median of the "
          "per-round ratios (quartiles)")
    print("\n| run | new tokens/s | vs keras-hub greedy | vs keras-hub beam | vs naive |")
    print("|---|---|---|---|---|")
    for name in runs:
        tag = " (XLA)" if "(XLA)" in name else ""
        tokens = BATCH * NEW_TOKENS / min(seconds[name])
        print(f"| {name} | {tokens:,.0f} | "
              f"{ratio(f'keras-hub GreedySampler, BART{tag}', name, quartiles=True)} | "
              f"{ratio(f'keras-hub BeamSampler(4), BART{tag}', name)} | "
              f"{ratio('naive prefix re-decoding', name)} |")
    for name in runs:
        if f"no_repeat_ngram_size={n}" in name:
            plain = "ours beam 4" + (" (XLA)" if "(XLA)" in name else "")
            print(f"\ntime of {name} / time of {plain}: {ratio(name, plain, quartiles=True)}")


if __name__ == "__main__":
    main()
