"""Exports a span QA model as a SavedModel that stock TF Serving answers with strings.

Signature `serving_default`, two named 1-D `tf.string` inputs of equal length, `question`
and `context` (REST: `{"instances": [{"question": "...", "context": "..."}]}`) →
`outputs` (1-D `tf.string`, the answer: a span of the context, copied from it, not
re-assembled from tokens, or `""` for no answer) and `scores` (1-D float32, the
probability `p_start(start) * p_end(end)` of that span within its window).

In the graph, the same windows as training (`zoo.data.span_qa_batches`):

1. sanitize both (invalid UTF-8 → U+FFFD, strip) → `GraphWordPieceTokenizer` with
   character offsets; questions are cut to `max_question_length` tokens (an empty one is
   read as a lone `[UNK]`);
2. the whole context is cut into windows of `max_context_length - 1` tokens,
   `doc_stride` apart (`zoo.data.qa_windows.context_windows`), each read as
   `[CLS] + window` so position 0 is the null slot;
3. the model runs on all windows of the batch at once, each with its example's question;
4. per window `zoo.models.span_qa.best_span(..., first_position=1)`; per example the
   window whose span scores best (`start_logit + end_logit`) gives the answer, whose
   tokens map back to characters of the context through the tokenizer's offsets.

Null answers (SQuAD 2.0, as BERT's `run_squad`): with `null_threshold` set, an example's
null score is the lowest `start_logits[0] + end_logits[0]` over its windows, and it is
answered `""` when `null_score - best_span_score > null_threshold` (its score is then the
null slot's probability in that window). An empty context answers `""` with score 0.
Each element is answered on its own: bad bytes, empty or long inputs never fail a batch.

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

from zoo.data.qa_windows import context_windows, window_lengths, with_null_position
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
            → `(start_logits, end_logits)`, trained on `zoo.data.span_qa_batches`
            windows (`[CLS]` at context position 0).
        tokenizer: the training-time `zoo.text.SubwordTokenizer`.
        max_question_length: questions are truncated to this many tokens (default: the
            model's `max_length`).
        max_context_length: the model's context input length, null slot included
            (default: the model's `max_length`); windows hold one token less.
        max_answer_length: the longest answer, in tokens.
        doc_stride: tokens between the starts of a context's windows, in
            `[1, max_context_length - 1]`.
        null_threshold: `None` (always answer a span), or a float: answer `""` when the
            null score beats the best span's by more than this (SQuAD 2.0 models).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.export import SpanQAServer
    >>> server = SpanQAServer(model, tokenizer, doc_stride=64)  # doctest: +SKIP
    >>> server.answer(tf.constant(["Who?"]), tf.constant(["Ada wrote it."]))  # doctest: +SKIP
    """

    def __init__(self, model, tokenizer, max_question_length=None, max_context_length=None,
                 max_answer_length=30, doc_stride=128, null_threshold=None):
        model_max = int(model.max_length)
        self.max_question_length = int(max_question_length or model_max)
        self.max_context_length = int(max_context_length or model_max)
        self.max_answer_length = int(max_answer_length)
        self.doc_stride = int(doc_stride)
        self.null_threshold = None if null_threshold is None else float(null_threshold)
        for name, low in (("max_question_length", 1), ("max_context_length", 2)):
            if not low <= getattr(self, name) <= model_max:
                raise UsageError(f"{name}={getattr(self, name)} must be in [{low}, "
                                 f"{model_max}] (the model's max_length).")
        if self.max_answer_length < 1:
            raise UsageError(f"max_answer_length must be >= 1, got {max_answer_length}.")
        self.window_length = self.max_context_length - 1
        if not 1 <= self.doc_stride <= self.window_length:
            raise UsageError(
                f"doc_stride={doc_stride} must be in [1, {self.window_length}] (the context "
                f"tokens of a window, max_context_length={self.max_context_length} less "
                "the null slot).")
        self.model = model
        self.tokenizer = GraphWordPieceTokenizer(tokenizer.vocabulary,
                                                 lowercase=tokenizer.lowercase)

    @property
    def table_owners(self):
        """The `tf.Module`s holding the lookup tables the functions use."""
        return [self.tokenizer]

    def answer(self, question, context):
        """`{"outputs": (batch,) answers, "scores": (batch,) float32}`."""
        details = self.answer_details(question, context)
        return {"outputs": details["outputs"], "scores": details["scores"]}

    def answer_details(self, question, context):
        """The answers with where they come from, for pictures and threshold tuning.

        Args:
            question, context: 1-D `tf.string` batches of equal length.

        Returns:
            A dict of `(batch,)` tensors: `outputs` and `scores` (as `answer`);
            `answer_start`, `answer_end` int32, the answer's characters
            `[answer_start, answer_end)` in `sanitize_text(context)` (-1 for `""`);
            `token_start`, `token_end` int32, the best span's token positions in the
            whole context (-1 for an empty context), and `window_offset` int32, the
            context position of its window's first token; `span_score` and `null_score`
            float32, the best span's `start_logit + end_logit` and the example's null
            score (computed whatever `null_threshold`; `-inf`/`inf` for an empty context).
        """
        question_ids, _ = pad_token_ids(
            self.tokenizer.tokenize(sanitize_text(question)), self.max_question_length,
            UNK_ID)
        context = sanitize_text(context)
        ids, char_starts, char_ends = self.tokenizer.tokenize_with_offsets(context)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        batch = tf.shape(lengths)[0]
        owner, offsets, window_ids = context_windows(ids, self.window_length,
                                                     self.doc_stride)
        in_window = window_lengths(lengths, owner, offsets, self.window_length)
        # Windows are cut to the longest of the batch: short contexts run short inputs.
        longest = tf.reduce_max(tf.concat([in_window, [0]], axis=0))
        context_ids = with_null_position(window_ids[:, :longest])
        start_logits, end_logits = self.model(
            (tf.gather(question_ids, owner), context_ids), training=False)
        start_logits = tf.cast(start_logits, tf.float32)
        end_logits = tf.cast(end_logits, tf.float32)
        start, end = best_span(start_logits, end_logits, self.max_answer_length,
                               first_position=1)
        start, end = tf.cast(start, tf.int32), tf.cast(end, tf.int32)

        def at(values, positions):
            return tf.gather(values, positions[:, None], batch_dims=1)[:, 0]

        span_score = tf.where(in_window > 0,
                              at(start_logits, start) + at(end_logits, end), -np.inf)
        null_score = start_logits[:, 0] + end_logits[:, 0]
        start_probs, end_probs = tf.nn.softmax(start_logits), tf.nn.softmax(end_logits)
        span_probability = at(start_probs, start) * at(end_probs, end)
        null_probability = start_probs[:, 0] * end_probs[:, 0]

        per_example = tf.RaggedTensor.from_value_rowids(tf.range(tf.shape(owner)[0]), owner,
                                                        nrows=batch)
        first_window = tf.cast(per_example.row_starts(), tf.int32)

        def first_best_window(score, reduce=tf.reduce_max, worst=-np.inf):
            """Per example, the first of its windows with the best `score` (ties are
            broken explicitly: `tf.argmax` does not promise the first)."""
            table = tf.gather(score, per_example).to_tensor(default_value=worst)
            best = reduce(table, axis=1, keepdims=True)
            columns = tf.range(tf.shape(table)[1])
            first = tf.reduce_min(tf.where(table == best, columns, tf.shape(table)[1]), axis=1)
            last = tf.cast(per_example.row_lengths(), tf.int32) - 1  # NaN scores match none
            return first_window + tf.minimum(first, last)

        span_window = first_best_window(span_score)
        null_window = first_best_window(null_score, tf.reduce_min, np.inf)
        example_span_score = tf.gather(span_score, span_window)
        example_null_score = tf.gather(null_score, null_window)
        window_offset = tf.gather(offsets, span_window)
        token_start = window_offset + tf.gather(start, span_window) - 1
        token_end = window_offset + tf.gather(end, span_window) - 1

        empty = tf.equal(lengths, 0)

        def char_at(char_offsets, token):
            """The character offset of each example's `token`; 0 for an empty context."""
            flat = char_offsets.flat_values
            index = tf.cast(char_offsets.row_starts(), tf.int32) + token
            return tf.gather(tf.concat([flat, [0]], axis=0),
                             tf.where(empty, tf.size(flat), index))

        first_char = char_at(char_starts, token_start)
        last_char = char_at(char_ends, token_end)
        answers = tf.strings.substr(context, first_char, tf.maximum(last_char - first_char, 0),
                                    unit="UTF8_CHAR")
        if self.null_threshold is None:
            is_null = tf.zeros_like(empty)
        else:
            is_null = example_null_score - example_span_score > self.null_threshold
        no_answer = empty | is_null
        scores = tf.where(is_null, tf.gather(null_probability, null_window),
                          tf.gather(span_probability, span_window))
        return {
            "outputs": tf.where(no_answer, "", answers),
            "scores": tf.where(empty, 0.0, scores),
            "answer_start": tf.where(no_answer, -1, first_char),
            "answer_end": tf.where(no_answer, -1, last_char),
            "token_start": tf.where(empty, -1, token_start),
            "token_end": tf.where(empty, -1, token_end),
            "window_offset": window_offset,
            "span_score": example_span_score,
            "null_score": tf.where(empty, np.inf, example_null_score),
        }


def export_span_qa(model, tokenizer, export_dir, model_name, max_question_length=None,
                   max_context_length=None, max_answer_length=30, doc_stride=128,
                   null_threshold=None):
    """Writes a new TF Serving version of a span QA model; see the module docstring.

    Args:
        model: a built `zoo.models` span QA model, trained on `zoo.data.span_qa_batches`.
        tokenizer: its `zoo.text.SubwordTokenizer` (questions and contexts).
        export_dir: the version goes to `<export_dir>/<model_name>/<N>`, N one more than
            the largest existing version.
        model_name: the name TF Serving serves it under.
        max_question_length: questions are truncated to this many tokens.
        max_context_length: the model's context input length, null slot included;
            longer contexts are read in windows of `max_context_length - 1` tokens.
        max_answer_length: the longest answer, in tokens.
        doc_stride: tokens between the starts of a context's windows.
        null_threshold: `None`, or answer `""` when the null score exceeds the best
            span's by more than this; written into the graph.

    Returns:
        The new version directory, a string.
    """
    server = SpanQAServer(model, tokenizer, max_question_length, max_context_length,
                          max_answer_length, doc_stride, null_threshold)
    return write_archive(
        server, model_name, export_dir,
        signatures={"serving_default": (server.answer, INPUT_SIGNATURE)},
        warmup={name: np.array(values, dtype=object)
                for name, values in WARMUP_INPUTS.items()})
