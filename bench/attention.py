"""Forward+backward throughput of zoo's MultiHeadAttention against Keras' and keras-hub's.

Each layer runs self-attention `layer(x, x, training=True)`, then the gradients of a mean
squared output with respect to its weights and its input, in one XLA-compiled
`tf.function`. The layers are timed in one process, alternating round by round, and the
report gives the median time per step and the ratio to `keras.layers.MultiHeadAttention`
(> 1 means faster than Keras).

    python bench/attention.py                 # the README table (a few minutes)
    python bench/attention.py --rounds 3 --steps 2 --shapes 32x128
"""

import argparse
import time

import zoo  # noqa: F401  (quiet TensorFlow logs first)

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo.layers import MultiHeadAttention

SHAPES = {"32x128": (32, 128), "8x512": (8, 512)}
LAYERS = {
    "keras": lambda heads, dim, rate: keras.layers.MultiHeadAttention(heads, dim, dropout=rate),
    "keras_hub": lambda heads, dim, rate: keras_hub.layers.CachedMultiHeadAttention(
        heads, dim, dropout=rate),
    "zoo": lambda heads, dim, rate: MultiHeadAttention(heads, dim, dropout=rate),
}


def train_step(layer, uses_keywords):
    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if uses_keywords:  # keras-hub's layer takes query/value by keyword
                y = layer(query=x, value=x, training=True)
            else:
                y = layer(x, x, training=True)
            loss = tf.reduce_mean(tf.square(tf.cast(y, "float32")))
        return loss, tape.gradient(loss, layer.trainable_variables + [x])

    return step


def measure(batch, length, width, heads, rate, rounds, steps):
    x = tf.random.normal((batch, length, width))
    steps_by_name = {}
    for name, make in LAYERS.items():
        layer = make(heads, width // heads, rate)
        step = train_step(layer, uses_keywords=name == "keras_hub")
        step(x)  # build and compile
        steps_by_name[name] = step
    seconds = {name: [] for name in steps_by_name}
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            start = time.perf_counter()
            for _ in range(steps):
                loss, _ = step(x)
            float(loss)
            seconds[name].append((time.perf_counter() - start) / steps)
    return {name: float(np.median(times)) for name, times in seconds.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--dropout", nargs="+", type=float, default=[0.0, 0.1])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    print(f"| batch x length | dropout | {' | '.join(f'{n} ms' for n in LAYERS)} "
          "| zoo vs keras | zoo vs keras_hub |")
    print("|---" * (len(LAYERS) + 4) + "|")
    for shape in args.shapes:
        batch, length = SHAPES[shape]
        for rate in args.dropout:
            median = measure(batch, length, args.width, args.heads, rate, args.rounds,
                             args.steps)
            cells = " | ".join(f"{median[n] * 1e3:.0f}" for n in LAYERS)
            print(f"| {batch} x {length} | {rate} | {cells} | "
                  f"{median['keras'] / median['zoo']:.2f}x | "
                  f"{median['keras_hub'] / median['zoo']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
