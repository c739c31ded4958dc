"""What the sequence-to-sequence recipes share (translation, summarization): their flags,
subword vocabularies, batches, decoding, export and alignment pictures.

A seq2seq recipe subclasses `Seq2SeqTask` and states its metric (`score`) and demo.
"""

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
    flags.DEFINE_boolean("shared_vocab", False,
                         "One subword vocabulary for source and target (learnt on both).")
    flags.DEFINE_integer("max_source_length", None,
                         "Longest input in tokens; longer is truncated.")
    flags.DEFINE_integer("max_target_length", None,
                         "Longest output in tokens; longer is truncated.")
    flags.DEFINE_integer("beam_size", 4, "Beam size of decoding (1: greedy).")
    flags.DEFINE_float("length_penalty", 0.6, "GNMT length penalty alpha of beam search.")


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
        return {"encoding": FLAGS.encoding}

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
                                                     lowercase=run.config["lowercase"])
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

    def loss(self):
        from zoo import training

        return training.masked_sparse_crossentropy(FLAGS.label_smoothing)

    def train_metrics(self):
        from zoo import training

        return [training.masked_accuracy]

    # --- decoding and scores ---

    def predictor(self, run, model, beam_size=None):
        config = run.config
        return Seq2SeqPredictor(
            model, *run.assets, config["max_source_length"], config["max_target_length"],
            beam_size=FLAGS.beam_size if beam_size is None else beam_size,
            length_penalty=FLAGS.length_penalty, jit_compile=FLAGS.jit_compile)

    def validator(self, run, model, records):
        sources, references = pairs(records)
        greedy = self.predictor(run, model, beam_size=1)

        def evaluate_fn(model):
            del model  # the predictor decodes with the live weights
            return {self.metric: self.score(greedy(sources), references)[self.metric]}

        return evaluate_fn

    def evaluate(self, run, model, records):
        sources, references = pairs(records)
        hypotheses = self.predictor(run, model)(sources, progress=True)
        scores = self.score(hypotheses, references)
        rows = self.score_rows(scores) + [
            ("decoding", f"beam {FLAGS.beam_size}, length penalty {FLAGS.length_penalty}")]
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
            max_target_length=run.config["max_target_length"])

    def show_examples(self, run, model, evaluation, writer):
        import tensorflow as tf

        from zoo import viz

        for source, hypothesis, reference in evaluation.examples[:5]:
            console.print_rows([("source", source), (self.output_label, hypothesis),
                                ("reference", reference)])
            print()
        source = evaluation.examples[0][0]
        source_tokens, output_tokens, weights = self.predictor(run, model).alignment(source)
        path = viz.plot_attention(weights, source_tokens, output_tokens,
                                  run.dir.file("attention.png"), title=source)
        with writer.as_default():
            tf.summary.image("attention", viz.attention_image(
                weights, source_tokens, output_tokens, title=source), step=0)
        return [("attention plot", path)]


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
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, max_source_length,
                 max_target_length, beam_size=4, length_penalty=0.6, jit_compile=False):
        import tensorflow as tf

        from zoo import decoding

        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.beam_size = beam_size

        def decode(source_ids):
            if beam_size == 1:
                return decoding.greedy_search(model, source_ids, max_target_length), None
            return decoding.beam_search(model, source_ids, max_target_length,
                                        beam_size=beam_size, length_penalty=length_penalty)

        def align(source_ids):
            return decoding.beam_search(model, source_ids, max_target_length,
                                        beam_size=max(beam_size, 1),
                                        length_penalty=length_penalty,
                                        return_alignment=True)

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
        """Returns `(source_tokens, output_tokens, weights (T_out, T_src))` for one input."""
        import numpy as np

        source_ids, _ = self.source_ids([text])
        ids, _, weights = self._align(source_ids)
        source = [self.source_tokenizer.vocabulary[i] for i in source_ids.numpy()[0] if i]
        output = []
        for i in ids.numpy()[0]:
            if i == 0:
                break
            output.append(self.target_tokenizer.vocabulary[i])
        return source, output, np.asarray(weights)[0][: len(output), : len(source)]
