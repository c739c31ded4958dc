"""The fastest the benchmark's Transformer training step could be on this machine.

Times, in one process, the XLA training steps of `bench/transformer_train.py` (keras-hub and
zoo) and a floor made of the work every implementation of that step must do: exactly the
step's matmuls (forward and both gradients of each, 94.6 GFLOP) in one jit function, each
independent of the others so XLA may run them side by side, and in a second jit function the
loss with its gradient over the logits and one Adam update of zoo's weights. Everything else
(attention softmax, layer norms, dropout, residuals, transposes, embedding gradients) is left
out, so `keras-hub step / floor` is an upper bound on the speed-up any model code can reach
over keras-hub with XLA on this CPU. It also times what `train_on_batch` costs around an
empty jit step.

    python bench/step_floor.py --windows 7
    python bench/step_floor.py --policy mixed_bfloat16
"""

import argparse
import itertools
import os
import sys
import time

import zoo  # noqa: F401  (quiet TensorFlow first)
import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(__file__))
import transformer_train  # noqa: E402


def forward_matmuls(num_layers, d_model, num_heads, intermediate_dim, vocab_size, length,
                    batch_size):
    """`(batch, M, K, N)` of every forward matmul of the encoder-decoder step."""
    n, d, f, t = batch_size * length, d_model, intermediate_dim, length
    heads, head_dim = batch_size * num_heads, d_model // num_heads
    attention = [(heads, t, head_dim, t), (heads, t, t, head_dim)]  # scores, weighted values
    encoder = [(1, n, d, 3 * d), *attention, (1, n, d, d), (1, n, d, f), (1, n, f, d)]
    cross = [(1, n, d, d), (1, n, d, 2 * d), *attention, (1, n, d, d)]
    decoder = encoder[:4] + cross + encoder[4:]
    return encoder * num_layers + decoder * num_layers + [(1, n, d, vocab_size)]


def training_matmuls(forward):
    """Each forward `A @ B` and its gradients `dC @ B^T` and `A^T @ dC`."""
    shapes = []
    for b, m, k, n in forward:
        shapes += [(b, m, k, n), (b, m, n, k), (b, k, m, n)]
    return shapes


def _random(rng, shape, dtype="float32"):
    return tf.cast(rng.standard_normal(shape).astype("float32") * 0.05, dtype)


def matmul_floor(shapes, dtype):
    """A jit function running every matmul of `shapes` once, on random operands."""
    rng = np.random.default_rng(0)
    operands = [(_random(rng, (b, m, k), dtype), _random(rng, (b, k, n), dtype))
                for b, m, k, n in shapes]

    @tf.function(jit_compile=True)
    def run(operands):
        return [tf.matmul(a, b) for a, b in operands]

    return lambda: run(operands)


def loss_and_adam_floor(tokens, vocab_size, num_weights):
    """A jit function with the element-wise work every implementation has: the benchmark's
    loss and its gradient over the `(tokens, vocab_size)` logits, and one Adam update of
    `num_weights` weights."""
    rng = np.random.default_rng(1)
    logits = _random(rng, (tokens, vocab_size))
    labels = tf.constant(rng.integers(0, vocab_size, tokens), tf.int32)
    weights, gradients, m, v = (_random(rng, (num_weights,)) for _ in range(4))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)

    @tf.function(jit_compile=True)
    def run(logits, weights, gradients, m, v):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = loss_fn(labels, logits)
        m = 0.9 * m + 0.1 * gradients
        v = 0.98 * v + 0.02 * tf.square(gradients)
        return tape.gradient(loss, logits), weights - 5e-4 * m / (tf.sqrt(v) + 1e-9), m, v

    return lambda: run(logits, weights, gradients, m, v)


def train_step(model, batches):
    """A function that trains `model` on the next of `batches`."""
    counter = itertools.count()

    def step():
        source, target_in, target = batches[next(counter) % len(batches)]
        return model.train_on_batch((source, target_in), target)

    return step


def time_call(function, repeats):
    """Seconds per call (eager TensorFlow returns when the results are computed)."""
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def train_on_batch_overhead(repeats):
    """Seconds `train_on_batch` spends around a jit step that does (almost) nothing."""
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    zeros = tf.zeros((transformer_train.SIZES["batch_size"], 1))
    model.train_on_batch(zeros, zeros)
    return time_call(lambda: model.train_on_batch(zeros, zeros), repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default="float32")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=6, help="steps per timed window")
    args = parser.parse_args()

    keras.mixed_precision.set_global_policy(args.policy)
    sizes = transformer_train.SIZES
    shapes = training_matmuls(forward_matmuls(**sizes))
    flops = sum(2 * b * m * k * n for b, m, k, n in shapes)
    counted = transformer_train.training_flops_per_step(**sizes)
    print(f"{len(shapes)} matmuls, {flops / 1e9:.1f} GFLOP per step "
          f"(transformer_train.py counts {counted / 1e9:.1f})")
    batches = transformer_train.synthetic_batches(16)
    keras.utils.set_random_seed(0)
    models = {
        "keras-hub": transformer_train.compile_model(transformer_train.keras_hub_model(0.1)),
        "zoo": transformer_train.compile_model(transformer_train.zoo_model(0.1, 0.1)),
    }
    steps = {name: train_step(model, batches) for name, model in models.items()}
    for step in steps.values():
        time_call(step, 2)  # build, compile and warm up
    steps["matmuls"] = matmul_floor(shapes, "bfloat16" if "bfloat16" in args.policy
                                    else "float32")
    steps["loss and Adam"] = loss_and_adam_floor(
        sizes["batch_size"] * sizes["length"], sizes["vocab_size"], models["zoo"].count_params())
    time_call(steps["matmuls"], 2)
    time_call(steps["loss and Adam"], 2)
    times = {name: [] for name in steps}
    for window in range(args.windows):
        for name, step in steps.items():
            times[name].append(time_call(step, args.steps))
        print(f"  window {window}: "
              + ", ".join(f"{n} {t[-1] * 1e3:.0f} ms" for n, t in times.items()), flush=True)
    median = {name: float(np.median(t)) for name, t in times.items()}
    median["floor: matmuls + loss and Adam"] = median["matmuls"] + median["loss and Adam"]
    median["floor + train_on_batch's own cost"] = (median["floor: matmuls + loss and Adam"]
                                                   + train_on_batch_overhead(20))
    hub = median["keras-hub"]
    print(f"{'median of the windows':34s} ms a step   keras-hub / this")
    for name, seconds in median.items():
        print(f"{name:34s} {seconds * 1e3:10.0f}   {hub / seconds:15.2f}x")
    print(f"matmuls alone: {flops / median['matmuls'] / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
