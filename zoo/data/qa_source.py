"""Generative question answering: one seq2seq source from a question and its context.

A seq2seq model reads `question + [SEP] + context` and writes the answer (yes/no, counts,
lists: answers that are not spans). `qa_source_ids` is the one place that builds that
source, shared by training batches (`generative_qa_batches`), the QA recipe's predictor
and the exported graph (`zoo.export.export_generative_qa`):

- the question keeps its first `max_question_length` tokens;
- then one `SEP_ID`;
- then the context's LAST tokens, as many as fit in `max_source_length`: stories hold
  their latest facts at the end, and the question is never cut to make room for context.

Example:

>>> import tensorflow as tf
>>> from zoo.data import qa_source_ids
>>> qa_source_ids(tf.ragged.constant([[11, 12, 13]]), tf.ragged.constant([[21, 22, 23, 24]]),
...               max_question_length=2, max_source_length=5).to_list()
[[11, 12, 5, 23, 24]]
"""

import tensorflow as tf

from zoo.data.pipelines import _finish, _tokenize_batches
from zoo.errors import UsageError
from zoo.text.special_tokens import BOS_ID, EOS_ID, SEP_ID

RECORD_KEYS = ("question", "context", "answer")


def check_source_lengths(max_question_length, max_source_length):
    """Raises a `UsageError` unless `1 <= max_question_length < max_source_length`."""
    if not 1 <= max_question_length < max_source_length:
        raise UsageError(
            f"max_question_length={max_question_length} must be in [1, max_source_length"
            f"={max_source_length}): the source holds the question, then [SEP].")


def qa_source_ids(question_ids, context_ids, max_question_length, max_source_length):
    """The seq2seq source `question + [SEP] + the context's end`, `max_source_length` ids.

    At most `max_source_length` ids a row. Plain TensorFlow ops: runs eagerly, in `tf.data` and inside exported SavedModels.
    Empty rows are allowed: an empty question and context give `[SEP]` alone.

    Args:
        question_ids: int `tf.RaggedTensor` `(batch, None)`, the questions' token ids.
        context_ids: int `tf.RaggedTensor` `(batch, None)`, the contexts' token ids.
        max_question_length: int, a question keeps its first this many tokens.
        max_source_length: int, the longest source; the context keeps its last
            `max_source_length - 1 - len(question)` tokens. Must exceed
            `max_question_length`.

    Returns:
        An int32 `tf.RaggedTensor` `(batch, None)` (int64 row splits).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.data import qa_source_ids
    >>> source = qa_source_ids(tf.ragged.constant([[11, 12, 13], []]),
    ...                        tf.ragged.constant([[21, 22, 23, 24], [31, 32]]),
    ...                        max_question_length=2, max_source_length=5)
    >>> source.to_list()  # SEP is 5; the first context loses its start
    [[11, 12, 5, 23, 24], [5, 31, 32]]
    """
    max_question_length, max_source_length = int(max_question_length), int(max_source_length)
    check_source_lengths(max_question_length, max_source_length)
    question = tf.cast(question_ids, tf.int32).with_row_splits_dtype(tf.int64)
    context = tf.cast(context_ids, tf.int32).with_row_splits_dtype(tf.int64)
    question = question[:, :max_question_length]
    room = max_source_length - 1 - question.row_lengths()
    first = context.row_limits() - tf.minimum(context.row_lengths(), room)
    tail = tf.gather(context.values, tf.ragged.range(first, context.row_limits()))
    separator = tf.RaggedTensor.from_tensor(
        tf.fill([tf.shape(question.row_lengths())[0], 1], tf.constant(SEP_ID, tf.int32)))
    return tf.concat([question, separator.with_row_splits_dtype(tf.int64), tail], axis=1)


def generative_qa_batches(records, tokenizer, batch_size, max_question_length,
                          max_source_length, max_target_length, shuffle=False, repeat=False,
                          bucket=True, drop_remainder=False, seed=0,
                          shuffle_buffer_size=10000, average_length=None):
    """`((source_ids, target_in_ids), target_out_ids)` int32 batches for generative QA.

    The batches of `zoo.data.seq2seq_batches`, with `qa_source_ids(question, context)` as
    the source and the answer as the target: `target_in` is BOS + answer and
    `target_out` answer + EOS, the answer cut to `max_target_length - 1` tokens. An
    unanswerable question (answer `""`) trains the model to write EOS at once. One
    tokenizer reads question, context and answer.

    Args:
        records: dataset of `{"question", "context", "answer": string}`; other columns
            are ignored.
        tokenizer: a `zoo.text.SubwordTokenizer`.
        batch_size: int, examples per batch (the average, when bucketing).
        max_question_length: int, a question keeps its first this many tokens.
        max_source_length: int, the longest source (question, SEP and the context's end).
        max_target_length: int, the longest `target_in`/`target_out` (at least 2).
        shuffle, repeat, bucket, drop_remainder, seed, shuffle_buffer_size,
            average_length: as in `zoo.data.seq2seq_batches`.

    Example:

    >>> import zoo.data, zoo.text
    >>> splits = zoo.data.load_splits("qa", sizes={"train": 64})
    >>> tokenizer = zoo.text.train_subword_tokenizer(
    ...     zoo.data.record_texts(splits.train, ("context", "question", "answer")),
    ...     vocab_size=300, progress=False)
    >>> batches = zoo.data.generative_qa_batches(
    ...     splits.train, tokenizer, 16, max_question_length=16, max_source_length=64,
    ...     max_target_length=8)
    >>> (source_ids, target_in), target_out = next(iter(batches))
    >>> source_ids.shape[1] <= 64, bool((source_ids == zoo.text.SEP_ID).numpy().any())
    (True, True)
    >>> bool((target_in[:, 0] == zoo.text.BOS_ID).numpy().all())
    True
    """
    check_source_lengths(max_question_length, max_source_length)
    if max_target_length < 2:
        raise ValueError(f"max_target_length must be >= 2 (BOS/EOS + a token), got "
                         f"{max_target_length}")

    def tokenize(batch):
        source = qa_source_ids(tokenizer.tokenize(batch["question"]),
                               tokenizer.tokenize(batch["context"]),
                               max_question_length, max_source_length)
        answer = tokenizer.tokenize(batch["answer"])[:, :max_target_length - 1]
        return source, tf.cast(answer, tf.int32)

    def to_example(source, answer):
        target_in = tf.concat([[BOS_ID], answer], axis=0)
        target_out = tf.concat([answer, [EOS_ID]], axis=0)
        return (source, target_in), target_out

    def length(features, target_out):
        return tf.maximum(tf.shape(features[0])[0], tf.shape(target_out)[0])

    records = records.map(lambda record: {key: record[key] for key in RECORD_KEYS})
    return _finish(_tokenize_batches(records, tokenize), to_example, length,
                   max(max_source_length, max_target_length), batch_size, shuffle, repeat,
                   bucket, drop_remainder, seed,
                   (([max_source_length], [max_target_length]), [max_target_length]),
                   shuffle_buffer_size, average_length)
