"""What the sequence-to-sequence recipes share (translation, summarization): their flags,
subword vocabularies, batches, decoding, export and alignment pictures.

A seq2seq recipe subclasses `Seq2SeqTask` and states its metric (`score`) and demo.
"""

import collections

from absl import flags

from recipes import console, driver
from recipes.driver import FLAGS
from zoo.errors import UsageError


def define_seq2seq_flags():
    """The flags of every seq2seq recipe: parallel text files, lengths, decoding."""
    for split, what in (("train", "Training"), ("eval", "Validation"), ("test", "Test")):
        flags.DEFINE_string(f"{split}_src", None,
                            f"{what} source text, one example a line (files: comma-separated "
                            "or a glob).")
        flags.DEFINE_string(f"{split}_tgt", None,
                            f"{what} target text, line-aligned with --{split}_src.")
    flags.DEFINE_enum("format", "auto", ["auto", "csv", "tsv", "jsonl"],
                      "Format of --train_file/--eval_file/--test_file ('auto': from the "
                      "extension: .csv, .tsv, .jsonl; any other is source<TAB>target lines).")
    flags.DEFINE_string("source_field", None,
                        "JSON Lines: the source's field (default: a known pair such as "
                        "source/target, document/summary, email/subject).")
    flags.DEFINE_string("target_field", None, "JSON Lines: the target's field.")
    flags.DEFINE_string("source_column", None,
                        "CSV/TSV: the source's column, by header name or 0-based index.")
    flags.DEFINE_string("target_column", None,
                        "CSV/TSV: the target's column, by header name or 0-based index.")
    flags.DEFINE_boolean("shared_vocab", False,
                         "One subword vocabulary for source and target (learnt on both).")
    flags.DEFINE_integer("max_source_length", None,
                         "Longest input in tokens; longer is truncated.")
    flags.DEFINE_integer("max_target_length", None,
                         "Longest output in tokens; longer is truncated.")
    flags.DEFINE_integer("beam_size", 4, "Beam size of decoding (1: greedy).")
    flags.DEFINE_float("length_penalty", 0.6, "GNMT length penalty alpha of beam search.")
    flags.DEFINE_integer("min_length", 0,
                         "Decoding: the fewest tokens before the end may be generated.")
    flags.DEFINE_integer("no_repeat_ngram_size", 0,
                         "Decoding: no n-gram of this size appears twice in an output "
                         "(0: off).")


class Seq2SeqTask(driver.Task):
    """A task whose model reads a source text and writes a target text.

    Subclasses set `name`, `data_task`, `metric`, `defaults` and implement `score`.
    """

    families = ("seq2seq",)
    run_flags = ("shared_vocab", "max_source_length", "max_target_length")
    example_unit = "sentence pairs"
    output_label = "output"

    def define_flags(self):
        define_seq2seq_flags()

    def check_flags(self):
        hparams = driver.parse_hparams(FLAGS.hparams)
        if hparams.get("share_embeddings") and not FLAGS.shared_vocab:
            raise UsageError(
                "--hparams=share_embeddings=true needs one vocabulary for source and target: "
                "add --shared_vocab.")

    def reader_options(self):
        return dict(format=None if FLAGS.format == "auto" else FLAGS.format,
                    source_field=FLAGS.source_field, target_field=FLAGS.target_field,
                    source_column=FLAGS.source_column, target_column=FLAGS.target_column,
                    encoding=FLAGS.encoding)

    def score(self, hypotheses, references):
        """`{name: value}` of the task's metrics, `self.metric` among them."""
        raise NotImplementedError

    def score_rows(self, scores):
        """The scores as `(label, text)` rows for the console."""
        raise NotImplementedError

    # --- vocabularies, model and batches ---

    def prepare(self, run):
        """`(source, target)` tokenizers from the run's vocabularies, learnt on the training
        split first if absent; a shared vocabulary (`vocab.shared.txt`) serves both sides."""
        from zoo import text

        sides = ("shared",) if run.config.get("shared_vocab") else ("source", "target")
        paths = [run.dir.file(f"vocab.{side}.txt") for side in sides]
        if not all(path.exists() for path in paths):
            self._learn_vocabularies(run, sides, paths)
        loaded = [text.SubwordTokenizer.load(path, lowercase=run.config["lowercase"])
                  for path in paths]
        return loaded * 2 if len(loaded) == 1 else loaded

    def _learn_vocabularies(self, run, sides, paths):
        import zoo.data
        from zoo import text

        if run.splits is None:
            raise UsageError(f"{run.dir.path} has no vocabulary files: train first.")
        print(console.rule("Vocabulary"))
        fields = {"shared": ("source", "target"), "source": "source", "target": "target"}
        for side, path in zip(sides, paths):
            texts = zoo.data.record_texts(run.splits.train, fields[side])
            tokenizer = text.train_subword_tokenizer(texts, run.config["vocab_size"],
                                                     lowercase=run.config["lowercase"],
                                                     min_count=FLAGS.vocab_min_count,
                                                     whole_words=FLAGS.word_vocab)
            tokenizer.save(path)
            print(f"  {side} vocabulary: {tokenizer.vocabulary_size} subwords, saved as {path}")

    def model_kwargs(self, run):
        source, target = run.assets
        config = run.config
        return dict(source_vocab_size=source.vocabulary_size,
                    target_vocab_size=target.vocabulary_size,
                    max_length=max(config["max_source_length"],
                                   config["max_target_length"] + 1))

    def sample_inputs(self):
        import numpy as np

        return np.ones((1, 2), "int32"), np.ones((1, 2), "int32")

    def batches(self, run, records, training):
        import zoo.data

        return zoo.data.seq2seq_batches(
            records, *run.assets, batch_size=FLAGS.batch_size,
            max_source_length=run.config["max_source_length"],
            max_target_length=run.config["max_target_length"], shuffle=training,
            repeat=training, drop_remainder=driver.is_tpu(run.strategy), seed=FLAGS.seed)

    def loss(self, run):
        from zoo import training

        return training.masked_sparse_crossentropy(FLAGS.label_smoothing)

    def train_metrics(self, run):
        from zoo import training

        return [training.masked_accuracy]

    # --- decoding and scores ---

    def predictor(self, run, model, beam_size=None):
        config = run.config
        return Seq2SeqPredictor(
            model, *run.assets, config["max_source_length"], config["max_target_length"],
            beam_size=FLAGS.beam_size if beam_size is None else beam_size,
            length_penalty=FLAGS.length_penalty, jit_compile=FLAGS.jit_compile,
            **self.decoding_controls())

    def decoding_controls(self):
        """The decoding controls of the flags, for the predictor and the export."""
        return dict(min_length=FLAGS.min_length,
                    no_repeat_ngram_size=FLAGS.no_repeat_ngram_size)

    def validator(self, run, model, records):
        sources, references = pairs(records)
        greedy = self.predictor(run, model, beam_size=1)

        def evaluate_fn(model):
            del model  # the predictor decodes with the live weights
            return {self.metric: self.score(greedy(sources), references)[self.metric]}

        return evaluate_fn

    def test_scores(self, hypotheses, references):
        """The scores evaluation reports (per-epoch validation uses `score`)."""
        return self.score(hypotheses, references)

    def evaluate(self, run, model, records):
        sources, references = pairs(records)
        hypotheses = self.predictor(run, model)(sources, progress=True)
        scores = self.test_scores(hypotheses, references)
        path = run.dir.file("predictions.txt")
        path.write_text("".join(f"{line}\n" for line in hypotheses), encoding="utf-8")
        controls = ", ".join(f"{name} {value}" for name, value in
                             self.decoding_controls().items() if value)
        rows = self.score_rows(scores) + [
            ("decoding", f"beam {FLAGS.beam_size}, length penalty {FLAGS.length_penalty}"
                         + (f", {controls}" if controls else "")),
            ("predictions", path)]
        return driver.Evaluation(scores, len(sources), rows,
                                 list(zip(sources, hypotheses, references)))

    def predict(self, run, model, inputs):
        yield from self.predictor(run, model)(inputs)

    def export(self, run, model, export_dir):
        from zoo import export

        return export.export_seq2seq(
            model, *run.assets, export_dir=export_dir, model_name=self.name,
            beam_size=FLAGS.beam_size, length_penalty=FLAGS.length_penalty,
            max_source_length=run.config["max_source_length"],
            max_target_length=run.config["max_target_length"], **self.decoding_controls())

    def show_examples(self, run, model, evaluation, writer):
        import tensorflow as tf

        from zoo import viz

        for source, hypothesis, reference in evaluation.examples[:5]:
            console.print_rows([("source", source), (self.output_label, hypothesis),
                                ("reference", reference)])
            print()
        source = evaluation.examples[0][0]
        alignment = self.predictor(run, model).alignment(source)
        rows = (alignment.weights, alignment.source_tokens,
                self.output_labels(model, alignment))
        path = viz.plot_attention(*rows, run.dir.file("attention.png"), title=source)
        with writer.as_default():
            tf.summary.image("attention", viz.attention_image(*rows, title=source), step=0)
        return [("attention plot", path)]

    def output_labels(self, model, alignment):
        """The attention plot's labels of the output tokens."""
        return alignment.output_tokens


def pairs(records):
    """`(sources, targets)` as lists of Python strings from a record dataset."""
    sources, targets = [], []
    for record in records.as_numpy_iterator():
        sources.append(record["source"].decode("utf-8"))
        targets.append(record["target"].decode("utf-8"))
    return sources, targets


class Seq2SeqPredictor:
    """Strings in, strings out: tokenize, decode with a compiled beam search, detokenize.

    Used for per-epoch validation, evaluation, `--mode=predict` and attention plots; it
    prepares inputs exactly as the exported graph does.

    Args:
        model: a `zoo.models` seq2seq model.
        source_tokenizer: `zoo.text.SubwordTokenizer` of the inputs.
        target_tokenizer: `zoo.text.SubwordTokenizer` of the outputs.
        max_source_length: inputs are truncated to this many tokens.
        max_target_length: most tokens generated.
        beam_size: 1 decodes greedily.
        length_penalty: GNMT alpha of beam search.
        jit_compile: compile the decoding loop with XLA.
        min_length, no_repeat_ngram_size: decoding controls of `zoo.decoding`.
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, max_source_length,
                 max_target_length, beam_size=4, length_penalty=0.6, jit_compile=False,
                 min_length=0, no_repeat_ngram_size=0):
        import tensorflow as tf

        from zoo import decoding

        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.beam_size = beam_size

        controls = dict(min_length=min_length, no_repeat_ngram_size=no_repeat_ngram_size)

        def decode(source_ids):
            if beam_size == 1:
                return decoding.greedy_search(model, source_ids, max_target_length,
                                              **controls), None
            return decoding.beam_search(model, source_ids, max_target_length,
                                        beam_size=beam_size, length_penalty=length_penalty,
                                        **controls)

        def align(source_ids):
            return decoding.beam_search(model, source_ids, max_target_length,
                                        beam_size=max(beam_size, 1),
                                        length_penalty=length_penalty,
                                        return_alignment=True, **controls)

        spec = [tf.TensorSpec([None, None], tf.int32)]
        self._decode = tf.function(decode, input_signature=spec, jit_compile=jit_compile)
        self._align = tf.function(align, input_signature=spec)

    def source_ids(self, texts):
        """`(ids (batch, T), empty (batch,))` prepared exactly as the exported graph does.

        Invalid UTF-8 is replaced, inputs are truncated to `max_source_length` tokens and
        an input with no tokens becomes a lone EOS (its output is then "").
        """
        import tensorflow as tf

        from zoo.export.archive import pad_token_ids
        from zoo.text import EOS_ID
        from zoo.text.graph_wordpiece import sanitize_text

        ragged = self.source_tokenizer.tokenize(sanitize_text(tf.constant(texts, tf.string)))
        return pad_token_ids(ragged, self.max_source_length, EOS_ID)

    def __call__(self, texts, batch_size=64, progress=False):
        """Returns the list of output strings for the list of input strings `texts`."""
        from tqdm.auto import tqdm

        outputs = []
        batches = range(0, len(texts), batch_size)
        for start in tqdm(batches, desc="decoding", unit="batch", disable=not progress,
                          leave=False):
            source_ids, empty = self.source_ids(texts[start:start + batch_size])
            ids, _ = self._decode(source_ids)
            strings = self.target_tokenizer.detokenize(ids).numpy()
            outputs.extend("" if blank else s.decode("utf-8", errors="replace")
                           for s, blank in zip(strings, empty.numpy()))
        return outputs

    def alignment(self, text):
        """The best output for one input and its cross-attention over the input tokens.

        Returns:
            `Alignment(source_tokens, output_tokens, weights (T_out, T_src), source_ids
            (1, T_src), output_ids)`.
        """
        import numpy as np

        source_ids, _ = self.source_ids([text])
        ids, _, weights = self._align(source_ids)
        source = [self.source_tokenizer.vocabulary[i] for i in source_ids.numpy()[0] if i]
        output_ids = []
        for i in ids.numpy()[0]:
            if i == 0:
                break
            output_ids.append(int(i))
        output = [self.target_tokenizer.vocabulary[i] for i in output_ids]
        return Alignment(source, output, np.asarray(weights)[0][: len(output), : len(source)],
                         source_ids.numpy(), output_ids)


Alignment = collections.namedtuple(
    "Alignment", ["source_tokens", "output_tokens", "weights", "source_ids", "output_ids"])
