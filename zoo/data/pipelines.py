"""`tf.data` pipelines from record datasets to batches of token ids.

Each pipeline tokenizes in-graph (`dataset.map` over batches of records with the keras-hub
tokenizer of a `zoo.text.SubwordTokenizer`), caches the tokenized examples in memory,
then shuffles, repeats, batches and prefetches:

- `bucket=True` (default) groups examples of similar length
  (`tf.data.Dataset.bucket_by_sequence_length`) with a token budget of
  `batch_size * average length` per batch, so short examples come in bigger batches and
  little of each batch is padding (`padding_fraction` measures it).
- `drop_remainder=True` (for TPUs) gives static shapes: no bucketing, every batch
  `batch_size` examples padded to the maximum lengths.
- `repeat=True` repeats before batching, so buckets flow across epochs (give Keras
  `steps_per_epoch`): a bucketed epoch that ends flushes its part-filled buckets and stalls.

Token id 0 pads everywhere.
"""

import numpy as np
import tensorflow as tf

from zoo.data.qa_windows import context_windows, window_lengths, with_null_position
from zoo.errors import UsageError
from zoo.text.special_tokens import BOS_ID, EOS_ID

TOKENIZE_BATCH = 256
LENGTH_SAMPLE = 2000


def bucket_boundaries(max_length):
    """Bucket edges one apart up to 20, then growing by about 10%: 4, 5, ..., 20, 22, 24, ...

    Batches bucket by the longer of source and target, so some padding stays whatever the
    edges; on Multi30k these pad 7-8% of the tokens, edges growing by 25% pad 13.9%.
    """
    boundaries, edge = [], 4
    while edge <= max_length:
        boundaries.append(edge)
        edge = max(edge + 1, int(edge * 1.1))
    return boundaries


def _average_length(tokenized, length_fn):
    lengths = [int(length) for length in
               tokenized.take(LENGTH_SAMPLE).map(length_fn).as_numpy_iterator()]
    return max(1.0, float(np.mean(lengths))) if lengths else 1.0


def _batch(examples, length_fn, max_length, batch_size, bucket, drop_remainder,
           padded_shapes, average_length):
    """Bucketed token-budget batches, or plain padded batches."""
    if drop_remainder:
        return examples.padded_batch(batch_size, padded_shapes=padded_shapes,
                                     drop_remainder=True)
    if not bucket:
        return examples.padded_batch(batch_size)
    boundaries = bucket_boundaries(max_length)
    budget = batch_size * average_length
    longest = [edge - 1 for edge in boundaries] + [max_length]
    return examples.bucket_by_sequence_length(
        element_length_func=length_fn,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[max(1, int(budget // length)) for length in longest],
    )


def _finish(tokenized, to_example, length_fn, max_length, batch_size, shuffle, repeat,
            bucket, drop_remainder, seed, padded_shapes, shuffle_buffer_size,
            average_length):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if bucket and not drop_remainder and average_length is None:
        average_length = _average_length(tokenized.map(to_example), length_fn)
    examples = tokenized.cache()
    if shuffle:
        examples = examples.shuffle(shuffle_buffer_size, seed=seed,
                                    reshuffle_each_iteration=True)
    if repeat:
        examples = examples.repeat()
    examples = examples.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    batches = _batch(examples, length_fn, max_length, batch_size, bucket, drop_remainder,
                     padded_shapes, average_length)
    return batches.prefetch(tf.data.AUTOTUNE)


def _tokenize_batches(records, tokenize_fn):
    return (records.batch(TOKENIZE_BATCH)
            .map(tokenize_fn, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch())


def seq2seq_batches(records, source_tokenizer, target_tokenizer, batch_size,
                    max_source_length, max_target_length, shuffle=False, repeat=False,
                    bucket=True, drop_remainder=False, seed=0, shuffle_buffer_size=10000,
                    average_length=None):
    """`((source_ids, target_in_ids), target_out_ids)` int32 batches for seq2seq models.

    `target_in` is BOS + target and `target_out` is target + EOS, so both hold at most
    `max_target_length` ids (the target is cut to `max_target_length - 1`); the source is
    cut to `max_source_length` (no BOS/EOS). Batches are 0-padded.

    Args:
        records: dataset of `{"source": string, "target": string}`.
        source_tokenizer, target_tokenizer: `zoo.text.SubwordTokenizer`s (may be one).
        batch_size: int, examples per batch (the average, when bucketing).
        max_source_length, max_target_length: ints.
        shuffle: bool. Shuffle examples (buffer `shuffle_buffer_size`, `seed`).
        repeat: bool. Repeat forever (then give `steps_per_epoch`).
        bucket: bool. Length buckets with a token budget of `batch_size * average length`.
        drop_remainder: bool. Static shapes `(batch_size, max_*_length)` for TPUs.
        seed: int, the shuffle seed.
        shuffle_buffer_size: int.
        average_length: optional float, the average example length for the token budget;
            estimated from the first 2,000 examples when None.

    Example:

    >>> import zoo.data, zoo.text
    >>> splits = zoo.data.load_splits("nmt", sizes={"train": 64})
    >>> tokenizer = zoo.text.train_subword_tokenizer(
    ...     zoo.data.record_texts(splits.train, ("source", "target")), vocab_size=300,
    ...     progress=False)
    >>> batches = zoo.data.seq2seq_batches(splits.train, tokenizer, tokenizer, 16, 24, 12)
    >>> (source_ids, target_in), target_out = next(iter(batches))
    >>> source_ids.dtype.name, target_in.shape == target_out.shape
    ('int32', True)
    >>> bool((target_in[:, 0] == zoo.text.BOS_ID).numpy().all())  # BOS + target
    True
    """
    if max_target_length < 2:
        raise ValueError(f"max_target_length must be >= 2 (BOS/EOS + a token), got "
                         f"{max_target_length}")

    def tokenize(batch):
        source = source_tokenizer.tokenize(batch["source"])[:, :max_source_length]
        target = target_tokenizer.tokenize(batch["target"])[:, :max_target_length - 1]
        return tf.cast(source, tf.int32), tf.cast(target, tf.int32)

    def to_example(source, target):
        target_in = tf.concat([[BOS_ID], target], axis=0)
        target_out = tf.concat([target, [EOS_ID]], axis=0)
        return (source, target_in), target_out

    def length(features, target_out):
        return tf.maximum(tf.shape(features[0])[0], tf.shape(target_out)[0])

    return _finish(_tokenize_batches(records, tokenize), to_example, length,
                   max(max_source_length, max_target_length), batch_size, shuffle, repeat,
                   bucket, drop_remainder, seed,
                   (([max_source_length], [max_target_length]), [max_target_length]),
                   shuffle_buffer_size, average_length)


def classification_batches(records, tokenizer, batch_size, max_length, shuffle=False,
                           repeat=False, bucket=True, drop_remainder=False, seed=0,
                           shuffle_buffer_size=10000, average_length=None):
    """`(token_ids, label)` batches: int32 ids `(batch, T)` cut to `max_length`, int64 labels.

    Args:
        records: dataset of `{"text": string, "label": int64}`.
        tokenizer: a `zoo.text.SubwordTokenizer`.
        batch_size, shuffle, repeat, bucket, drop_remainder, seed, shuffle_buffer_size,
            average_length: as in `seq2seq_batches`.
        max_length: int.

    Example:

    >>> import zoo.data, zoo.text
    >>> splits = zoo.data.load_splits("classification", sizes={"train": 64})
    >>> tokenizer = zoo.text.train_subword_tokenizer(
    ...     zoo.data.record_texts(splits.train, "text"), vocab_size=300, progress=False)
    >>> token_ids, labels = next(iter(zoo.data.classification_batches(
    ...     splits.train, tokenizer, batch_size=16, max_length=64)))
    >>> token_ids.dtype.name, labels.dtype.name, token_ids.shape[0] == labels.shape[0]
    ('int32', 'int64', True)
    """

    def tokenize(batch):
        ids = tokenizer.tokenize(batch["text"])[:, :max_length]
        return tf.cast(ids, tf.int32), batch["label"]

    def length(token_ids, label):
        return tf.shape(token_ids)[0]

    return _finish(_tokenize_batches(records, tokenize), lambda ids, label: (ids, label),
                   length, max_length, batch_size, shuffle, repeat, bucket, drop_remainder,
                   seed, ([max_length], []), shuffle_buffer_size, average_length)


def span_qa_batches(records, tokenizer, batch_size, max_question_length, max_context_length,
                    doc_stride=128, shuffle=False, repeat=False, bucket=True,
                    drop_remainder=False, seed=0, shuffle_buffer_size=10000,
                    average_length=None):
    """`((question_ids, context_ids), (start, end))` batches of context windows for span QA.

    Each context is cut into windows of `max_context_length - 1` tokens, `doc_stride`
    tokens apart (`zoo.data.qa_windows.context_windows`), and each window is an example:
    its `context_ids` are `[CLS] + window tokens` (`with_null_position`), so position 0 is
    the null answer and the window's token `i` is at position `i + 1`. `start` and `end`
    are the (inclusive, int32) positions of the answer in `context_ids` when the whole
    answer lies in the window, else `(0, 0)`: the null answer, as for every window of an
    unanswerable question (`answer == ""`, SQuAD 2.0). The questions are cut to
    `max_question_length` tokens.

    The answer's token position is the number of tokens of the context before
    `answer_start`. A record is dropped when its answer is no span (`answer_start == -1`
    with a non-empty answer: generative-only) or does not start and end on token
    boundaries (the context's tokens there differ from the answer's).

    Args:
        records: dataset of `{"question", "context", "answer": string,
            "answer_start": int64}` (character offsets; other keys are ignored).
        tokenizer: a `zoo.text.SubwordTokenizer` for questions and contexts.
        max_question_length: int.
        max_context_length: int, the model's context length, null slot included (>= 2).
        doc_stride: int in `[1, max_context_length - 1]`, the tokens between the starts of
            a context's windows.
        batch_size, shuffle, repeat, bucket, drop_remainder, seed, shuffle_buffer_size,
            average_length: as in `seq2seq_batches`; they count windows.

    Example:

    >>> import zoo.data, zoo.text
    >>> splits = zoo.data.load_splits("qa", sizes={"train": 64})
    >>> tokenizer = zoo.text.train_subword_tokenizer(
    ...     zoo.data.record_texts(splits.train, ("context", "question")), vocab_size=300,
    ...     progress=False)
    >>> (question_ids, context_ids), (start, end) = next(iter(zoo.data.span_qa_batches(
    ...     splits.train, tokenizer, 16, max_question_length=16, max_context_length=24,
    ...     doc_stride=8)))
    >>> bool((context_ids[:, 0] == zoo.text.CLS_ID).numpy().all())  # the null slot
    True
    >>> bool(((0 <= start) & (start <= end) & (end < context_ids.shape[1])).numpy().all())
    True
    >>> bool(((start == 0) == (end == 0)).numpy().all())  # a span, or the null answer
    True
    """
    if max_context_length < 2:
        raise UsageError(f"max_context_length must be >= 2 (the null slot and a token), "
                         f"got {max_context_length}.")
    window = max_context_length - 1
    if not 1 <= doc_stride <= window:
        raise UsageError(f"doc_stride={doc_stride} must be in [1, {window}] (the context "
                         f"tokens of a window, max_context_length={max_context_length} "
                         "less the null slot).")

    def tokenize(batch):
        answer_start = tf.cast(batch["answer_start"], tf.int32)
        prefix = tf.strings.substr(batch["context"], tf.zeros_like(answer_start),
                                   tf.maximum(answer_start, 0), unit="UTF8_CHAR")
        start = tf.cast(tokenizer.tokenize(prefix).row_lengths(), tf.int32)
        answer = tf.cast(tokenizer.tokenize(batch["answer"]), tf.int32)
        end = start + tf.cast(answer.row_lengths(), tf.int32) - 1
        question = tf.cast(tokenizer.tokenize(batch["question"])[:, :max_question_length],
                           tf.int32)
        context = tf.cast(tokenizer.tokenize(batch["context"]), tf.int32)
        unanswerable = tf.equal(batch["answer"], "")
        keep = unanswerable | ((answer_start >= 0) & _answer_matches(context, answer, start))
        question, context = (tf.ragged.boolean_mask(x, keep) for x in (question, context))
        start, end, unanswerable = (tf.boolean_mask(x, keep)
                                    for x in (start, end, unanswerable))

        owner, offsets, window_ids = context_windows(context, window, doc_stride)
        lengths = window_lengths(context.row_lengths(), owner, offsets, window)
        start = tf.gather(start, owner) - offsets
        end = tf.gather(end, owner) - offsets
        inside = ~tf.gather(unanswerable, owner) & (start >= 0) & (end < lengths)
        context_ids = tf.RaggedTensor.from_tensor(with_null_position(window_ids),
                                                  lengths=lengths + 1)
        return (tf.gather(question, owner), context_ids,
                tf.where(inside, start + 1, 0), tf.where(inside, end + 1, 0))

    def to_example(question, context, start, end):
        return (question, context), (start, end)

    def length(features, positions):
        return tf.maximum(tf.shape(features[0])[0], tf.shape(features[1])[0])

    return _finish(_tokenize_batches(records, tokenize), to_example, length,
                   max(max_question_length, max_context_length), batch_size, shuffle,
                   repeat, bucket, drop_remainder, seed,
                   (([max_question_length], [max_context_length]), ([], [])),
                   shuffle_buffer_size, average_length)


def _answer_matches(context, answer, start):
    """Whether each context's tokens from `start` on are the answer's, bool `(batch,)`.

    False for an empty answer or one that runs past the context's end.
    """
    context_ids = tf.pad(context.to_tensor(), [[0, 0], [0, 1]])  # >= 1 column to gather
    answer_ids = answer.to_tensor()
    columns = tf.range(tf.shape(answer_ids)[1], dtype=tf.int32)[None, :]
    positions = start[:, None] + columns
    in_context = (positions >= 0) & (
        positions < tf.cast(context.row_lengths(), tf.int32)[:, None])
    found = tf.gather(context_ids, tf.where(in_context, positions, 0), batch_dims=1)
    in_answer = columns < tf.cast(answer.row_lengths(), tf.int32)[:, None]
    same = ~in_answer | (in_context & tf.equal(found, answer_ids))
    return tf.reduce_all(same, axis=1) & (answer.row_lengths() > 0)


def padding_fraction(dataset, num_batches=20):
    """The fraction of padding (id 0) among all id positions of the first batches.

    Counts every integer tensor of rank >= 2 in each batch (source and target ids,
    question and context ids), so it reports what the model actually computes on.

    Args:
        dataset: a dataset of batches (e.g. from `seq2seq_batches`).
        num_batches: int, how many batches to look at.

    Returns:
        A float in [0, 1].
    """
    padding = total = 0
    for batch in dataset.take(num_batches):
        for tensor in tf.nest.flatten(batch):
            if tensor.dtype.is_integer and tensor.shape.rank >= 2:
                padding += int(tf.math.count_nonzero(tf.equal(tensor, 0)))
                total += int(tf.size(tensor))
    return padding / total if total else 0.0
