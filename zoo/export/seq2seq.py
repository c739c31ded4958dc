"""Exports a seq2seq model as a SavedModel that stock TF Serving answers with strings.

Signatures (input `inputs`, a 1-D `tf.string` batch of raw text):

- `serving_default` → `outputs` (1-D `tf.string`, the translations) and `scores` (1-D
  float32, the GNMT length-normalised log-probability of each translation).
- `nbest` → `outputs` `(batch, n)` strings and `scores` `(batch, n)`, best first;
  `alignment` `(batch, n, max_target_length, source_length)` float32, the
  cross-attention weights of each output token over the source tokens (rows after the
  output's EOS are 0); `source_tokens` `(batch, source_length)` and `target_tokens`
  `(batch, n, max_target_length)`, the token strings labelling the alignment's axes
  (`""` at padding).

In the graph: sanitize (invalid UTF-8 → U+FFFD, strip) → `GraphWordPieceTokenizer` →
truncate to `max_source_length` → pad → `zoo.decoding.beam_search` → detokenize. An
input with no tokens (empty or whitespace only) is decoded from a lone `[EOS]` and
answered with `""` and score 0, so the batch never fails as a whole. The decoding
controls `min_length` and `no_repeat_ngram_size` (see `zoo.decoding`) are compiled into
the graph: they are fixed at export time, like `beam_size`.

Generative question answering (`export_generative_qa`, `GenerativeQAServer`): the
signature of the span QA export (`zoo.export.span_qa`), so TF Serving clients of both
kinds are the same: `serving_default` takes two named 1-D `tf.string` inputs, `question`
and `context` (REST: `{"instances": [{"question": "...", "context": "..."}]}`), and
returns `outputs` (the written answers) and `scores` as above. In the graph: sanitize
both → `GraphWordPieceTokenizer` → `zoo.data.qa_source_ids` (the question's first
`max_question_length` tokens, `[SEP]`, the context's last tokens, `max_source_length` in
all: the source the model was trained on) → pad → beam search → detokenize. An example
whose question and context both hold no tokens answers `""` with score 0.

Example:

>>> import tensorflow as tf
>>> from zoo.export import export_generative_qa, export_seq2seq
>>> path = export_seq2seq(model, source_tokenizer, target_tokenizer,
...                       "/tmp/export", "nmt", beam_size=4)  # doctest: +SKIP
>>> path = export_seq2seq(model, source_tokenizer, target_tokenizer, "/tmp/export", "nmt",
...                       min_length=2, no_repeat_ngram_size=3)  # doctest: +SKIP
>>> translate = tf.saved_model.load(path).signatures["serving_default"]  # doctest: +SKIP
>>> translate(inputs=tf.constant(["ein Haus"]))["outputs"]  # doctest: +SKIP
>>> path = export_generative_qa(model, tokenizer, "/tmp/export", "qa",
...                             max_question_length=32)  # doctest: +SKIP
>>> answer = tf.saved_model.load(path).signatures["serving_default"]  # doctest: +SKIP
>>> answer(question=tf.constant(["Is Mary in the kitchen?"]),
...        context=tf.constant(["Mary went to the kitchen."]))["outputs"]  # doctest: +SKIP
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import decoding
from zoo.data.qa_source import check_source_lengths, qa_source_ids
from zoo.errors import UsageError
from zoo.export import span_qa
from zoo.export.archive import pad_token_ids, to_ragged, write_archive
from zoo.text.graph_wordpiece import GraphWordPieceTokenizer, sanitize_text
from zoo.text.special_tokens import EOS_ID

INPUT_SIGNATURE = [tf.TensorSpec([None], tf.string, name="inputs")]
WARMUP_INPUTS = ["Hello world.", "", "A longer sentence, with punctuation; and digits 123!"]


def _check_lengths(model, max_source_length, max_target_length):
    model_max = int(model.max_length)
    max_source_length = int(max_source_length or model_max)
    max_target_length = int(max_target_length or model_max)
    for name, value in (("max_source_length", max_source_length),
                        ("max_target_length", max_target_length)):
        if not 1 <= value <= model_max:
            raise UsageError(
                f"{name}={value} must be in [1, {model_max}] (the model's max_length)."
            )
    return max_source_length, max_target_length


def _check_controls(min_length, no_repeat_ngram_size, max_target_length):
    decoding.check_controls(min_length, no_repeat_ngram_size, max_target_length,
                            max_length_name="max_target_length")
    return int(min_length), int(no_repeat_ngram_size)


class Seq2SeqServer:
    """The serving functions of a seq2seq model: raw strings in, strings out.

    Args:
        model: a `zoo.models` seq2seq model (built).
        source_tokenizer: the training-time `zoo.text.SubwordTokenizer` of the source.
        target_tokenizer: the `zoo.text.SubwordTokenizer` of the target.
        beam_size: beams of the beam search.
        length_penalty: the GNMT α of the beam search.
        max_source_length: longer inputs are truncated to this many tokens (default: the
            model's `max_length`).
        max_target_length: tokens generated at most (default: the model's `max_length`).
        nbest_size: hypotheses returned by `nbest` (default: `beam_size`).
        min_length: EOS cannot be generated before this many target tokens have been
            (0: off; at most `max_target_length`).
        no_repeat_ngram_size: no n-gram of this many target tokens appears twice in one
            output (0: off).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.export import Seq2SeqServer
    >>> server = Seq2SeqServer(model, source_tokenizer, target_tokenizer)  # doctest: +SKIP
    >>> server.translate(tf.constant(["ein Haus"]))["outputs"]  # doctest: +SKIP
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, beam_size=4,
                 length_penalty=0.6, max_source_length=None, max_target_length=None,
                 nbest_size=None, min_length=0, no_repeat_ngram_size=0):
        self.max_source_length, self.max_target_length = _check_lengths(
            model, max_source_length, max_target_length)
        self.min_length, self.no_repeat_ngram_size = _check_controls(
            min_length, no_repeat_ngram_size, self.max_target_length)
        self.beam_size = int(beam_size)
        self.length_penalty = float(length_penalty)
        self.nbest_size = int(nbest_size or beam_size)
        if not 1 <= self.nbest_size <= self.beam_size:
            raise UsageError(
                f"nbest_size={self.nbest_size} must be in [1, beam_size={self.beam_size}]."
            )
        self.model = model
        self.source_tokenizer = GraphWordPieceTokenizer(
            source_tokenizer.vocabulary, lowercase=source_tokenizer.lowercase)
        self._source_vocabulary = source_tokenizer.vocabulary
        self._target_vocabulary = target_tokenizer.vocabulary
        self._detokenize = target_tokenizer.detokenize

    @property
    def table_owners(self):
        """The `tf.Module`s holding the lookup tables the functions use."""
        return [self.source_tokenizer]

    def source_ids(self, inputs):
        """`(ids (batch, T) int32, empty (batch,) bool)` of a 1-D batch of raw strings."""
        ragged = self.source_tokenizer.tokenize(sanitize_text(inputs))
        return pad_token_ids(ragged, self.max_source_length, EOS_ID)

    def _beam_search(self, ids, num_return, return_alignment=False):
        return decoding.beam_search(
            self.model, ids, self.max_target_length, beam_size=self.beam_size,
            length_penalty=self.length_penalty, num_return=num_return,
            return_alignment=return_alignment, min_length=self.min_length,
            no_repeat_ngram_size=self.no_repeat_ngram_size)

    def decode(self, ids, empty):
        """Beam search and detokenize: `{"outputs": (batch,) string, "scores": (batch,)
        float32}` of padded source ids; rows where `empty` is True answer `""` and 0."""
        target_ids, scores = self._beam_search(ids, 1)
        outputs = self._detokenize(target_ids)
        return {
            "outputs": tf.where(empty, "", outputs),
            "scores": tf.where(empty, 0.0, tf.cast(scores, tf.float32)),
        }

    def translate(self, inputs):
        """`{"outputs": (batch,) string, "scores": (batch,) float32}` for raw strings."""
        return self.decode(*self.source_ids(inputs))

    def nbest(self, inputs):
        """The n-best translations, their scores and alignments; see the module doc."""
        ids, empty = self.source_ids(inputs)
        target_ids, scores, alignment = self._beam_search(
            ids, self.nbest_size, return_alignment=True)
        target_ids = tf.convert_to_tensor(target_ids)
        batch_size = tf.shape(target_ids)[0]
        flat_ids = tf.reshape(target_ids, [-1, self.max_target_length])
        outputs = tf.reshape(self._detokenize(flat_ids), [batch_size, self.nbest_size])
        empty_column = empty[:, None]
        source_tokens = tf.gather(tf.constant(self._source_vocabulary), ids)
        source_tokens = tf.where((ids == 0) | empty_column, "", source_tokens)
        target_tokens = tf.gather(tf.constant(self._target_vocabulary), target_ids)
        target_tokens = tf.where(target_ids == 0, "", target_tokens)
        return {
            "outputs": tf.where(empty_column, "", outputs),
            "scores": tf.where(empty_column, 0.0, tf.cast(scores, tf.float32)),
            "alignment": tf.where(empty[:, None, None, None], 0.0,
                                  tf.cast(alignment, tf.float32)),
            "source_tokens": source_tokens,
            "target_tokens": tf.where(empty[:, None, None], "", target_tokens),
        }


def reference_translate(model, source_tokenizer, target_tokenizer, texts, beam_size=4,
                        length_penalty=0.6, max_source_length=None, max_target_length=None,
                        min_length=0, no_repeat_ngram_size=0):
    """Translates in Python (eager), with the training-time keras-hub tokenizer.

    This is the path an exported model must match string for string: the same
    sanitizing, truncation and padding, but `SubwordTokenizer.tokenize` (tensorflow-text
    kernels) instead of the graph tokenizer, and eager beam search. The arguments are
    those of `export_seq2seq`.

    Returns:
        `(translations, scores)`: a list of `str` and a float32 numpy array.
    """
    max_source_length, max_target_length = _check_lengths(
        model, max_source_length, max_target_length)
    min_length, no_repeat_ngram_size = _check_controls(
        min_length, no_repeat_ngram_size, max_target_length)
    ids, empty = pad_token_ids(_reference_tokenize(source_tokenizer, texts),
                               max_source_length, EOS_ID)
    return _reference_decode(model, target_tokenizer, ids, empty, max_target_length,
                             beam_size, length_penalty, min_length, no_repeat_ngram_size)


def _reference_tokenize(tokenizer, texts):
    return to_ragged(tokenizer.tokenize(sanitize_text(tf.constant(texts, tf.string))))


def _reference_decode(model, target_tokenizer, ids, empty, max_target_length, beam_size,
                      length_penalty, min_length, no_repeat_ngram_size):
    """Eager beam search and detokenize: `(strings, float32 scores)`, `""` and 0 where
    `empty`."""
    target_ids, scores = decoding.beam_search(
        model, ids, max_target_length, beam_size=beam_size, length_penalty=length_penalty,
        min_length=min_length, no_repeat_ngram_size=no_repeat_ngram_size)
    outputs = target_tokenizer.detokenize(keras.ops.convert_to_numpy(target_ids)).numpy()
    empty = np.asarray(empty)
    strings = ["" if e else o.decode("utf-8") for o, e in zip(outputs, empty)]
    scores = np.where(empty, 0.0, keras.ops.convert_to_numpy(scores)).astype("float32")
    return strings, scores


def export_seq2seq(model, source_tokenizer, target_tokenizer, export_dir, model_name,
                   beam_size=4, length_penalty=0.6, max_source_length=None,
                   max_target_length=None, nbest_size=None, min_length=0,
                   no_repeat_ngram_size=0):
    """Writes a new TF Serving version of a seq2seq model; see the module docstring.

    Args:
        model: a built `zoo.models` seq2seq model.
        source_tokenizer: the source `zoo.text.SubwordTokenizer`.
        target_tokenizer: the target `zoo.text.SubwordTokenizer`.
        export_dir: TF Serving's model base path parent; the version goes to
            `<export_dir>/<model_name>/<N>` with N one more than the largest existing.
        model_name: the name TF Serving serves it under.
        beam_size: beams of the in-graph beam search.
        length_penalty: its GNMT α.
        max_source_length: inputs are truncated to this many tokens (default: the
            model's `max_length`).
        max_target_length: tokens generated at most (default: the model's `max_length`).
        nbest_size: hypotheses of the `nbest` signature (default: `beam_size`).
        min_length: EOS cannot be generated before this many target tokens have been
            (0: off; at most `max_target_length`).
        no_repeat_ngram_size: no n-gram of this many target tokens appears twice in one
            output (0: off).

    Returns:
        The new version directory, a string.
    """
    server = Seq2SeqServer(model, source_tokenizer, target_tokenizer, beam_size,
                           length_penalty, max_source_length, max_target_length,
                           nbest_size, min_length, no_repeat_ngram_size)
    return write_archive(
        server, model_name, export_dir,
        signatures={"serving_default": (server.translate, INPUT_SIGNATURE),
                    "nbest": (server.nbest, INPUT_SIGNATURE)},
        warmup={"inputs": np.array(WARMUP_INPUTS, dtype=object)})


def _question_length(max_question_length, max_source_length):
    """The default (half the source) and checked `max_question_length`."""
    max_question_length = int(max_question_length or max(1, max_source_length // 2))
    check_source_lengths(max_question_length, max_source_length)
    return max_question_length


class GenerativeQAServer(Seq2SeqServer):
    """The serving function of a seq2seq model answering questions about a context.

    The model reads `zoo.data.qa_source_ids(question, context)` and writes the answer;
    beam search and detokenizing are those of `Seq2SeqServer.translate`.

    Args:
        model: a `zoo.models` seq2seq model (built), trained on
            `zoo.data.generative_qa_batches`.
        tokenizer: the training-time `zoo.text.SubwordTokenizer` (question, context and
            answer share it).
        beam_size: beams of the beam search.
        length_penalty: the GNMT α of the beam search.
        max_question_length: a question keeps its first this many tokens (default: half
            of `max_source_length`); less than `max_source_length`.
        max_source_length: the longest source, question, `[SEP]` and the context's end
            (default: the model's `max_length`).
        max_target_length: answer tokens generated at most (default: the model's
            `max_length`).
        min_length: EOS cannot be generated before this many answer tokens have been
            (0: off).
        no_repeat_ngram_size: no n-gram of this many tokens appears twice in one answer
            (0: off).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.export import GenerativeQAServer
    >>> server = GenerativeQAServer(model, tokenizer, max_question_length=32)  # doctest: +SKIP
    >>> server.answer(tf.constant(["Where is Mary?"]),
    ...               tf.constant(["Mary went to the kitchen."]))  # doctest: +SKIP
    """

    def __init__(self, model, tokenizer, beam_size=4, length_penalty=0.6,
                 max_question_length=None, max_source_length=None, max_target_length=None,
                 min_length=0, no_repeat_ngram_size=0):
        super().__init__(model, tokenizer, tokenizer, beam_size, length_penalty,
                         max_source_length, max_target_length, min_length=min_length,
                         no_repeat_ngram_size=no_repeat_ngram_size)
        self.max_question_length = _question_length(max_question_length,
                                                    self.max_source_length)

    def qa_source_ids(self, question, context):
        """`(ids (batch, T) int32, empty (batch,) bool)` of raw questions and contexts;
        `empty` is True where both hold no tokens."""
        question_ids = self.source_tokenizer.tokenize(sanitize_text(question))
        context_ids = self.source_tokenizer.tokenize(sanitize_text(context))
        empty = (question_ids.row_lengths() == 0) & (context_ids.row_lengths() == 0)
        source = qa_source_ids(question_ids, context_ids, self.max_question_length,
                               self.max_source_length)
        return source.to_tensor(default_value=0), empty

    def answer(self, question, context):
        """`{"outputs": (batch,) answers, "scores": (batch,) float32}`."""
        return self.decode(*self.qa_source_ids(question, context))


def reference_answer(model, tokenizer, questions, contexts, beam_size=4,
                     length_penalty=0.6, max_question_length=None, max_source_length=None,
                     max_target_length=None, min_length=0, no_repeat_ngram_size=0):
    """Answers in Python (eager), with the training-time keras-hub tokenizer.

    The path an `export_generative_qa` export must match string for string, as
    `reference_translate` is for `export_seq2seq`. The arguments are those of
    `export_generative_qa`; `questions` and `contexts` are lists of strings (or bytes).

    Returns:
        `(answers, scores)`: a list of `str` and a float32 numpy array.
    """
    max_source_length, max_target_length = _check_lengths(
        model, max_source_length, max_target_length)
    max_question_length = _question_length(max_question_length, max_source_length)
    min_length, no_repeat_ngram_size = _check_controls(
        min_length, no_repeat_ngram_size, max_target_length)
    question_ids = _reference_tokenize(tokenizer, questions)
    context_ids = _reference_tokenize(tokenizer, contexts)
    empty = (question_ids.row_lengths() == 0) & (context_ids.row_lengths() == 0)
    ids = qa_source_ids(question_ids, context_ids, max_question_length,
                        max_source_length).to_tensor(default_value=0)
    return _reference_decode(model, tokenizer, ids, empty.numpy(), max_target_length,
                             beam_size, length_penalty, min_length, no_repeat_ngram_size)


def export_generative_qa(model, tokenizer, export_dir, model_name, beam_size=4,
                         length_penalty=0.6, max_question_length=None,
                         max_source_length=None, max_target_length=None, min_length=0,
                         no_repeat_ngram_size=0):
    """Writes a new TF Serving version of a generative QA model; see the module docstring.

    Args:
        model: a built `zoo.models` seq2seq model, trained on
            `zoo.data.generative_qa_batches`.
        tokenizer: its `zoo.text.SubwordTokenizer` (questions, contexts and answers).
        export_dir: the version goes to `<export_dir>/<model_name>/<N>`, N one more than
            the largest existing version.
        model_name: the name TF Serving serves it under.
        beam_size, length_penalty, max_question_length, max_source_length,
            max_target_length, min_length, no_repeat_ngram_size: as in
            `GenerativeQAServer`; use the lengths the model was trained with.

    Returns:
        The new version directory, a string.
    """
    server = GenerativeQAServer(model, tokenizer, beam_size, length_penalty,
                                max_question_length, max_source_length, max_target_length,
                                min_length, no_repeat_ngram_size)
    return write_archive(
        server, model_name, export_dir,
        signatures={"serving_default": (server.answer, span_qa.INPUT_SIGNATURE)},
        warmup={name: np.array(values, dtype=object)
                for name, values in span_qa.WARMUP_INPUTS.items()})
