"""TREC-6 question classification (../shared/data/trec): the recipe's preset, and zoo's model
against keras-hub's and keras' in one process.

1. `python -m recipes.text_classification --flagfile=recipes/configs/
   text_classification_trec.flags --seed=S` for each seed: test accuracy, macro-F1 and
   training minutes.
2. Side by side, on the same batches (the recipe's reader, tokenizer and bucketed
   pipeline) for the same epochs, interleaved epoch by epoch so the machine's drift hits
   every model alike: the preset's zoo model, a keras-hub `TransformerEncoder` classifier
   and a `keras.layers` BiLSTM with attention pooling (bench/classifiers.py builds both),
   with zoo's BiLSTM (dropout 0.3, as the Keras one) and `transformer_classifier` (the
   same size as keras-hub's) beside them:
   examples/s of the epochs after the first (compilation) and test accuracy.

    python bench/trec.py [--seeds 0,1,2] [--skip_recipe] [--skip_compare]
"""

import argparse
import pathlib
import sys
import time

from recipe_runs import ROOT, run_recipe

FLAGFILE = ROOT / "recipes" / "configs" / "text_classification_trec.flags"


def preset():
    """The flagfile's `--name=value` lines as a dict of strings."""
    flags = {}
    for line in FLAGFILE.read_text().splitlines():
        if line.startswith("--"):
            name, _, value = line[2:].partition("=")
            flags[name] = value if _ else "true"
    return flags


def recipe_runs(seeds, work_dir):
    rows = []
    for seed in seeds:
        scores, minutes = run_recipe("text_classification", work_dir / f"seed{seed}",
                                     f"--flagfile={FLAGFILE}", f"--seed={seed}")
        rows.append((seed, scores["accuracy"], scores["macro_f1"], minutes))
        print(f"seed {seed}: test accuracy {scores['accuracy']:.1f}, macro-F1 "
              f"{scores['macro_f1']:.1f}, training {minutes:.1f} min", flush=True)
    accuracies = [row[1] for row in rows]
    print(f"mean test accuracy over {len(rows)} seeds: {sum(accuracies) / len(rows):.1f} "
          f"(min {min(accuracies):.1f}, max {max(accuracies):.1f})")
    return rows


def compare(epochs):
    sys.path.insert(0, str(ROOT / "bench"))
    import zoo  # noqa: F401  (quiet TensorFlow first)
    import keras
    import numpy as np
    import tensorflow as tf

    import zoo.data
    import zoo.models
    from classifiers import keras_bilstm_classifier, keras_hub_classifier
    from recipes.driver import parse_hparams
    from zoo import text, training

    flags = preset()
    splits = zoo.data.load_splits(  # the flagfile's paths are relative to the repository
        "classification", dataset="files", train_file=str(ROOT / flags["train_file"]),
        test_file=str(ROOT / flags["test_file"]),
        encoding=flags["encoding"], label_separator=flags["label_separator"],
        coarse_label_separator=flags["coarse_label_separator"])
    classes = len(splits.info["label_names"])
    lowercase = flags.get("lowercase") == "true"
    tokenizer = text.train_subword_tokenizer(
        zoo.data.record_texts(splits.train, "text"), int(flags["vocab_size"]),
        lowercase=lowercase, progress=False, min_count=int(flags.get("vocab_min_count", 10)),
        whole_words=flags.get("word_vocab") == "true")
    batch_size, max_length = int(flags["batch_size"]), int(flags["max_length"])
    batches = zoo.data.classification_batches(splits.train, tokenizer, batch_size, max_length,
                                              shuffle=True, repeat=True)
    steps = -(-splits.info["sizes"]["train"] // batch_size)
    texts, gold = [], []
    for record in splits.test.as_numpy_iterator():
        texts.append(record["text"])
        gold.append(int(record["label"]))
    test_ids = tokenizer.tokenize(tf.constant(texts)).to_tensor()[:, :max_length]

    keras.utils.set_random_seed(0)
    hparams = parse_hparams(flags.get("hparams", ""))
    models = {
        f"zoo {flags['model']} (preset)": zoo.models.build(
            flags["model"], vocab_size=tokenizer.vocabulary_size, num_classes=classes,
            max_length=max_length, **hparams),
        "zoo lstm_attention_classifier": zoo.models.build(
            "lstm_attention_classifier", vocab_size=tokenizer.vocabulary_size,
            num_classes=classes, max_length=max_length, dropout=0.3),
        "zoo transformer_classifier": zoo.models.build(
            "transformer_classifier", vocab_size=tokenizer.vocabulary_size,
            num_classes=classes, max_length=max_length),
        "keras-hub TransformerEncoder": keras_hub_classifier(
            0.1, vocab=tokenizer.vocabulary_size, classes=classes),
        "keras Bidirectional(LSTM)": keras_bilstm_classifier(
            0.3, vocab=tokenizer.vocabulary_size, classes=classes),
    }
    for model in models.values():
        model.compile(
            optimizer=training.build_optimizer(
                learning_rate=float(flags["learning_rate"]),
                warmup_steps=int(flags["warmup_steps"]), clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seconds = {name: [] for name in models}
    for _ in range(epochs):
        for name, model in models.items():
            started = time.perf_counter()
            model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
            seconds[name].append(time.perf_counter() - started)
    print(f"\n{epochs} epochs of {steps} steps, batch {batch_size}, vocabulary "
          f"{tokenizer.vocabulary_size}, median over epochs 2-{epochs}; x: examples/s "
          "against keras-hub's")
    rates = {name: steps * batch_size / float(np.median(seconds[name][1:]))
             for name in models}
    base = rates["keras-hub TransformerEncoder"]
    for name, model in models.items():
        predicted = keras.ops.convert_to_numpy(model.predict(test_ids, verbose=0)).argmax(-1)
        accuracy = 100 * float((predicted == np.array(gold)).mean())
        print(f"{name:40s} {rates[name]:7.0f} examples/s  x{rates[name] / base:.2f}   test "
              f"accuracy {accuracy:.1f}   {model.count_params() / 1e6:.2f}M params")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--work_dir", default="/tmp/bench_trec")
    parser.add_argument("--skip_recipe", action="store_true")
    parser.add_argument("--skip_compare", action="store_true")
    args = parser.parse_args()
    if not (ROOT.parent / "shared" / "data" / "trec").is_dir():
        sys.exit("../shared/data/trec is absent: this benchmark needs the TREC corpus.")
    if not args.skip_recipe:
        recipe_runs([int(seed) for seed in args.seeds.split(",")], pathlib.Path(args.work_dir))
    if not args.skip_compare:
        compare(int(preset()["epochs"]))


if __name__ == "__main__":
    main()
