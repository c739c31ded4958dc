"""tf.data pipelines: shapes, BOS/EOS, truncation, bucketing, static TPU shapes, QA spans."""

import numpy as np
import pytest
import tensorflow as tf

import zoo.data
from zoo.text import BOS_ID, EOS_ID


@pytest.fixture(scope="module")
def nmt():
    return zoo.data.load_splits("nmt", sizes={"train": 400, "validation": 50, "test": 10})


def test_seq2seq_batches_place_bos_and_eos(nmt, demo_tokenizer):
    batches = zoo.data.seq2seq_batches(nmt.validation, demo_tokenizer, demo_tokenizer,
                                       batch_size=8, max_source_length=20,
                                       max_target_length=10, bucket=False)
    records = list(nmt.validation.as_numpy_iterator())[:8]
    (source, target_in), target_out = next(iter(batches))
    assert source.dtype == target_in.dtype == target_out.dtype == tf.int32
    assert source.shape[0] == target_in.shape[0] == 8
    expected = demo_tokenizer.tokenize([r["target"] for r in records]).to_list()
    expected_source = demo_tokenizer.tokenize([r["source"] for r in records]).to_list()
    for row in range(8):
        length = len(expected[row])
        assert target_in[row, : length + 1].numpy().tolist() == [BOS_ID] + expected[row]
        assert target_out[row, : length + 1].numpy().tolist() == expected[row] + [EOS_ID]
        assert not np.any(target_out[row, length + 1:].numpy())
        assert source[row, : len(expected_source[row])].numpy().tolist() == expected_source[row]
    decoded = demo_tokenizer.detokenize(target_out).numpy().tolist()
    assert decoded == [r["target"] for r in records]


def test_seq2seq_truncation_keeps_bos_and_eos(nmt, demo_tokenizer):
    batches = zoo.data.seq2seq_batches(nmt.train, demo_tokenizer, demo_tokenizer,
                                       batch_size=16, max_source_length=3,
                                       max_target_length=3, bucket=False)
    for (source, target_in), target_out in batches.take(3):
        assert source.shape[1] <= 3 and target_in.shape[1] <= 3
        assert np.all(target_in[:, 0].numpy() == BOS_ID)
        assert np.all(target_out[:, 2].numpy() == EOS_ID)  # targets are longer than 2


def test_bucketing_lowers_padding(demo_tokenizer):
    splits = zoo.data.load_splits("classification", sizes={"train": 600})
    kwargs = dict(batch_size=16, max_length=96, shuffle=True, repeat=True)
    plain = zoo.data.classification_batches(splits.train, demo_tokenizer, bucket=False,
                                            **kwargs)
    bucketed = zoo.data.classification_batches(splits.train, demo_tokenizer, **kwargs)
    assert zoo.data.padding_fraction(bucketed, 15) < 0.5 * zoo.data.padding_fraction(plain, 15)
    sizes = [int(ids.shape[0]) for ids, _ in bucketed.take(15)]
    assert 8 <= np.mean(sizes) <= 32  # about batch_size examples per batch on average


def test_drop_remainder_gives_static_shapes(nmt, demo_tokenizer):
    batches = zoo.data.seq2seq_batches(nmt.validation, demo_tokenizer, demo_tokenizer,
                                       batch_size=16, max_source_length=20,
                                       max_target_length=12, drop_remainder=True)
    (source, target_in), target_out = batches.element_spec
    assert source.shape == (16, 20) and target_in.shape == target_out.shape == (16, 12)
    assert len(list(batches)) == 50 // 16


def test_shuffle_repeat_is_deterministic_with_a_seed(nmt, demo_tokenizer):
    def first_sources(seed):
        batches = zoo.data.seq2seq_batches(nmt.validation, demo_tokenizer, demo_tokenizer, 8,
                                           20, 12, shuffle=True, repeat=True, bucket=False,
                                           seed=seed)
        return [features[0].numpy().tolist() for features, _ in batches.take(10)]

    first = first_sources(7)
    assert len(first) == 10  # repeats past the 7 batches of one epoch
    assert first == first_sources(7) and first != first_sources(8)


def test_classification_batches(demo_tokenizer):
    splits = zoo.data.load_splits("classification", sizes={"validation": 20})
    token_ids, labels = next(iter(zoo.data.classification_batches(
        splits.validation, demo_tokenizer, batch_size=20, max_length=12, bucket=False)))
    assert token_ids.dtype == tf.int32 and token_ids.shape == (20, 12)
    assert labels.numpy().tolist() == [int(r["label"]) for r in splits.validation]


def test_span_qa_positions_point_at_the_answer(demo_tokenizer):
    splits = zoo.data.load_splits("qa", sizes={"validation": 30})
    records = list(splits.validation.as_numpy_iterator())
    (question, context), (start, end) = next(iter(zoo.data.span_qa_batches(
        splits.validation, demo_tokenizer, batch_size=30, max_question_length=16,
        max_context_length=200, bucket=False)))
    assert question.shape[0] == context.shape[0] == 30
    for row, record in enumerate(records):
        span = context[row, start[row]: end[row] + 1]
        assert demo_tokenizer.detokenize(span).numpy() == record["answer"]


def test_span_qa_drops_non_spans_and_answers_beyond_the_context_length(demo_tokenizer):
    records = tf.data.Dataset.from_tensor_slices({
        "question": ["Where is Mary?"] * 2,
        "context": ["Mary went to the park.", "John went to the park."],
        "answer": ["park", ""],
        "answer_start": tf.constant([17, -1], tf.int64)})

    def batches(max_context_length):
        return list(zoo.data.span_qa_batches(records, demo_tokenizer, 4, 8, max_context_length,
                                             bucket=False))

    [((question, context), (start, end))] = batches(5)  # "park" is token 4 of 6
    assert context.shape == (1, 5) and start.numpy().tolist() == end.numpy().tolist() == [4]
    assert batches(4) == []


def test_padding_fraction_counts_zeros_of_id_matrices():
    batches = tf.data.Dataset.from_tensors(
        ((tf.constant([[1, 2, 0, 0]]), tf.constant([[5, 0]])), tf.constant([7])))
    assert zoo.data.padding_fraction(batches) == pytest.approx(3 / 6)


def test_record_texts_concatenates_the_fields():
    records = tf.data.Dataset.from_tensor_slices({"source": ["a", "b"], "target": ["A", "B"]})
    texts = zoo.data.record_texts(records, ("source", "target"))
    assert list(texts.as_numpy_iterator()) == [b"a", b"b", b"A", b"B"]
    assert list(zoo.data.record_texts(records, "target").as_numpy_iterator()) == [b"A", b"B"]
