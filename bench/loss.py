"""Cost of the training loss and its gradient: zoo's masked cross-entropy vs Keras' losses.

The value and the gradient with respect to the logits, in one `tf.function`, with and
without XLA, at a Multi30k batch of the NMT recipe (64 x 17 target tokens, 2,900 subwords)
and at the Transformer step benchmark's batch (64 x 32, 8,000). Compared: zoo's
`MaskedSparseCrossentropy` without and with label smoothing 0.1; Keras'
`SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)` (no label smoothing);
Keras' `CategoricalCrossentropy(label_smoothing=0.1)` on one-hot targets, the Keras way
to smooth labels. Median ms of alternating windows in one process.

    python bench/loss.py
    python bench/loss.py --windows 11 --shapes 64x17x2900
"""

import argparse
import time

import zoo  # noqa: F401  (quiet TensorFlow first)
import keras
import numpy as np
import tensorflow as tf

from zoo.training import masked_sparse_crossentropy


def losses():
    sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    dense = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    return {
        "keras SparseCategoricalCrossentropy": sparse,
        "zoo MaskedSparseCrossentropy": masked_sparse_crossentropy(0.0),
        "keras CategoricalCrossentropy, smoothing 0.1": (
            lambda labels, logits: dense(tf.one_hot(labels, logits.shape[-1]), logits,
                                         sample_weight=tf.cast(labels != 0, tf.float32))),
        "zoo MaskedSparseCrossentropy, smoothing 0.1": masked_sparse_crossentropy(0.1),
    }


def value_and_gradient(loss, jit_compile):
    @tf.function(jit_compile=jit_compile)
    def step(labels, logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = loss(labels, logits)
        return value, tape.gradient(value, logits)

    return step


def time_window(step, labels, logits, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        value, gradient = step(labels, logits)
    gradient.numpy()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="64x17x2900,64x32x8000",
                        help="batch x target length x vocabulary, comma-separated")
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        batch, length, vocab = map(int, shape.split("x"))
        logits = tf.constant(rng.normal(size=(batch, length, vocab)), tf.float32)
        real = rng.random((batch, length)) < 0.9
        labels = tf.constant(np.where(real, rng.integers(1, vocab, (batch, length)), 0),
                             tf.int32)
        for jit_compile in (False, True):
            steps = {name: value_and_gradient(loss, jit_compile)
                     for name, loss in losses().items()}
            times = {name: [] for name in steps}
            for name, step in steps.items():  # trace and warm up
                time_window(step, labels, logits, 1)
            for _ in range(args.windows):
                for name, step in steps.items():
                    times[name].append(time_window(step, labels, logits, args.repeats))
            print(f"\n{batch} x {length} tokens, vocabulary {vocab}, "
                  f"{'XLA' if jit_compile else 'no XLA'}: loss and gradient, median ms")
            names = list(steps)
            for index, name in enumerate(names):
                median = float(np.median(times[name])) * 1e3
                keras_name = names[index - index % 2]
                ratio = np.median(times[keras_name]) * 1e3 / median
                print(f"  {name:46s} {median:7.1f}   {ratio:.2f}x the Keras loss")


if __name__ == "__main__":
    main()
