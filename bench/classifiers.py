"""Training speed of the zoo classifiers against keras-hub and keras equivalents.

Sequences of length 256 (lengths drawn in 128..256, padded), batch 64, 6 classes, vocab
8000, Adam, `jit_compile=True`, dropout 0.1, the same dtype policy on both sides:

- `TransformerClassifier` (2 layers, d 128, 4 heads, ffn 512, class token) vs the same
  model from `keras_hub.layers.TransformerEncoder` (whose `dropout` also covers the
  attention weights: compared with zoo at attention dropout 0.1 and at 0.0).
- `LSTMAttentionClassifier` (embedding 128, 128 units per direction, attention pooling)
  vs `keras.layers.Bidirectional(keras.layers.LSTM(128))` with the same attention pooling
  written from keras layers.

Timed windows alternate between the models in one process; it prints examples/s and
ratios.

    python bench/classifiers.py [--policies float32,mixed_bfloat16] [--windows 5]
"""

import argparse
import math
import time

import zoo  # noqa: F401  (quiet TensorFlow first)
import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo.models import LSTMAttentionClassifier, TransformerClassifier

VOCAB, CLASSES, LENGTH, BATCH = 8000, 6, 256, 64
D_MODEL, HEADS, FFN, LAYERS, UNITS = 128, 4, 512, 2, 128


def keras_hub_classifier(dropout, vocab=VOCAB, classes=CLASSES):
    tokens = keras.Input((None,), dtype="int32")
    ids = keras.ops.concatenate([keras.ops.full_like(tokens[:, :1], 4), tokens], axis=1)
    padding = keras.ops.not_equal(ids, 0)
    x = keras.layers.Embedding(vocab, D_MODEL)(ids) * math.sqrt(D_MODEL)
    x = keras.layers.Dropout(dropout)(x + keras_hub.layers.SinePositionEncoding()(x))
    for _ in range(LAYERS):
        x = keras_hub.layers.TransformerEncoder(FFN, HEADS, dropout=dropout)(
            x, padding_mask=padding
        )
    x = keras.layers.Dropout(dropout)(x[:, 0])
    return keras.Model(tokens, keras.layers.Dense(classes, dtype="float32")(x))


def keras_bilstm_classifier(dropout, vocab=VOCAB, classes=CLASSES):
    tokens = keras.Input((None,), dtype="int32")
    padding = keras.ops.not_equal(tokens, 0)
    x = keras.layers.Embedding(vocab, D_MODEL, mask_zero=True)(tokens)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))(x)
    x = keras.layers.Dropout(dropout)(x)
    scores = keras.layers.Dense(1)(keras.layers.Dense(UNITS, activation="tanh")(x))[..., 0]
    scores = keras.ops.where(padding, keras.ops.cast(scores, "float32"), -1e9)
    weights = keras.ops.softmax(scores, axis=-1)
    pooled = keras.ops.einsum("bt,btd->bd", keras.ops.cast(weights, x.dtype), x)
    pooled = keras.layers.Dropout(dropout)(pooled)
    return keras.Model(tokens, keras.layers.Dense(classes, dtype="float32")(pooled))


def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    return model


def batches(count, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        lengths = rng.integers(LENGTH // 2, LENGTH + 1, size=BATCH)
        tokens = rng.integers(6, VOCAB, size=(BATCH, LENGTH))
        tokens = np.where(np.arange(LENGTH)[None] < lengths[:, None], tokens, 0)
        labels = rng.integers(0, CLASSES, size=BATCH)
        out.append((tf.constant(tokens, tf.int32), tf.constant(labels, tf.int32)))
    return out


def time_window(model, data, steps):
    start = time.perf_counter()
    for i in range(steps):
        loss = model.train_on_batch(*data[i % len(data)])
    float(loss)
    return steps * BATCH / (time.perf_counter() - start)


def compare(models, data, windows, steps):
    for model in models.values():
        time_window(model, data, 2)
    rates = {name: [] for name in models}
    for _ in range(windows):
        for name, model in models.items():
            rates[name].append(time_window(model, data, steps))
    return {name: float(np.median(r)) for name, r in rates.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", default="float32")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    data = batches(8)
    for policy in args.policies.split(","):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        groups = {
            "Transformer": {
                "keras-hub TransformerEncoder": keras_hub_classifier(0.1),
                "zoo TransformerClassifier": TransformerClassifier(
                    VOCAB, CLASSES, num_layers=LAYERS, d_model=D_MODEL, num_heads=HEADS,
                    intermediate_dim=FFN, dropout=0.1, max_length=LENGTH),
                "zoo, attention dropout 0": TransformerClassifier(
                    VOCAB, CLASSES, num_layers=LAYERS, d_model=D_MODEL, num_heads=HEADS,
                    intermediate_dim=FFN, dropout=0.1, attention_dropout=0.0,
                    max_length=LENGTH),
            },
            "BiLSTM": {
                "keras Bidirectional(LSTM)": keras_bilstm_classifier(0.1),
                "zoo LSTMAttentionClassifier": LSTMAttentionClassifier(
                    VOCAB, CLASSES, embedding_dim=D_MODEL, units=UNITS, dropout=0.1,
                    max_length=LENGTH),
            },
        }
        print(f"\n== {policy}, length {LENGTH}, batch {BATCH}")
        for group, models in groups.items():
            models = {name: compile_model(m) for name, m in models.items()}
            rates = compare(models, data, args.windows, args.steps)
            base = next(iter(rates.values()))
            for name, rate in rates.items():
                params = models[name].count_params()
                print(f"{group:12s} {name:30s} {rate:7.0f} examples/s  x{rate / base:.2f}"
                      f"  ({params / 1e6:.2f}M params)")


if __name__ == "__main__":
    main()
