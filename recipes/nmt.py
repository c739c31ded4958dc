"""Neural machine translation: train, evaluate (BLEU), export and serve.

With no flags it trains on the built-in offline demo corpus (dates written by people in
four languages -> ISO dates), evaluates BLEU on its held-out split, exports a SavedModel
that TF Serving answers with plain strings, prints a few translations and saves an
attention heatmap:

    python -m recipes.nmt

Real data:

    python -m recipes.nmt --dataset=tfds:ted_hrlr_translate/pt_to_en --data_dir=~/tfds
    python -m recipes.nmt --train_src=train.de --train_tgt=train.en \\
        --eval_src=val.de --eval_tgt=val.en --model=transformer_small
    python -m recipes.nmt --flagfile=recipes/configs/nmt_multi30k.flags

Then `--mode=evaluate`, `--mode=predict` (stdin or `--input`) or `--mode=export` with the
same `--model_dir`.
"""

import math
import time

from recipes import common
from recipes.common import FLAGS

TASK = "nmt"
DEFAULTS = dict(
    model="transformer_tiny",
    model_dir="runs/nmt",
    epochs=4,
    batch_size=64,
    vocab_size=600,
    max_source_length=48,
    max_target_length=24,
    learning_rate=2e-3,
    warmup_steps=300,
)


def _bleu(hypotheses, references):
    import sacrebleu

    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    return (bleu.corpus_score(hypotheses, [references]), bleu.get_signature(),
            chrf.corpus_score(hypotheses, [references]))


def _pairs(records, limit=None):
    """`(sources, references)` as lists of Python strings from a record dataset."""
    sources, references = [], []
    for record in records.take(limit if limit else -1).as_numpy_iterator():
        sources.append(record["source"].decode("utf-8"))
        references.append(record["target"].decode("utf-8"))
    return sources, references


def _tokenizers(run_dir, splits, config):
    """`(source, target)` tokenizers from the run's vocabularies, learnt on the training
    split first if absent; a shared vocabulary (`vocab.shared.txt`) serves both sides."""
    from zoo import text

    sides = ("shared",) if config.get("shared_vocab") else ("source", "target")
    paths = [run_dir.file(f"vocab.{side}.txt") for side in sides]
    if not all(path.exists() for path in paths):
        _learn_vocabularies(splits.train, sides, paths, config)
    loaded = [text.SubwordTokenizer.load(path, lowercase=config["lowercase"])
              for path in paths]
    return loaded * 2 if len(loaded) == 1 else loaded


def _learn_vocabularies(records, sides, paths, config):
    from zoo import text

    print(common.rule("Vocabulary"))
    texts = {side: records.map(lambda r, side=side: r[side]) for side in ("source", "target")}
    texts["shared"] = texts["source"].concatenate(texts["target"])
    for side, path in zip(sides, paths):
        tokenizer = text.train_subword_tokenizer(texts[side], config["vocab_size"],
                                                 lowercase=config["lowercase"])
        tokenizer.save(path)
        print(f"  {side} vocabulary: {tokenizer.vocabulary_size} subwords, saved as {path}")


def _config(run_dir):
    """The run's configuration: from `recipe.json` after training, else from the flags."""
    if run_dir.config_path.exists() and FLAGS.mode != "train":
        return run_dir.load_config()
    if run_dir.config_path.exists():
        saved = run_dir.load_config()
        if saved["model"] != FLAGS.model:
            raise common.RecipeError(
                f"{run_dir.path} holds a {saved['model']} run but --model={FLAGS.model}: "
                "use another --model_dir, or the same --model to resume it.")
        if saved.get("shared_vocab", False) != FLAGS.shared_vocab:
            raise common.RecipeError(
                f"{run_dir.path} holds a run with shared_vocab={saved.get('shared_vocab', False)}"
                f" but --shared_vocab={FLAGS.shared_vocab}: use another --model_dir, or the "
                "same flag to resume it.")
        return saved
    hparams = common.parse_hparams(FLAGS.hparams)
    if hparams.get("share_embeddings") and not FLAGS.shared_vocab:
        raise common.RecipeError(
            "--hparams=share_embeddings=true needs one vocabulary for source and target: "
            "add --shared_vocab.")
    return dict(
        task=TASK, model=FLAGS.model, hparams=hparams, shared_vocab=FLAGS.shared_vocab,
        vocab_size=FLAGS.vocab_size, lowercase=FLAGS.lowercase,
        max_source_length=FLAGS.max_source_length,
        max_target_length=FLAGS.max_target_length)


def _build_model(config, source_tokenizer, target_tokenizer):
    import zoo.models

    max_length = max(config["max_source_length"], config["max_target_length"] + 1)
    return zoo.models.build(
        config["model"], source_vocab_size=source_tokenizer.vocabulary_size,
        target_vocab_size=target_tokenizer.vocabulary_size, max_length=max_length,
        **config["hparams"])


def _predictor(model, tokenizers, config, beam_size=None):
    return common.Seq2SeqPredictor(
        model, *tokenizers, config["max_source_length"], config["max_target_length"],
        beam_size=FLAGS.beam_size if beam_size is None else beam_size,
        length_penalty=FLAGS.length_penalty, jit_compile=FLAGS.jit_compile)


def train(strategy, run_dir, splits, tokenizers, config):
    import zoo.data
    from zoo import training

    print(common.rule("Training"))
    batches = zoo.data.seq2seq_batches(
        splits.train, *tokenizers, batch_size=FLAGS.batch_size,
        max_source_length=config["max_source_length"],
        max_target_length=config["max_target_length"], shuffle=True, repeat=True,
        drop_remainder=FLAGS.strategy == "tpu", seed=FLAGS.seed)
    train_size = splits.info.get("sizes", {}).get("train")
    if FLAGS.steps_per_epoch:
        steps = FLAGS.steps_per_epoch
    elif train_size:
        steps = math.ceil(train_size / FLAGS.batch_size)
    else:
        raise common.RecipeError("The size of the training split is unknown; give "
                                 "--steps_per_epoch.")
    print(f"  {steps} steps an epoch of {FLAGS.batch_size} sentence pairs; padding is "
          f"{zoo.data.padding_fraction(batches):.1%} of the batched tokens")
    optimizer_options, engine_options = common.training_options(steps)
    with strategy.scope():
        model = _build_model(config, *tokenizers)
        optimizer = training.build_optimizer(**optimizer_options)
    run_dir.save_config(config)

    sources, references = _pairs(splits.validation, FLAGS.eval_examples)
    greedy = _predictor(model, tokenizers, config, beam_size=1)

    def evaluate_fn(model):
        del model  # the predictor decodes with the live weights
        score, _, _ = _bleu(greedy(sources), references)
        return {"bleu": score.score}

    started = time.time()
    training.train(
        model, batches, steps_per_epoch=steps, epochs=FLAGS.epochs,
        model_dir=str(run_dir.path), strategy=strategy, optimizer=optimizer,
        loss=training.masked_sparse_crossentropy(FLAGS.label_smoothing),
        metrics=[training.masked_accuracy], jit_compile=FLAGS.jit_compile,
        batch_size=FLAGS.batch_size, evaluate_fn=evaluate_fn, metric_name="bleu",
        metric_mode="max", early_stopping_patience=FLAGS.early_stopping_patience,
        **engine_options)
    seconds = time.time() - started
    averaged = common.average_last_epochs(model, run_dir, evaluate_fn, "bleu", strategy)
    if averaged:
        print(averaged)
    return seconds


def _restore(strategy, run_dir, config, tokenizers):
    with strategy.scope():
        model = _build_model(config, *tokenizers)
        # Build the variables with one tiny batch before loading the weights.
        import numpy as np

        model((np.ones((1, 2), "int32"), np.ones((1, 2), "int32")))
        model.load_weights(str(run_dir.weights_path()))
    return model


def evaluate(model, splits, tokenizers, config):
    print(common.rule("Evaluation"))
    records = splits.test if splits.test is not None else splits.validation
    split_name = "test" if splits.test is not None else "validation"
    sources, references = _pairs(records)
    hypotheses = _predictor(model, tokenizers, config)(sources, progress=True)
    bleu, signature, chrf = _bleu(hypotheses, references)
    common.print_summary([
        (f"BLEU ({split_name}, {len(sources)} sentences)", f"{bleu.score:.1f}"),
        ("chrF", f"{chrf.score:.1f}"),
        ("sacreBLEU signature", signature),
        ("decoding", f"beam {FLAGS.beam_size}, length penalty {FLAGS.length_penalty}"),
    ])
    return bleu.score, list(zip(sources, hypotheses, references))


def export(model, run_dir, tokenizers, config):
    from zoo import export as zoo_export

    print(common.rule("Export"))
    path = zoo_export.export_seq2seq(
        model, *tokenizers, export_dir=str(common.export_dir(run_dir)), model_name=TASK,
        beam_size=FLAGS.beam_size, length_penalty=FLAGS.length_penalty,
        max_source_length=config["max_source_length"],
        max_target_length=config["max_target_length"])
    print(f"  SavedModel written to {path}")
    return path


def show_examples(model, run_dir, tokenizers, config, examples):
    from zoo import viz

    print(common.rule("Examples"))
    for source, hypothesis, reference in examples[:5]:
        common.print_summary([("source", source), ("translation", hypothesis),
                              ("reference", reference)])
        print()
    source, output, weights = _predictor(model, tokenizers, config).alignment(examples[0][0])
    return viz.plot_attention(weights, source, output, run_dir.file("attention.png"),
                              title=examples[0][0])


def predict(model, tokenizers, config):
    for translation in _predictor(model, tokenizers, config)(common.read_inputs()):
        print(translation)


def run():
    import zoo.data

    strategy, run_dir = common.setup(DEFAULTS["model_dir"])
    config = _config(run_dir)
    needs_data = FLAGS.mode in ("all", "train", "evaluate")
    splits = zoo.data.load_splits(
        TASK, dataset=common.dataset_spec(), data_dir=FLAGS.data_dir,
        train_src=FLAGS.train_src, train_tgt=FLAGS.train_tgt, eval_src=FLAGS.eval_src,
        eval_tgt=FLAGS.eval_tgt, train_file=FLAGS.train_file, eval_file=FLAGS.eval_file,
        seed=FLAGS.seed) if needs_data else None
    if FLAGS.mode in ("all", "train"):
        tokenizers = _tokenizers(run_dir, splits, config)
        train_seconds = train(strategy, run_dir, splits, tokenizers, config)
    else:
        run_dir.load_config()
        tokenizers = _tokenizers(run_dir, splits, config)
        train_seconds = None
    if FLAGS.mode == "train":
        return
    model = _restore(strategy, run_dir, config, tokenizers)
    if FLAGS.mode == "predict":
        return predict(model, tokenizers, config)
    rows = [("model", f"{config['model']} in {run_dir.path}"),
            ("checkpoint", run_dir.weights_path())]
    if train_seconds is not None:
        rows.append(("training time", f"{train_seconds / 60:.1f} min"))
    if FLAGS.mode in ("all", "evaluate"):
        bleu, examples = evaluate(model, splits, tokenizers, config)
        rows.append(("BLEU", f"{bleu:.1f}"))
    if FLAGS.mode in ("all", "export"):
        path = export(model, run_dir, tokenizers, config)
        rows += [("SavedModel", path), ("serve with", common.serving_hint(path, TASK))]
    if FLAGS.mode == "all":
        heatmap = show_examples(model, run_dir, tokenizers, config, examples)
        rows.append(("attention plot", heatmap))
    rows.append(("TensorBoard", f"tensorboard --logdir {run_dir.file('logs')}"))
    print(common.rule("Summary"))
    common.print_summary(rows)


if __name__ == "__main__":
    for name, value in DEFAULTS.items():
        FLAGS.set_default(name, value)
    common.main(run)
