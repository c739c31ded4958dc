"""Speed cost of the copy mechanism: pointer-generators against their plain twins.

Registry presets, built as the recipes build them (one shared vocabulary of 8,000 for both
sides, `max_length` 192): `transformer_small` against `transformer_pointer_generator`
(the same 3+3 layers, d 256, 4 heads, ffn 1024; the preset also shares its embeddings and
copies over the last layer's mean cross-attention), and `lstm_bahdanau` against
`lstm_pointer_generator` (256 units; coverage on with λ 1, its preset, and also off,
`coverage_loss_weight=0`, to separate the copy from the coverage). Shapes are AESLC's
(`recipes/configs/summarization_aeslc.flags`): batches of 32 emails of 192 source tokens
and 24 target tokens, random ids with some padding; no data files.

- Training: `train_on_batch` compiled as `recipes.summarization` compiles through
  `zoo.training.train` (Adam with warm-up and a cosine decay, label-smoothed masked
  cross-entropy, masked accuracy and the token count, no XLA). The pointer-generators
  return log-probabilities, which the same loss takes unchanged; the LSTM's coverage
  loss comes in through `model.losses`.
- Decoding: `zoo.decoding.greedy_search` and `beam_search(beam_size=4)` of 24 new tokens
  for the 32 sources, each in a `tf.function` (no XLA, as the recipes decode by default).
  Random weights; EOS is disabled so every run decodes all 24 tokens.
- The copy head alone: the scatter of the attention onto the vocabulary, the mixture with
  the generator's distribution and, for scale, the masked cross-entropy, forward and
  backward at the training shape (32 x 24 target steps) and forward at one beam step.

Each configuration is timed in alternating rounds in one process (the order within a round
flips every round). Steps/s and tokens/s are from the best round; the cost of the copy
mechanism is the median of the per-round ratios of pointer-generator time to plain time,
with quartiles (the runs of one round are seconds apart, so the machine's drift cancels).

Run: `python bench/pointer_generator.py [--rounds 4] [--steps 2]`
"""

import argparse
import datetime
import functools
import platform
import statistics
import time

import zoo  # noqa: F401  (quiet TensorFlow first)

import keras
import numpy as np
import tensorflow as tf

import zoo.models
from zoo import decoding, training
from zoo.models.pointer_generator import copy_distribution, mix_log_probs

BATCH, SOURCE_LENGTH, TARGET_LENGTH, VOCAB, BEAM = 32, 192, 24, 8000, 4
BOS = 2
NEVER = -1  # an EOS id that is never generated, so every run decodes all 24 tokens
# recipes/configs/summarization_aeslc.flags: 8 epochs of ceil(14,436 / 32) steps.
LEARNING_RATE, WARMUP_STEPS, TOTAL_STEPS = 1e-3, 400, 8 * 452
COVERAGE_OFF = "lstm_pointer_generator, coverage off"
PAIRS = (("transformer_small", "transformer_pointer_generator"),
         ("lstm_bahdanau", "lstm_pointer_generator"),
         ("lstm_bahdanau", COVERAGE_OFF))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def padded_ids(rng, length, shortest):
    """Random ids `(BATCH, length)` of random lengths in [shortest, length], 0-padded."""
    ids = rng.integers(6, VOCAB, (BATCH, length))
    lengths = rng.integers(shortest, length + 1, BATCH)
    lengths[0] = length
    return np.where(np.arange(length) < lengths[:, None], ids, 0).astype("int32")


def random_batch(seed=0):
    """`((source, target_in), target_out)`; target_in is BOS + target_out shifted."""
    rng = np.random.default_rng(seed)
    source = padded_ids(rng, SOURCE_LENGTH, SOURCE_LENGTH // 2)
    target = padded_ids(rng, TARGET_LENGTH, TARGET_LENGTH // 4)
    target_in = np.concatenate([np.full((BATCH, 1), BOS, "int32"), target[:, :-1]], axis=1)
    return (source, target_in), target


def build(name):
    keras.utils.set_random_seed(0)
    hparams = {"coverage_loss_weight": 0.0} if name == COVERAGE_OFF else {}
    return zoo.models.build(name.split(",")[0], source_vocab_size=VOCAB,
                            target_vocab_size=VOCAB, max_length=SOURCE_LENGTH, **hparams)


def compiled(model):
    """Compiled as `recipes.summarization` compiles it (via `zoo.training.train`)."""
    optimizer = training.build_optimizer(LEARNING_RATE, warmup_steps=WARMUP_STEPS,
                                         schedule="cosine", total_steps=TOTAL_STEPS)
    model.compile(optimizer=optimizer, loss=training.masked_sparse_crossentropy(0.1),
                  metrics=[training.masked_accuracy, training.TokenCount()],
                  jit_compile=False)
    return model


def trainer(model, batch, steps):
    inputs, targets = batch

    def run():
        for _ in range(steps):
            logs = model.train_on_batch(inputs, targets, return_dict=True)
        assert np.isfinite(logs["loss"]), model.name

    return run


def decoders(model, source):
    greedy = tf.function(
        lambda x: decoding.greedy_search(model, x, TARGET_LENGTH, eos_id=NEVER))
    beam = tf.function(
        lambda x: decoding.beam_search(model, x, TARGET_LENGTH, eos_id=NEVER,
                                       beam_size=BEAM)[0])
    return (lambda: np.asarray(greedy(source))), (lambda: np.asarray(beam(source)))


def alternate(runs, rounds):
    """Seconds of each run in each round; the first call of each (tracing) is not timed."""
    for run in runs.values():
        run()
    seconds = {name: [] for name in runs}
    for index in range(rounds):
        for name in (runs if index % 2 == 0 else reversed(runs)):
            start = time.perf_counter()
            runs[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def measure(models, batch, rounds, steps):
    """`{measurement: ({model name: seconds of each round}, units a run)}`."""
    source = tf.constant(batch[0][0])
    runs = {"training steps": {}, "greedy new tokens": {}, "beam 4 new tokens": {}}
    for name, model in models.items():
        runs["training steps"][name] = trainer(model, batch, steps)
        runs["greedy new tokens"][name], runs["beam 4 new tokens"][name] = decoders(
            model, source)
    results = {}
    for label, these in runs.items():
        start = time.perf_counter()
        units = steps if label == "training steps" else BATCH * TARGET_LENGTH
        results[label] = alternate(these, rounds), units
        print(f"  {label}: {time.perf_counter() - start:.0f} s", flush=True)
    return results


def cost(plain, pointer):
    """Median (quartiles) of the per-round ratios pointer-generator time / plain time."""
    ratios = [p / b for b, p in zip(plain, pointer)]
    text = f"{statistics.median(ratios):.2f}x"
    if len(ratios) > 1:
        low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
        text += f" ({low:.2f}-{high:.2f})"
    return text


def table(results):
    lines = ["| plain | pointer-generator | measurement | plain /s | pointer-generator /s "
             "| time vs plain |", "|---|---|---|---|---|---|"]
    for plain, pointer in PAIRS:
        for label, (seconds, units) in results.items():
            digits = 2 if label == "training steps" else 0
            rates = [f"{units / min(seconds[name]):,.{digits}f}" for name in (plain, pointer)]
            lines.append(f"| {plain} | {pointer} | {label} | {' | '.join(rates)} | "
                         f"{cost(seconds[plain], seconds[pointer])} |")
    return "\n".join(lines)


def outputs_and_gradients(function, inputs, backward):
    """The outputs (returned, so that graph pruning keeps the forward pass) and gradients."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = function(*inputs)
    if not backward:
        return outputs
    upstream = tf.ones_like(outputs) / tf.cast(tf.size(outputs), outputs.dtype)
    return outputs, tape.gradient(outputs, inputs, output_gradients=upstream)


def best_milliseconds(step, repeats):
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(np.asarray, step())
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def copy_head_parts(rows, backward, repeats=10):
    """Milliseconds (best of `repeats`) of the copy head's pieces over `rows` target steps."""
    rng = np.random.default_rng(1)
    source = tf.constant(random_batch()[0][0][np.arange(rows) % BATCH])
    attention = tf.nn.softmax(tf.constant(rng.normal(size=(rows, SOURCE_LENGTH)), tf.float32))
    logits = tf.constant(rng.normal(size=(rows, VOCAB)), tf.float32)
    copy = copy_distribution(attention, source, VOCAB)
    labels = tf.constant(rng.integers(1, VOCAB, rows), tf.int32)
    loss = training.masked_sparse_crossentropy(0.1)
    parts = {
        "copy scatter (copy_distribution)": (
            lambda a: copy_distribution(a, source, VOCAB), (attention,)),
        "mixture (mix_log_probs)": (
            lambda x, z, c: mix_log_probs(x, z, c)[0], (logits, tf.zeros((rows,)), copy)),
        "masked cross-entropy (both models)": (lambda x: loss(labels, x), (logits,)),
    }
    return {name: best_milliseconds(tf.function(functools.partial(
                outputs_and_gradients, function, inputs, backward)), repeats)
            for name, (function, inputs) in parts.items()}


def parts_table():
    shapes = {f"training, {BATCH} x {TARGET_LENGTH} steps, forward + backward":
              (BATCH * TARGET_LENGTH, True),
              f"one beam step, {BATCH} x {BEAM} rows, forward": (BATCH * BEAM, False)}
    timed = {label: copy_head_parts(*shape) for label, shape in shapes.items()}
    lines = ["| copy head piece | " + " | ".join(f"{label} (ms)" for label in timed) + " |",
             "|---" * (len(timed) + 1) + "|"]
    for name in next(iter(timed.values())):
        lines.append(f"| {name} | " + " | ".join(f"{ms[name]:.1f}" for ms in timed.values())
                     + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2, help="training steps a round")
    args = parser.parse_args()
    started = time.perf_counter()
    names = dict.fromkeys(name for pair in PAIRS for name in pair)
    models = {name: compiled(build(name)) for name in names}
    results = measure(models, random_batch(), args.rounds, args.steps)
    print(f"\n{cpu_name()}, {datetime.date.today()}: batch {BATCH}, source {SOURCE_LENGTH}, "
          f"target {TARGET_LENGTH}, vocabulary {VOCAB:,}; {args.rounds} rounds of "
          f"{args.steps} training steps / 1 decoding run; rates from the best round, "
          "time vs plain: median (quartiles) of the per-round ratios\n")
    print(table(results))
    print("\n" + parts_table())
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
