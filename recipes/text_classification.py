"""Text classification: train, evaluate (accuracy, macro-F1), export and serve.

With no flags it trains on the built-in offline demo corpus (customer messages in five
classes), evaluates on its test split, exports a SavedModel that TF Serving answers with
label names, prints a few predictions and saves pictures (confusion matrix, attention):

    python -m recipes.text_classification

Real data:

    python -m recipes.text_classification --dataset=tfds:imdb_reviews --data_dir=~/tfds
    python -m recipes.text_classification --train_file=train.csv --text_column=review \\
        --label_column=stars --test_file=test.csv
    python -m recipes.text_classification --flagfile=recipes/configs/text_classification_trec.flags

Files are CSV/TSV (column flags), JSON Lines (field flags), fastText (`__label__name text`)
or one example a line, the label then the text split at `--label_separator`; the
extension picks the reader unless `--format` says otherwise. Then `--mode=evaluate`,
`--mode=predict` (one `label<TAB>probability` line per input line) or `--mode=export`.
"""

import functools
import os

from absl import flags

from recipes import console, driver
from recipes.driver import FLAGS
from zoo.errors import UsageError

FORMATS = ("auto", "csv", "tsv", "jsonl", "lines", "fasttext")


class TextClassification(driver.Task):
    """One label per text, scored with accuracy, macro-F1 and a confusion matrix."""

    name = "text_classification"
    data_task = "classification"
    families = ("classifier",)
    metric = "accuracy"
    metric_label = "accuracy"
    run_flags = ("max_length", "pretrained_embeddings", "pretrained_vocab")
    example_unit = "texts"
    skip_blank_inputs = False  # an empty text is an input too: one output line per line
    defaults = dict(
        model="lstm_attention_classifier",
        epochs=4,
        batch_size=32,
        vocab_size=2000,
        learning_rate=2e-3,
        warmup_steps=100,
        label_smoothing=0.0,
        eval_examples=0,
    )

    def define_flags(self):
        flags.DEFINE_integer("max_length", 128, "Longest text in tokens; longer is truncated.")
        flags.DEFINE_enum("format", "auto", FORMATS,
                          "Data file format ('auto': from the extension: .csv, .tsv, "
                          ".jsonl; any other is one example a line).")
        flags.DEFINE_string("text_column", None,
                            "CSV/TSV: the text column, by header name or 0-based index "
                            "(several, comma-separated, are joined).")
        flags.DEFINE_string("label_column", None,
                            "CSV/TSV: the label column, by header name or 0-based index.")
        flags.DEFINE_string("text_field", "text", "JSON Lines: the text field.")
        flags.DEFINE_string("label_field", "label", "JSON Lines: the label field.")
        flags.DEFINE_string("label_separator", "\t",
                            "One example a line: what separates the label from the text "
                            "('tab', 'space' or any string; many classic corpora use a "
                            "space).")
        flags.DEFINE_string("coarse_label_separator", None,
                            "Keep each label's part before this separator (TREC's "
                            "'COARSE:fine' labels with ':' give its 6 coarse classes).")
        flags.DEFINE_string("pretrained_embeddings", None,
                            "Word vectors to start the token embeddings from: a GloVe, "
                            "word2vec or fastText text file (optionally .gz) with the "
                            "model's embedding size (e.g. --hparams=embedding_dim=300). "
                            "Best with --word_vocab; training fine-tunes them.")
        flags.DEFINE_integer("pretrained_vocab", 0,
                             "Add the N most frequent words of --pretrained_embeddings "
                             "that training lacks to the vocabulary, so that words unseen "
                             "in training keep their pretrained meaning instead of "
                             "becoming [UNK] (e.g. 50000).")
        flags.DEFINE_integer("top_k", 1,
                             "--mode=predict: label<TAB>probability pairs printed a line.")

    def check_flags(self):
        if FLAGS.top_k < 1:
            raise UsageError(f"--top_k={FLAGS.top_k}: give 1 or more labels a line.")
        if FLAGS.max_length < 1:
            raise UsageError(f"--max_length={FLAGS.max_length}: give a positive length.")
        if FLAGS.pretrained_vocab < 0:
            raise UsageError(f"--pretrained_vocab={FLAGS.pretrained_vocab}: give 0 or more "
                             "words.")
        if FLAGS.pretrained_vocab and not FLAGS.pretrained_embeddings:
            raise UsageError("--pretrained_vocab adds words of --pretrained_embeddings: give "
                             "the vectors file too.")
        if FLAGS.pretrained_embeddings and not os.path.isfile(FLAGS.pretrained_embeddings):
            raise UsageError(f"--pretrained_embeddings={FLAGS.pretrained_embeddings}: no such "
                             "file. Give a GloVe, word2vec or fastText text file.")

    def reader_options(self):
        return dict(format=None if FLAGS.format == "auto" else FLAGS.format,
                    text_column=FLAGS.text_column, label_column=FLAGS.label_column,
                    text_field=FLAGS.text_field, label_field=FLAGS.label_field,
                    label_separator=FLAGS.label_separator,
                    coarse_label_separator=FLAGS.coarse_label_separator,
                    encoding=FLAGS.encoding)

    def data_config(self, splits):
        return {"label_names": list(splits.info["label_names"])}

    # --- vocabulary, model and batches ---

    def prepare(self, run):
        """The run's subword tokenizer (`vocab.txt`), learnt on the training texts first
        (and extended with `--pretrained_vocab` words of the vectors file)."""
        from zoo.text import word_vectors

        extend = None
        if FLAGS.pretrained_vocab:
            extend = functools.partial(
                word_vectors.frequent_words, FLAGS.pretrained_embeddings,
                FLAGS.pretrained_vocab, lowercase=run.config["lowercase"])
        return driver.one_tokenizer(run, "text", extend=extend)

    def model_kwargs(self, run):
        return dict(vocab_size=run.assets.vocabulary_size,
                    num_classes=len(run.config["label_names"]),
                    max_length=run.config["max_length"])

    def sample_inputs(self):
        import numpy as np

        return np.ones((1, 2), "int32")

    def initialize_weights(self, run, model):
        if not FLAGS.pretrained_embeddings:
            return
        from zoo.text import RESERVED_TOKENS, word_vectors

        table, found = word_vectors.embedding_table(
            FLAGS.pretrained_embeddings, run.assets.vocabulary,
            lowercase=run.config["lowercase"], seed=FLAGS.seed)
        model(self.sample_inputs())  # builds the variables
        model.set_token_embeddings(table)
        words = run.assets.vocabulary_size - len(RESERVED_TOKENS)
        print(f"  pretrained embeddings: {found} of the vocabulary's {words} tokens found in "
              f"{FLAGS.pretrained_embeddings} ({found / words:.0%}); the others start random")

    def batches(self, run, records, training):
        import zoo.data

        return zoo.data.classification_batches(
            records, run.assets, batch_size=FLAGS.batch_size,
            max_length=run.config["max_length"], shuffle=training, repeat=training,
            drop_remainder=driver.is_tpu(run.strategy), seed=FLAGS.seed)

    def loss(self, run):
        from zoo import training

        # Class 0 is a real class: no label is ignored.
        return training.MaskedSparseCrossentropy(FLAGS.label_smoothing, ignore_label=None,
                                                 name="sparse_crossentropy")

    def train_metrics(self, run):
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # --- predictions and scores ---

    def validator(self, run, model, records):
        texts, gold = texts_and_labels(records)
        classify = Classifier(run, model)

        def evaluate_fn(model):
            del model  # the classifier runs the live weights
            predicted = classify(texts).argmax(-1)
            return {"accuracy": 100.0 * float((predicted == gold).mean())}

        return evaluate_fn

    def evaluate(self, run, model, records):
        from zoo import metrics, viz

        texts, gold = texts_and_labels(records)
        if not texts:
            raise UsageError("The evaluation split is empty: give examples to score.")
        probabilities = Classifier(run, model)(texts, progress=True)
        predicted = probabilities.argmax(-1)
        report = metrics.classification_report(gold, predicted, run.config["label_names"])
        path = viz.plot_confusion_matrix(report["confusion"], report["label_names"],
                                         run.dir.file("confusion_matrix.png"),
                                         title="confusion matrix (rows: gold)")
        rows = [("accuracy", f"{report['accuracy']:.1f}"),
                ("macro-F1", f"{report['macro_f1']:.1f}"),
                ("per class", metrics.format_per_class(report)),
                ("confusion matrix", metrics.format_confusion_matrix(report)),
                ("confusion plot", path)]
        examples = list(zip(texts, gold, predicted, probabilities.max(-1)))
        return driver.Evaluation(report, len(texts), rows, examples)

    def predict(self, run, model, inputs):
        probabilities = Classifier(run, model)(inputs)
        names = run.config["label_names"]
        top_k = min(FLAGS.top_k, len(names))
        for row in probabilities:
            best = row.argsort()[::-1][:top_k]
            yield "\t".join(f"{names[i]}\t{row[i]:.4f}" for i in best)

    def export(self, run, model, export_dir):
        from zoo import export

        return export.export_classifier(model, run.assets, export_dir, self.name,
                                        label_names=run.config["label_names"],
                                        max_length=run.config["max_length"])

    def show_examples(self, run, model, evaluation, writer):
        import tensorflow as tf

        from zoo import viz

        names = run.config["label_names"]
        classify = Classifier(run, model)
        paths = []
        for index, (text, gold, predicted, probability) in enumerate(
                evaluation.examples[:4]):
            console.print_rows([("text", text), ("gold", names[gold]),
                                ("predicted", f"{names[predicted]} ({probability:.2f})")])
            print()
            tokens, weights = classify.token_weights(text)
            title = f"gold {names[gold]}, predicted {names[predicted]}"
            rows = {"attention": weights}
            paths.append(viz.plot_token_weights(tokens, rows,
                                                run.dir.file(f"attention_{index}.png"), title))
            with writer.as_default():
                tf.summary.image(f"attention/{index}",
                                 viz.token_weights_image(tokens, rows, title), step=0)
        confusion = evaluation.scores["confusion"]
        with writer.as_default():
            tf.summary.image("confusion_matrix", viz.confusion_image(confusion, names), step=0)
        return [("attention plots", f"{paths[0]} (and {len(paths) - 1} more)")]


def texts_and_labels(records):
    """`(texts, label ids)`: a list of strings and an int numpy array."""
    import numpy as np

    texts, labels = [], []
    for record in records.as_numpy_iterator():
        texts.append(record["text"].decode("utf-8", errors="replace"))
        labels.append(int(record["label"]))
    return texts, np.array(labels, "int64")


class Classifier:
    """Texts in, class probabilities out, through the exported graph's own functions.

    `zoo.export.ClassifierServer` (sanitize, graph tokenizer, truncate, model, softmax)
    compiled once, so `--mode=predict` and evaluation answer exactly what the export does.

    Args:
        run: the `driver.Run` (its tokenizer, label names and maximum length).
        model: the classifier.
    """

    def __init__(self, run, model):
        import tensorflow as tf

        from zoo.export import ClassifierServer
        from zoo.export.classifier import INPUT_SIGNATURE

        self.model = model
        self.tokenizer = run.assets
        self.max_length = run.config["max_length"]
        server = ClassifierServer(model, run.assets, run.config["label_names"],
                                  self.max_length)
        self._probabilities = tf.function(
            lambda inputs: server.probabilities(inputs)["probabilities"],
            input_signature=INPUT_SIGNATURE)

    def __call__(self, texts, batch_size=256, progress=False):
        """`(len(texts), classes)` float32 probabilities."""
        import numpy as np
        import tensorflow as tf
        from tqdm.auto import tqdm

        chunks = []
        for start in tqdm(range(0, len(texts), batch_size), desc="classifying",
                          unit="batch", disable=not progress, leave=False):
            batch = tf.constant(texts[start:start + batch_size], tf.string)
            chunks.append(self._probabilities(batch).numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), "float32")

    def token_weights(self, text):
        """`(tokens, weights)`: how much the model's pooling attends to each token."""
        import numpy as np

        from zoo.text import UNK_ID

        ids = np.asarray(self.tokenizer.tokenize([text])[0])[: self.max_length]
        ids = ids if len(ids) else np.array([UNK_ID])  # an empty text is served as [UNK]
        _, scores = self.model(ids[None].astype("int32"), return_attention_scores=True)
        if "pooling" in scores:
            weights = np.asarray(scores["pooling"])[0]
        else:  # the last layer's attention, mean over heads: the class token's row, or
            # the mean over all positions when there is no class token
            last = np.asarray(scores["encoder"][-1])[0].mean(0)
            weights = last[0, 1:] if getattr(self.model, "pooling", None) == "cls" else (
                last.mean(0))
        return [self.tokenizer.vocabulary[i] for i in ids], weights[: len(ids)]


if __name__ == "__main__":
    driver.main(TextClassification())
