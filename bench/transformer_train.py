"""Training-step speed of `zoo.models.Transformer` against the same model from keras-hub.

Both models: 3+3 layers, d 256, 4 heads, ffn 1024, post-norm, sinusoidal positions scaled
token embeddings, tied output projection, vocab 8000, source/target length 32, batch 64,
dropout 0.1, Adam, masked cross-entropy, `jit_compile=True`, the same dtype policy. The
keras-hub model is `keras_hub.layers.TransformerEncoder`/`TransformerDecoder` over a
`ReversibleEmbedding` plus `SinePositionEncoding`. Timed windows alternate between the two
models in one process; the script prints target tokens/s, their ratio, and the model FLOP
utilisation against the matmul peak it measures first. It then trains both from the same
batches and prints their loss curves side by side.

    python bench/transformer_train.py                   # float32 and mixed_bfloat16
    python bench/transformer_train.py --policies float32 --windows 3 --curve_steps 0
"""

import argparse
import math
import time

import zoo  # noqa: F401  (quiet TensorFlow first)
import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo.models import Transformer

SIZES = dict(num_layers=3, d_model=256, num_heads=4, intermediate_dim=1024, vocab_size=8000,
             length=32, batch_size=64)


def matmul_peak(dtype, n=2048, repeats=20):
    """Measured FLOP/s of a jit-compiled `n x n` matmul chain in `dtype`."""
    a = tf.random.normal((n, n), dtype=tf.float32, stddev=n**-0.5)
    a = tf.cast(a, dtype)

    @tf.function(jit_compile=True)
    def chain(x):
        for _ in range(repeats):
            x = tf.matmul(x, a)
        return x

    chain(a).numpy()
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        chain(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best


def training_flops_per_step(num_layers, d_model, intermediate_dim, vocab_size, length,
                            batch_size, **_):
    """Matmul FLOPs of one training step (forward x 3), every position counted."""
    d, f, t = d_model, intermediate_dim, length
    encoder = 8 * d * d + 4 * d * f + 4 * t * d  # per source token and layer
    decoder = (8 * d * d + 4 * t * d) + (8 * d * d + 4 * t * d) + 4 * d * f
    output = 2 * d * vocab_size
    forward = batch_size * t * (num_layers * (encoder + decoder) + output)
    return 3 * forward


def zoo_model(dropout, attention_dropout):
    s = SIZES
    return Transformer(
        s["vocab_size"], s["vocab_size"], num_layers=s["num_layers"], d_model=s["d_model"],
        num_heads=s["num_heads"], intermediate_dim=s["intermediate_dim"], dropout=dropout,
        attention_dropout=attention_dropout, max_length=s["length"],
    )


def keras_hub_model(dropout):
    """The same architecture from keras-hub layers (functional)."""
    s = SIZES
    d = s["d_model"]
    source = keras.Input((None,), dtype="int32", name="source_ids")
    target = keras.Input((None,), dtype="int32", name="target_ids")
    source_embedding = keras.layers.ReversibleEmbedding(
        s["vocab_size"], d, embeddings_initializer=keras.initializers.RandomNormal(stddev=d**-0.5)
    )
    target_embedding = keras.layers.ReversibleEmbedding(
        s["vocab_size"], d, embeddings_initializer=keras.initializers.RandomNormal(stddev=d**-0.5)
    )
    positions = keras_hub.layers.SinePositionEncoding()
    embedding_dropout = keras.layers.Dropout(dropout)

    def embed(table, ids):
        x = table(ids) * math.sqrt(d)
        return embedding_dropout(x + positions(x))

    source_padding = keras.ops.not_equal(source, 0)
    target_padding = keras.ops.not_equal(target, 0)
    x = embed(source_embedding, source)
    for _ in range(s["num_layers"]):
        x = keras_hub.layers.TransformerEncoder(
            s["intermediate_dim"], s["num_heads"], dropout=dropout
        )(x, padding_mask=source_padding)
    y = embed(target_embedding, target)
    for _ in range(s["num_layers"]):
        y = keras_hub.layers.TransformerDecoder(
            s["intermediate_dim"], s["num_heads"], dropout=dropout
        )(y, x, decoder_padding_mask=target_padding, encoder_padding_mask=source_padding)
    logits = keras.ops.cast(target_embedding(y, reverse=True), "float32")
    return keras.Model((source, target), logits)


def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.Adam(5e-4, beta_2=0.98, epsilon=1e-9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        jit_compile=True,
    )
    return model


def synthetic_batches(count, seed=0):
    """A learnable toy translation: target = a fixed token mapping of the reversed source."""
    s = SIZES
    rng = np.random.default_rng(seed)
    mapping = rng.permutation(np.arange(6, s["vocab_size"]))
    batches = []
    for _ in range(count):
        lengths = rng.integers(3 * s["length"] // 4, s["length"] + 1, size=s["batch_size"])
        source = rng.integers(6, s["vocab_size"], size=(s["batch_size"], s["length"]))
        positions = np.arange(s["length"])[None, :]
        source = np.where(positions < lengths[:, None], source, 0)
        target = np.zeros_like(source)
        for row, n in enumerate(lengths):
            target[row, : n - 1] = mapping[source[row, : n - 1][::-1] - 6]
            target[row, n - 1] = 3  # EOS
        target_in = np.concatenate([np.full((s["batch_size"], 1), 2), target[:, :-1]], 1)
        target_in = np.where(target_in == 3, 0, target_in)
        batches.append(tuple(tf.constant(a, tf.int32) for a in (source, target_in, target)))
    return batches


def time_window(model, batches, steps):
    """Target positions (batch x length, padding included) trained per second."""
    start = time.perf_counter()
    for i in range(steps):
        source, target_in, target = batches[i % len(batches)]
        loss = model.train_on_batch((source, target_in), target)
    float(loss)
    return steps * SIZES["batch_size"] * SIZES["length"] / (time.perf_counter() - start)


def compare_speed(models, batches, windows, steps):
    """Alternating timed windows; returns the median tokens/s of each model."""
    for name, model in models.items():  # compile and warm up
        start = time.perf_counter()
        time_window(model, batches, 2)
        print(f"  {name}: compiled and warmed up in {time.perf_counter() - start:.0f} s",
              flush=True)
    rates = {name: [] for name in models}
    for window in range(windows):
        for name, model in models.items():
            rates[name].append(time_window(model, batches, steps))
        print(f"  window {window}: " + ", ".join(f"{n} {r[-1]:.0f}" for n, r in rates.items()),
              flush=True)
    return {name: float(np.median(r)) for name, r in rates.items()}


def loss_curves(models, batches, steps, every):
    curves = {name: [] for name in models}
    for step in range(steps):
        source, target_in, target = batches[step % len(batches)]
        for name, model in models.items():
            loss = float(model.train_on_batch((source, target_in), target))
            if step % every == 0 or step == steps - 1:
                curves[name].append((step, loss))
    return curves


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed window")
    parser.add_argument("--curve_steps", type=int, default=300)
    parser.add_argument("--curve_every", type=int, default=25)
    parser.add_argument("--preset_variant", action="store_true",
                        help="also time zoo with the presets' attention_dropout=0")
    args = parser.parse_args()

    batches = synthetic_batches(16)
    flops = training_flops_per_step(**SIZES)
    tokens_per_step = SIZES["batch_size"] * SIZES["length"]
    print(f"sizes: {SIZES}; {flops / 1e9:.1f} GFLOP per training step")
    for policy in args.policies.split(","):
        keras.mixed_precision.set_global_policy(policy)
        peak = matmul_peak("bfloat16" if "bfloat16" in policy else "float32")
        print(f"\n== {policy}: measured matmul peak {peak / 1e9:.0f} GFLOP/s", flush=True)
        keras.utils.set_random_seed(0)
        models = {
            "keras-hub": compile_model(keras_hub_model(dropout=0.1)),
            "zoo": compile_model(zoo_model(0.1, 0.1)),
        }
        if args.curve_steps:  # fresh models first: the loss curves, then the timing
            curves = loss_curves(models, synthetic_batches(64, seed=1), args.curve_steps,
                                 args.curve_every)
            print("  step   loss keras-hub   loss zoo")
            for (step, hub), (_, ours) in zip(curves["keras-hub"], curves["zoo"]):
                print(f"  {step:4d}   {hub:14.3f}   {ours:8.3f}", flush=True)
        if args.preset_variant:
            models["zoo, no attention dropout"] = compile_model(zoo_model(0.1, 0.0))
        rates = compare_speed(models, batches, args.windows, args.steps)
        base = rates["keras-hub"]
        for name, rate in rates.items():
            mfu = rate / tokens_per_step * flops / peak
            print(f"{name:28s} {rate:8.0f} target tokens/s  x{rate / base:.2f}  MFU {mfu:.0%}",
                  flush=True)


if __name__ == "__main__":
    main()
