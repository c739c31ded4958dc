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
                    shuffle=False, repeat=False, bucket=True, drop_remainder=False, seed=0,
                    shuffle_buffer_size=10000, average_length=None):
    """`((question_ids, context_ids), (start, end))` batches for span QA models.

    `start` and `end` are the (inclusive, int32) token positions of the answer in
    `context_ids`: `start` is the number of tokens of the context before `answer_start`,
    `end = start + len(tokenize(answer)) - 1`. Examples are dropped when the answer is no
    span (`answer_start == -1`, empty answer), ends past `max_context_length`, or does not
    start and end on token boundaries (the context tokens there differ from the answer's).

    Args:
        records: dataset of `{"question", "context", "answer": string,
            "answer_start": int64}` (character offsets).
        tokenizer: a `zoo.text.SubwordTokenizer` for questions and contexts.
        max_question_length, max_context_length: ints.
        batch_size, shuffle, repeat, bucket, drop_remainder, seed, shuffle_buffer_size,
            average_length: as in `seq2seq_batches`.

    Example:

    >>> import zoo.data, zoo.text
    >>> splits = zoo.data.load_splits("qa", sizes={"train": 64})
    >>> tokenizer = zoo.text.train_subword_tokenizer(
    ...     zoo.data.record_texts(splits.train, ("context", "question")), vocab_size=300,
    ...     progress=False)
    >>> (question_ids, context_ids), (start, end) = next(iter(zoo.data.span_qa_batches(
    ...     splits.train, tokenizer, 16, max_question_length=16, max_context_length=128)))
    >>> bool(((0 <= start) & (start <= end) & (end < context_ids.shape[1])).numpy().all())
    True
    """

    def tokenize(batch):
        answer_start = tf.cast(batch["answer_start"], tf.int32)
        prefix = tf.strings.substr(batch["context"], tf.zeros_like(answer_start),
                                   tf.maximum(answer_start, 0), unit="UTF8_CHAR")
        start = tf.cast(tokenizer.tokenize(prefix).row_lengths(), tf.int32)
        answer = tf.cast(tokenizer.tokenize(batch["answer"]), tf.int32)
        end = start + tf.cast(answer.row_lengths(), tf.int32) - 1
        start = tf.where(answer_start >= 0, start, -1)
        question = tokenizer.tokenize(batch["question"])[:, :max_question_length]
        context = tokenizer.tokenize(batch["context"])
        return (tf.cast(question, tf.int32), tf.cast(context, tf.int32), answer, start, end)

    def answer_is_span(question, context, answer, start, end):
        inside = (start >= 0) & (end >= start) & (end < max_context_length)
        end_in_context = tf.minimum(end + 1, tf.shape(context)[0])
        window = context[tf.maximum(start, 0):end_in_context]
        return inside & tf.reduce_all(tf.shape(window) == tf.shape(answer)) & (
            tf.reduce_all(tf.equal(window, answer[:tf.shape(window)[0]])))

    def to_example(question, context, start, end):
        return (question, context), (start, end)

    def length(features, positions):
        return tf.maximum(tf.shape(features[0])[0], tf.shape(features[1])[0])

    tokenized = (_tokenize_batches(records, tokenize)
                 .filter(answer_is_span)
                 .map(lambda q, c, a, s, e: (q, c[:max_context_length], s, e)))
    return _finish(tokenized, to_example, length, max(max_question_length, max_context_length),
                   batch_size, shuffle, repeat, bucket, drop_remainder, seed,
                   (([max_question_length], [max_context_length]), ([], [])),
                   shuffle_buffer_size, average_length)


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
