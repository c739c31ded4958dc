"""Dropout on CPU: `zoo.layers.Dropout` (32-bit hash masks) against `keras.layers.Dropout`.

A feed-forward block, `Dense(1024, relu) -> dropout -> Dense(256) -> dropout`, trains on
`(64, 32, 256)` float32 inputs (a Transformer layer's activations) with `train_on_batch`,
with and without XLA, alternating the two dropout layers in one process, and, as the
floor, with no dropout at all. `keras.layers.Dropout` draws Philox numbers through
`keras.random`; zoo hashes a counter with a 32-bit integer hash
(`zoo.layers.masking.random_keep_mask`). Reports the median milliseconds per step.

    python bench/dropout.py                  # the README table (about a minute)
    python bench/dropout.py --rounds 3 --rate 0.3
"""

import argparse
import time

import zoo  # noqa: F401  (quiet TensorFlow logs first)

import keras
import numpy as np

from zoo.layers import Dropout

DROPOUTS = {
    "none": lambda rate: keras.layers.Identity(),
    "keras": lambda rate: keras.layers.Dropout(rate, seed=1),
    "zoo": lambda rate: Dropout(rate, seed=1),
}


def block(make_dropout, rate, jit):
    inputs = keras.Input((32, 256))
    x = make_dropout(rate)(keras.layers.Dense(1024, activation="relu")(inputs))
    model = keras.Model(inputs, make_dropout(rate)(keras.layers.Dense(256)(x)))
    model.compile(optimizer="adam", loss="mse", jit_compile=jit)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 32, 256)).astype("float32")
    y = rng.normal(size=(64, 32, 256)).astype("float32")
    print("| XLA | no dropout ms | keras ms | zoo ms | dropout cost, keras / zoo |")
    print("|---|---|---|---|---|")
    for jit in (False, True):
        models = {name: block(make, args.rate, jit) for name, make in DROPOUTS.items()}
        for model in models.values():
            model.train_on_batch(x, y)  # trace and compile
        times = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    loss = model.train_on_batch(x, y)
                float(loss)
                times[name].append((time.perf_counter() - start) / args.steps * 1e3)
        none, keras_ms, zoo_ms = (float(np.median(times[n])) for n in ("none", "keras", "zoo"))
        print(f"| {'on' if jit else 'off'} | {none:.1f} | {keras_ms:.1f} | {zoo_ms:.1f} | "
              f"{(keras_ms - none) / max(zoo_ms - none, 1e-3):.1f}x |", flush=True)


if __name__ == "__main__":
    main()
