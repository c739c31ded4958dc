"""Training-step speed of Transformer variants at the NMT recipe's Multi30k batch shapes.

Each variant is `transformer_small` with `--hparams`-style overrides, compiled as
`recipes.nmt` compiles it (Adam with warm-up and clipping, label-smoothed masked
cross-entropy, no XLA unless `--jit`), and trained with `train_on_batch` on random ids in
three length-bucketed shapes of the recipe's Multi30k run (64 pairs of about 16 tokens,
vocabularies 3,500 / 2,900). Timed windows alternate between the variants in one process;
the script prints each variant's median step time and its speed relative to
`transformer_small`. `--jit` adds `transformer_small` compiled with XLA; the first steps
show what compiling costs (XLA compiles once per distinct batch shape).

    python bench/recipe_step.py intermediate_dim=512 num_encoder_layers=4,num_decoder_layers=2
    python bench/recipe_step.py --jit --windows 8
"""

import argparse
import time

import zoo  # noqa: F401  (quiet TensorFlow first)
import keras
import numpy as np

from recipes.driver import parse_hparams
from zoo import models, training

SOURCE_VOCABULARY, TARGET_VOCABULARY = 3500, 2900
# (source length, target length, pairs): a short, a median and a long Multi30k bucket with
# the recipe's token budget of 64 pairs x 16 tokens.
SHAPES = ((12, 13, 80), (16, 17, 64), (20, 21, 50))


def compiled_model(hparams, jit_compile, seed=0):
    keras.utils.set_random_seed(seed)
    model = models.build("transformer_small", source_vocab_size=SOURCE_VOCABULARY,
                         target_vocab_size=TARGET_VOCABULARY, **hparams)
    optimizer = training.build_optimizer(2e-3, clipnorm=1.0, warmup_steps=600,
                                         schedule="cosine", total_steps=3000)
    model.compile(optimizer=optimizer, loss=training.masked_sparse_crossentropy(0.1),
                  jit_compile=jit_compile)
    return model


def random_batches(rng):
    batches = []
    for source_length, target_length, pairs in SHAPES:
        source = rng.integers(4, SOURCE_VOCABULARY, (pairs, source_length))
        target = rng.integers(4, TARGET_VOCABULARY, (pairs, target_length + 1))
        source[:, -2:] = 0  # some padding, as in a bucket
        target[:, -2:] = 0
        batches.append(((source, target[:, :-1]), target[:, 1:]))
    return batches


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*",
                        help="hparams overrides, one variant each (e.g. intermediate_dim=512)")
    parser.add_argument("--jit", action="store_true", help="also time the baseline under XLA")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--steps", type=int, default=2, help="passes over the shapes a window")
    args = parser.parse_args()

    variants = {"transformer_small": ({}, False)}
    variants.update({text: (parse_hparams(text), False) for text in args.variants})
    if args.jit:
        variants["transformer_small, jit_compile"] = ({}, True)
    batches = random_batches(np.random.default_rng(0))

    compiled = {}
    for name, (hparams, jit_compile) in variants.items():
        compiled[name] = model = compiled_model(hparams, jit_compile)
        start = time.perf_counter()
        for inputs, labels in batches:
            model.train_on_batch(inputs, labels)
        print(f"{name}: {model.count_params() / 1e6:.2f}M parameters, first step of each of "
              f"{len(batches)} shapes {time.perf_counter() - start:.0f} s", flush=True)

    times = {name: [] for name in compiled}
    # The first pass after all the models are built runs several times slower (untimed).
    for window in range(args.windows + 1):
        for name, model in compiled.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                for inputs, labels in batches:
                    model.train_on_batch(inputs, labels)
            if window:
                times[name].append((time.perf_counter() - start) / (args.steps * len(batches)))

    baseline = np.median(times["transformer_small"])
    width = max(map(len, times))
    print(f"\n{'variant':<{width}} {'ms/step':>8} {'speed':>6}  windows (ms)")
    for name, seconds in times.items():
        median = np.median(seconds)
        print(f"{name:<{width}} {median * 1e3:8.0f} {baseline / median:5.2f}x  "
              f"{' '.join(str(round(s * 1e3)) for s in seconds)}")


if __name__ == "__main__":
    main()
