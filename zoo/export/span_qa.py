"""Exports a span QA model as a SavedModel that stock TF Serving answers with strings.

Signature `serving_default`, two named 1-D `tf.string` inputs of equal length, `question`
and `context` (REST: `{"instances": [{"question": "...", "context": "..."}]}`) →
`outputs` (1-D `tf.string`, the answer: a span of the context, copied from it, not
re-assembled from tokens) and `scores` (1-D float32, the probability
`p_start(start) * p_end(end)` of that span).

In the graph: sanitize both (invalid UTF-8 → U+FFFD, strip) → `GraphWordPieceTokenizer`
with character offsets → truncate (`max_question_length`, `max_context_length` tokens) →
pad → model → `zoo.models.span_qa.best_span` → the span's characters of the context. An
empty context answers `""` with score 0; an empty question is read as a lone `[UNK]`.

Example:

>>> import tensorflow as tf
>>> from zoo.export import export_span_qa
>>> path = export_span_qa(model, tokenizer, "/tmp/export", "qa")  # doctest: +SKIP
>>> answer = tf.saved_model.load(path).signatures["serving_default"]  # doctest: +SKIP
>>> answer(question=tf.constant(["Who?"]),
...        context=tf.constant(["Ada wrote it."]))["outputs"]  # doctest: +SKIP
"""

import numpy as np
import tensorflow as tf

from zoo.errors import UsageError
from zoo.export.archive import pad_token_ids, write_archive
from zoo.models.span_qa import best_span
from zoo.text.graph_wordpiece import GraphWordPieceTokenizer, sanitize_text
from zoo.text.special_tokens import UNK_ID

INPUT_SIGNATURE = [tf.TensorSpec([None], tf.string, name="question"),
                   tf.TensorSpec([None], tf.string, name="context")]
WARMUP_INPUTS = {
    "question": ["Who wrote it?", ""],
    "context": ["Ada Lovelace wrote the first program.", ""],
}


class SpanQAServer:
    """The serving function of a span QA model: question and context in, answer out.

    Args:
        model: a built `zoo.models` span QA model: `model((question_ids, context_ids))`
            → `(start_logits, end_logits)`.
        tokenizer: the training-time `zoo.text.SubwordTokenizer`.
        max_question_length: questions are truncated to this many tokens (default: the
            model's `max_length`).
        max_context_length: contexts are truncated to this many tokens (default: the
            model's `max_length`); answers lie in the kept part.
        max_answer_length: the longest answer, in tokens.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.export import SpanQAServer
    >>> server = SpanQAServer(model, tokenizer)  # doctest: +SKIP
    >>> server.answer(tf.constant(["Who?"]), tf.constant(["Ada wrote it."]))  # doctest: +SKIP
    """

    def __init__(self, model, tokenizer, max_question_length=None, max_context_length=None,
                 max_answer_length=30):
        model_max = int(model.max_length)
        self.max_question_length = int(max_question_length or model_max)
        self.max_context_length = int(max_context_length or model_max)
        self.max_answer_length = int(max_answer_length)
        for name in ("max_question_length", "max_context_length"):
            if not 1 <= getattr(self, name) <= model_max:
                raise UsageError(f"{name}={getattr(self, name)} must be in [1, "
                                 f"{model_max}] (the model's max_length).")
        if self.max_answer_length < 1:
            raise UsageError(f"max_answer_length must be >= 1, got {max_answer_length}.")
        self.model = model
        self.tokenizer = GraphWordPieceTokenizer(tokenizer.vocabulary,
                                                 lowercase=tokenizer.lowercase)

    @property
    def table_owners(self):
        """The `tf.Module`s holding the lookup tables the functions use."""
        return [self.tokenizer]

    def answer(self, question, context):
        """`{"outputs": (batch,) answers, "scores": (batch,) float32}`."""
        question_ids, _ = pad_token_ids(
            self.tokenizer.tokenize(sanitize_text(question)), self.max_question_length,
            UNK_ID)
        context = sanitize_text(context)
        ids, starts, ends = self.tokenizer.tokenize_with_offsets(context)
        context_ids, empty = pad_token_ids(ids, self.max_context_length, UNK_ID)
        start_logits, end_logits = self.model((question_ids, context_ids), training=False)
        start_logits = tf.cast(start_logits, tf.float32)
        end_logits = tf.cast(end_logits, tf.float32)
        start, end = best_span(start_logits, end_logits, self.max_answer_length)
        start, end = tf.cast(start, tf.int32), tf.cast(end, tf.int32)
        probability = (
            tf.gather(tf.nn.softmax(start_logits), start[:, None], batch_dims=1)[:, 0]
            * tf.gather(tf.nn.softmax(end_logits), end[:, None], batch_dims=1)[:, 0])
        # Empty contexts hold no offsets: pad with 0 so the gathers stay in range.
        starts = starts[:, :self.max_context_length].to_tensor(
            default_value=0, shape=tf.shape(context_ids, out_type=tf.int64))
        ends = ends[:, :self.max_context_length].to_tensor(
            default_value=0, shape=tf.shape(context_ids, out_type=tf.int64))
        first = tf.gather(starts, start[:, None], batch_dims=1)[:, 0]
        last = tf.gather(ends, end[:, None], batch_dims=1)[:, 0]
        answers = tf.strings.substr(context, first, tf.maximum(last - first, 0),
                                    unit="UTF8_CHAR")
        return {
            "outputs": tf.where(empty, "", answers),
            "scores": tf.where(empty, 0.0, probability),
        }


def export_span_qa(model, tokenizer, export_dir, model_name, max_question_length=None,
                   max_context_length=None, max_answer_length=30):
    """Writes a new TF Serving version of a span QA model; see the module docstring.

    Args:
        model: a built `zoo.models` span QA model.
        tokenizer: its `zoo.text.SubwordTokenizer` (questions and contexts).
        export_dir: the version goes to `<export_dir>/<model_name>/<N>`, N one more than
            the largest existing version.
        model_name: the name TF Serving serves it under.
        max_question_length: questions are truncated to this many tokens.
        max_context_length: contexts are truncated to this many tokens.
        max_answer_length: the longest answer, in tokens.

    Returns:
        The new version directory, a string.
    """
    server = SpanQAServer(model, tokenizer, max_question_length, max_context_length,
                          max_answer_length)
    return write_archive(
        server, model_name, export_dir,
        signatures={"serving_default": (server.answer, INPUT_SIGNATURE)},
        warmup={name: np.array(values, dtype=object)
                for name, values in WARMUP_INPUTS.items()})
