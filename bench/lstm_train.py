"""Training-step speed: `LSTMAttentionSeq2Seq` vs the TensorFlow NMT tutorial's architecture.

The tutorial's model (keras layers only): embeddings, a bidirectional LSTM encoder (units
per direction, summed), a teacher-forced LSTM decoder started from the encoder state,
keras `AdditiveAttention` (Bahdanau) or `Attention` (Luong dot) over the encoder outputs,
`tanh(W [context; h])` and the vocabulary projection. Ours: `lstm_bahdanau` / `lstm_luong_dot`
at the same units (256: 128 per encoder direction, concatenated), with and without input
feeding. Same batch (64 x 24 source / 24 target tokens), vocabulary (5,000), optimizer,
float32, no XLA; timed in alternating rounds of `train_on_batch` in one process.

Run: `python bench/lstm_train.py [--rounds 3] [--steps 5]`
"""

import argparse
import time

import zoo  # noqa: F401  (quiet TensorFlow first)

import keras
import numpy as np

import zoo.models

BATCH, LENGTH, VOCAB, UNITS = 64, 24, 5000, 256


def tutorial_model(attention):
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, UNITS, mask_zero=True)(source)
    encoded, h_f, c_f, h_b, c_b = keras.layers.Bidirectional(
        keras.layers.LSTM(UNITS, return_sequences=True, return_state=True),
        merge_mode="sum")(x)
    state = [h_f + h_b, c_f + c_b]
    y = keras.layers.Embedding(VOCAB, UNITS, mask_zero=True)(target)
    decoded = keras.layers.LSTM(UNITS, return_sequences=True)(y, initial_state=state)
    if attention == "bahdanau":
        context = keras.layers.AdditiveAttention()([decoded, encoded])
    else:
        context = keras.layers.Attention()([decoded, encoded])
    hidden = keras.layers.Dense(UNITS, activation="tanh", use_bias=False)(
        keras.layers.Concatenate()([context, decoded]))
    logits = keras.layers.Dense(VOCAB)(hidden)
    return keras.Model([source, target], logits)


def compiled(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    source = rng.integers(6, VOCAB, (BATCH, LENGTH)).astype("int32")
    target_in = rng.integers(6, VOCAB, (BATCH, LENGTH)).astype("int32")
    target_out = rng.integers(6, VOCAB, (BATCH, LENGTH)).astype("int32")
    ours = dict(source_vocab_size=VOCAB, target_vocab_size=VOCAB, embedding_dim=UNITS,
                units=UNITS, dropout=0.0)
    models = {
        "tutorial, keras AdditiveAttention": tutorial_model("bahdanau"),
        "ours lstm_bahdanau, input feeding": zoo.models.build("lstm_bahdanau", **ours),
        "ours lstm_bahdanau, no input feeding": zoo.models.build(
            "lstm_bahdanau", input_feeding=False, **ours),
        "tutorial, keras Attention (dot)": tutorial_model("dot"),
        "ours lstm_luong_dot, input feeding": zoo.models.build("lstm_luong_dot", **ours),
        "ours lstm_luong_dot, no input feeding": zoo.models.build(
            "lstm_luong_dot", input_feeding=False, **ours),
    }
    best = {}
    for name, model in models.items():
        compiled(model).train_on_batch((source, target_in), target_out)  # trace
        best[name] = float("inf")
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                loss = model.train_on_batch((source, target_in), target_out)
            assert np.isfinite(loss), name
            best[name] = min(best[name], (time.perf_counter() - start) / args.steps)
    print("| model | target tokens/s | vs tutorial (same attention) |")
    print("|---|---|---|")
    for name, seconds in best.items():
        baseline = "tutorial, keras AdditiveAttention" if "bahdanau" in name or \
            "Additive" in name else "tutorial, keras Attention (dot)"
        print(f"| {name} | {BATCH * LENGTH / seconds:,.0f} | "
              f"{best[baseline] / seconds:.2f}x |")


if __name__ == "__main__":
    main()
