"""Question answering: train, evaluate (SQuAD exact match and F1), export and serve.

Two kinds of model, picked by `--model`'s family:

- extractive (`transformer_span_qa`, `bidaf_span_qa`): the answer is a span of the
  context. Long contexts are read in overlapping windows (`--max_context_length`,
  `--doc_stride`); a model trained on unanswerable questions (SQuAD 2.0) answers "" when
  its null score beats the best span's by more than `--null_threshold`.
- generative (the seq2seq models: `transformer_*`, `lstm_*`, the pointer-generators and
  `memory_network`, which reads the context sentence by sentence): the model reads the
  question and the context and writes the answer, for answers that are not spans (yes/no,
  counts, lists). A context longer than `--max_context_length` tokens keeps its end:
  stories hold their latest facts there.

With no flags it trains the extractive BiDAF on the built-in offline demo corpus
(bAbI-like stories and "Where is X?" questions), evaluates, exports a SavedModel that TF
Serving answers from `question` and `context` strings, prints a few answers and saves
pictures of the start and end probabilities over the context:

    python -m recipes.qa

Real data (SQuAD JSON, JSON Lines, bAbI text; several files or a glob):

    python -m recipes.qa --train_file=train-v2.0.json --test_file=dev-v2.0.json
    python -m recipes.qa --flagfile=recipes/configs/qa_babi.flags

Then `--mode=evaluate` (writes `predictions.json`, SQuAD's `{id: answer}`),
`--mode=predict` (JSON Lines `{"question", "context"}` in, one answer a line out) or
`--mode=export`.
"""

import json
import os
import re

from absl import flags

from recipes import console, driver
from recipes.driver import FLAGS
from zoo.errors import UsageError


class QuestionAnswering(driver.Task):
    """Questions about a context, answered by a span of it or by a generated text."""

    name = "qa"
    data_task = "qa"
    families = ("span_qa", "seq2seq")
    metric = "f1"
    metric_label = "F1"
    run_flags = ("max_question_length", "max_context_length")
    example_unit = "questions"
    serving_instance = '{"question": "...", "context": "..."}'
    defaults = dict(
        model="bidaf_span_qa",
        epochs=10,
        batch_size=32,
        vocab_size=1000,
        learning_rate=2e-3,
        warmup_steps=100,
        label_smoothing=0.0,
        eval_examples=500,
    )

    def define_flags(self):
        flags.DEFINE_enum("format", "auto", ["auto", "squad", "jsonl", "babi"],
                          "Data file format ('auto': .json is SQuAD, .jsonl JSON Lines, "
                          "other files bAbI text).")
        flags.DEFINE_integer("max_question_length", 64,
                             "Longest question in tokens; longer is truncated.")
        flags.DEFINE_integer("max_context_length", 384,
                             "Context tokens the model reads at once. Extractive: longer "
                             "contexts are read in overlapping windows of this length; "
                             "generative: a longer context keeps its last tokens.")
        flags.DEFINE_integer("doc_stride", 128,
                             "Extractive: tokens between the starts of a long context's "
                             "windows.")
        flags.DEFINE_integer("max_answer_length", 30,
                             "Longest answer in tokens (extractive spans; generated "
                             "answers).")
        flags.DEFINE_float("null_threshold", 0.0,
                           "Extractive, trained with unanswerable questions (SQuAD 2.0): "
                           "answer '' when the null score exceeds the best span's score "
                           "by more than this.")
        flags.DEFINE_integer("beam_size", 4, "Generative: beam size of decoding (1: greedy).")
        flags.DEFINE_float("length_penalty", 0.6,
                           "Generative: GNMT length penalty alpha of beam search.")

    def check_flags(self):
        for name in ("max_question_length", "max_context_length", "max_answer_length",
                     "beam_size"):
            if FLAGS[name].value < 1:
                raise UsageError(f"--{name}={FLAGS[name].value}: give a positive number.")

    def reader_options(self):
        return dict(format=None if FLAGS.format == "auto" else FLAGS.format,
                    encoding=FLAGS.encoding)

    def data_config(self, splits):
        import tensorflow as tf

        unanswerable = splits.train.filter(lambda record: tf.equal(record["answers"], ""))
        return {"unanswerable": any(True for _ in unanswerable.take(1))}

    # --- vocabulary, model and batches ---

    def kind(self, run):
        """The run's `Extractive` or `Generative` half, from its model's family."""
        import zoo.models

        family = zoo.models.get(run.config["model"]).family
        return Extractive() if family == "span_qa" else Generative()

    def prepare(self, run):
        """One subword tokenizer (`vocab.txt`) for questions, contexts and answers."""
        return driver.one_tokenizer(run, ("question", "context", "answer"))

    def model_kwargs(self, run):
        return self.kind(run).model_kwargs(run)

    def sample_inputs(self):
        import numpy as np

        return np.ones((1, 2), "int32"), np.ones((1, 2), "int32")

    def batches(self, run, records, training):
        return self.kind(run).batches(run, records, training)

    def loss(self, run):
        return self.kind(run).loss()

    def train_metrics(self, run):
        return self.kind(run).train_metrics()

    # --- answers and scores ---

    def validator(self, run, model, records):
        examples = qa_examples(records)
        answer = self.kind(run).answerer(run, model, quick=True)

        def evaluate_fn(model):
            del model  # the answerer runs the live weights
            scores = squad_scores(examples, answer(examples))
            return {name: scores[name] for name in ("f1", "exact_match")}

        return evaluate_fn

    def evaluate(self, run, model, records):
        examples = qa_examples(records)
        if not examples:
            raise UsageError("The evaluation split is empty: give questions to score.")
        answers = self.kind(run).answerer(run, model)(examples, progress=True)
        scores = squad_scores(examples, answers)
        path = run.dir.file("predictions.json")
        path.write_text(json.dumps({example["id"]: answer for example, answer in
                                    zip(examples, answers)}, indent=1, ensure_ascii=False)
                        + "\n", encoding="utf-8")
        rows = [("exact match", f"{scores['exact_match']:.1f}"),
                ("F1", f"{scores['f1']:.1f}")]
        if "no_answer_total" in scores:
            rows.append(("unanswerable", f"{scores['no_answer_total']} questions, exact "
                                         f"match {scores['no_answer_exact_match']:.1f}"))
        if len(scores["per_file"]) > 1:
            rows.append(("per file", per_file_table(scores["per_file"])))
        rows.append(("predictions", path))
        return driver.Evaluation(scores, len(examples), rows, list(zip(examples, answers)))

    def predict(self, run, model, inputs):
        examples = [dict(example, id=str(number)) for number, example in inputs]
        answers = self.kind(run).answerer(run, model)(examples)
        for answer in answers:
            yield " ".join(answer.split())  # one line an answer, whatever it holds

    def read_inputs(self):
        """`(line number, {"question", "context"})` for each non-blank input line."""
        from zoo.data.files import json_objects

        lines = console.read_inputs(FLAGS.input, skip_blank=False)
        examples = []
        for number, example in json_objects(lines, "--mode=predict input"):
            if not all(isinstance(example.get(key), str) for key in ("question", "context")):
                raise UsageError(f"--mode=predict input, line {number}: expected string "
                                 'fields "question" and "context", e.g. {"question": "Where '
                                 'is Mary?", "context": "Mary went to the garden."}.')
            examples.append((number, {"question": example["question"],
                                      "context": example["context"]}))
        if not examples:
            raise UsageError("--mode=predict got no input: give --input=FILE or pipe JSON "
                             "Lines into stdin.")
        return examples

    def export(self, run, model, export_dir):
        return self.kind(run).export(run, model, export_dir, self.name)

    def show_examples(self, run, model, evaluation, writer):
        import tensorflow as tf

        paths = []
        for index, (example, answer) in enumerate(evaluation.examples[:4]):
            console.print_rows([("context", example["context"]),
                                ("question", example["question"]),
                                ("answer", answer or "(no answer)"),
                                ("gold", " | ".join(example["answers"]) or "(no answer)")])
            print()
            title = f"{example['question']}  gold: {example['answers'][:1]}, answer: {answer!r}"
            path, image = self.kind(run).picture(run, model, example, title,
                                                 run.dir.file(f"answer_{index}.png"))
            paths.append(path)
            with writer.as_default():
                tf.summary.image(f"answer/{index}", image, step=0)
        return [("pictures", f"{paths[0]} (and {len(paths) - 1} more)")] if paths else []

    def summary(self, run):
        kind = "extractive" if isinstance(self.kind(run), Extractive) else "generative"
        return [("kind", f"{kind} ({run.config['model']})")]


class Extractive:
    """The span models: start and end over the context's windows; position 0 is null."""

    def doc_stride(self, run):
        """`--doc_stride`, checked against the run's windows (generative runs ignore it)."""
        length = run.config["max_context_length"]
        window = length - 1  # the first position is the null answer's
        if not 1 <= FLAGS.doc_stride <= max(window, 1):
            raise UsageError(
                f"--doc_stride={FLAGS.doc_stride} must be in [1, {window}] (the context "
                f"tokens of a window, --max_context_length={length} less the null "
                "position) so that windows overlap or touch.")
        return FLAGS.doc_stride

    def model_kwargs(self, run):
        config = run.config
        return dict(vocab_size=run.assets.vocabulary_size,
                    max_length=max(config["max_question_length"],
                                   config["max_context_length"]))

    def batches(self, run, records, training):
        import zoo.data

        return zoo.data.span_qa_batches(
            records, run.assets, batch_size=FLAGS.batch_size,
            max_question_length=run.config["max_question_length"],
            max_context_length=run.config["max_context_length"],
            doc_stride=self.doc_stride(run), shuffle=training, repeat=training,
            drop_remainder=driver.is_tpu(run.strategy), seed=FLAGS.seed)

    def loss(self):
        from zoo import training

        # A start/end position is a class of its own, 0 (the null answer) included.
        return training.MaskedSparseCrossentropy(FLAGS.label_smoothing, ignore_label=None,
                                                 name="span_crossentropy")

    def train_metrics(self):
        return []

    def server(self, run, model):
        from zoo.export import SpanQAServer

        return SpanQAServer(
            model, run.assets, max_question_length=run.config["max_question_length"],
            max_context_length=run.config["max_context_length"],
            max_answer_length=FLAGS.max_answer_length, doc_stride=self.doc_stride(run),
            null_threshold=FLAGS.null_threshold if run.config["unanswerable"] else None)

    def answerer(self, run, model, quick=False):
        del quick  # span search costs the same either way
        return Answerer(self.server(run, model))

    def export(self, run, model, export_dir, name):
        from zoo import export

        return export.export_span_qa(
            model, run.assets, export_dir, name,
            max_question_length=run.config["max_question_length"],
            max_context_length=run.config["max_context_length"],
            max_answer_length=FLAGS.max_answer_length, doc_stride=self.doc_stride(run),
            null_threshold=FLAGS.null_threshold if run.config["unanswerable"] else None)

    def picture(self, run, model, example, title, path):
        """The start and end probabilities over the first window's context tokens."""
        import numpy as np

        from zoo import viz
        from zoo.text import CLS_ID, UNK_ID

        tokenizer = run.assets
        question, context = (np.asarray(ids)[:limit] for ids, limit in zip(
            tokenizer.tokenize([example["question"], example["context"]]),
            (run.config["max_question_length"], run.config["max_context_length"] - 1)))
        question = question if len(question) else np.array([UNK_ID])
        context = np.concatenate([[CLS_ID], context])
        start, end = (np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
                      for logits in (np.asarray(output, "float64")[0] for output in model(
                          (question[None].astype("int32"), context[None].astype("int32")))))
        tokens = ["(null)"] + [tokenizer.vocabulary[i] for i in context[1:]]
        rows = {"start": start, "end": end}
        return (viz.plot_token_weights(tokens, rows, path, title),
                viz.token_weights_image(tokens, rows, title))


# The tokens that end a context's sentences for models that read sentence by sentence.
SENTENCE_ENDS = (".", "?", "!")


class Generative:
    """The seq2seq models: `question [SEP] context's end` in, the answer written out."""

    def source_length(self, run):
        return run.config["max_question_length"] + 1 + run.config["max_context_length"]

    def model_kwargs(self, run):
        import zoo.models

        size = run.assets.vocabulary_size
        kwargs = dict(source_vocab_size=size, target_vocab_size=size,
                      max_length=max(self.source_length(run), FLAGS.max_answer_length + 1))
        if getattr(zoo.models.get(run.config["model"]).builder, "reads_sentences", False):
            kwargs["sentence_end_ids"] = [index for index, token in
                                          enumerate(run.assets.vocabulary)
                                          if token in SENTENCE_ENDS]
        return kwargs

    def batches(self, run, records, training):
        import zoo.data

        return zoo.data.generative_qa_batches(
            records, run.assets, batch_size=FLAGS.batch_size,
            max_question_length=run.config["max_question_length"],
            max_source_length=self.source_length(run),
            max_target_length=FLAGS.max_answer_length, shuffle=training, repeat=training,
            drop_remainder=driver.is_tpu(run.strategy), seed=FLAGS.seed)

    def loss(self):
        from zoo import training

        return training.masked_sparse_crossentropy(FLAGS.label_smoothing)

    def train_metrics(self):
        from zoo import training

        return [training.masked_accuracy]

    def server_options(self, run, beam_size):
        return dict(beam_size=beam_size, length_penalty=FLAGS.length_penalty,
                    max_question_length=run.config["max_question_length"],
                    max_source_length=self.source_length(run),
                    max_target_length=FLAGS.max_answer_length)

    def answerer(self, run, model, quick=False):
        from zoo.export import GenerativeQAServer

        options = self.server_options(run, 1 if quick else FLAGS.beam_size)
        return Answerer(GenerativeQAServer(model, run.assets, **options))

    def export(self, run, model, export_dir, name):
        from zoo import export

        return export.export_generative_qa(model, run.assets, export_dir, name,
                                          **self.server_options(run, FLAGS.beam_size))

    def picture(self, run, model, example, title, path):
        """The cross-attention of the answer's tokens over the question and context."""
        import numpy as np
        import tensorflow as tf

        import zoo.data
        from zoo import decoding, viz

        tokenizer = run.assets
        question, context = tokenizer.tokenize([example["question"], example["context"]])
        source = zoo.data.qa_source_ids(
            tf.RaggedTensor.from_tensor(tf.constant([question.numpy()], tf.int32)),
            tf.RaggedTensor.from_tensor(tf.constant([context.numpy()], tf.int32)),
            run.config["max_question_length"], self.source_length(run)).to_tensor()
        ids, _, weights = decoding.beam_search(
            model, source, FLAGS.max_answer_length, beam_size=max(FLAGS.beam_size, 1),
            length_penalty=FLAGS.length_penalty, return_alignment=True)
        output = [int(i) for i in np.asarray(ids)[0] if i]
        source_tokens = [tokenizer.vocabulary[i] for i in source.numpy()[0]]
        output_tokens = [tokenizer.vocabulary[i] for i in output]
        weights = np.asarray(weights)[0][: len(output), : len(source_tokens)]
        return (viz.plot_attention(weights, source_tokens, output_tokens, path, title),
                viz.attention_image(weights, source_tokens, output_tokens, title))


class Answerer:
    """Examples in, answers out, through the exported graph's own serving function.

    Args:
        server: a `zoo.export.SpanQAServer` or `GenerativeQAServer`; its `answer` is
            compiled once, so evaluation and `--mode=predict` answer what the export does.
    """

    def __init__(self, server):
        import tensorflow as tf

        from zoo.export.span_qa import INPUT_SIGNATURE

        self._answer = tf.function(lambda question, context: server.answer(
            question, context)["outputs"], input_signature=INPUT_SIGNATURE)

    def __call__(self, examples, batch_size=64, progress=False):
        """The answer strings of `examples` (dicts with `question` and `context`)."""
        import tensorflow as tf
        from tqdm.auto import tqdm

        answers = []
        for start in tqdm(range(0, len(examples), batch_size), desc="answering",
                          unit="batch", disable=not progress, leave=False):
            batch = examples[start:start + batch_size]
            outputs = self._answer(tf.constant([e["question"] for e in batch], tf.string),
                                   tf.constant([e["context"] for e in batch], tf.string))
            answers += [answer.decode("utf-8", errors="replace")
                        for answer in outputs.numpy()]
        return answers


def qa_examples(records):
    """The records as dicts of Python strings, gold `answers` as a list."""
    from zoo.data.qa_files import split_answers

    examples = []
    for record in records.as_numpy_iterator():
        examples.append({key: record[key].decode("utf-8") for key in
                         ("id", "question", "context", "source")})
        examples[-1]["answers"] = split_answers(record["answers"])
    return examples


def squad_scores(examples, answers):
    """SQuAD exact match and F1 of `answers` over all `examples`, and per source file."""
    from zoo import metrics

    def score(pairs):
        return metrics.squad_scores({e["id"]: a for e, a in pairs},
                                    {e["id"]: e["answers"] for e, _ in pairs})

    pairs = list(zip(examples, answers))
    by_file = {}
    for example, answer in pairs:
        by_file.setdefault(example["source"], []).append((example, answer))
    scores = score(pairs)
    scores["per_file"] = {os.path.basename(source): score(group)
                          for source, group in by_file.items()}
    return scores


def per_file_table(per_file):
    """A text table of each file's questions, exact match, F1 and error (100 - EM).

    Files are in natural order (`qa2_...` before `qa10_...`).
    """
    def natural(name):
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]

    width = max(len(name) for name in per_file)
    lines = [f"{'file':<{width}}  questions  exact match     F1  error %"]
    for name, scores in sorted(per_file.items(), key=lambda item: natural(item[0])):
        lines.append(f"{name:<{width}}  {scores['total']:>9}  {scores['exact_match']:>11.1f}"
                     f"  {scores['f1']:>5.1f}  {100 - scores['exact_match']:>7.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    driver.main(QuestionAnswering())
