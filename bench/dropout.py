"""Dropout on CPU: `zoo.layers.Dropout` (32-bit hash masks) against `keras.layers.Dropout`.

Each layer drops a float32 tensor in training mode inside one `tf.function`, with and
without XLA, alternating in one process; the report gives the median milliseconds per
call and zoo's speed-up. `keras.layers.Dropout` draws Philox numbers through
`keras.random`; zoo hashes a counter with a 32-bit integer hash
(`zoo.layers.masking.random_keep_mask`).

    python bench/dropout.py                  # the README table (about a minute)
    python bench/dropout.py --rounds 3 --shape 64x32x1024
"""

import argparse
import time

import zoo  # noqa: F401  (quiet TensorFlow logs first)

import keras
import numpy as np
import tensorflow as tf

from zoo.layers import Dropout


def compiled(layer, jit):
    @tf.function(jit_compile=jit)
    def step(x):
        return layer(x, training=True)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="64x32x1024,64x4x257x257")
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(f"| shape | XLA | keras ms | zoo ms | zoo speed-up |\n|---|---|---|---|---|")
    for text in args.shapes.split(","):
        shape = tuple(int(size) for size in text.split("x"))
        x = tf.random.normal(shape)
        for jit in (False, True):
            steps = {"keras": compiled(keras.layers.Dropout(args.rate, seed=1), jit),
                     "zoo": compiled(Dropout(args.rate, seed=1), jit)}
            for step in steps.values():
                step(x).numpy()  # trace and compile
            times = {name: [] for name in steps}
            for _ in range(args.rounds):
                for name, step in steps.items():
                    start = time.perf_counter()
                    for _ in range(args.steps):
                        y = step(x)
                    y.numpy()
                    times[name].append((time.perf_counter() - start) / args.steps * 1e3)
            keras_ms, zoo_ms = (float(np.median(times[name])) for name in ("keras", "zoo"))
            print(f"| {text} | {'on' if jit else 'off'} | {keras_ms:.1f} | {zoo_ms:.1f} | "
                  f"{keras_ms / zoo_ms:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
