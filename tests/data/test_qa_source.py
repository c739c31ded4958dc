"""The generative QA source (`question [SEP] context's end`) and its training batches."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import generative_qa_batches, qa_source_ids
from zoo.errors import UsageError
from zoo.text import BOS_ID, EOS_ID, SEP_ID, train_subword_tokenizer


def expected_source(question, context, max_question_length, max_source_length):
    question = list(question[:max_question_length])
    room = max_source_length - 1 - len(question)
    return question + [SEP_ID] + list(context[len(context) - min(len(context), room):])


def test_question_kept_sep_between_and_context_keeps_its_end():
    source = qa_source_ids(tf.ragged.constant([[11, 12, 13, 14], [11]]),
                           tf.ragged.constant([[21, 22, 23, 24, 25, 26], [21, 22]]),
                           max_question_length=3, max_source_length=6)
    assert source.dtype == tf.int32
    # A long question keeps its start; the context its last tokens; SEP between.
    assert source.to_list() == [[11, 12, 13, SEP_ID, 25, 26], [11, SEP_ID, 21, 22]]


def test_lengths_bound_and_the_question_is_never_cut_by_the_context():
    rng = np.random.default_rng(0)
    questions = [list(rng.integers(6, 50, rng.integers(0, 12))) for _ in range(40)]
    contexts = [list(rng.integers(6, 50, rng.integers(0, 40))) for _ in range(40)]
    for max_question_length, max_source_length in ((5, 6), (8, 20), (10, 64)):
        source = qa_source_ids(tf.ragged.constant(questions, tf.int64),
                               tf.ragged.constant(contexts, tf.int64),
                               max_question_length, max_source_length).to_list()
        for row, question, context in zip(source, questions, contexts):
            assert row == expected_source(question, context, max_question_length,
                                          max_source_length)
            assert len(row) <= max_source_length
            assert row[:min(len(question), max_question_length)] == \
                question[:max_question_length]


def test_empty_inputs():
    source = qa_source_ids(tf.ragged.constant([[], [7], []], tf.int32),
                           tf.ragged.constant([[], [], [8, 9]], tf.int32), 4, 8)
    assert source.to_list() == [[SEP_ID], [7, SEP_ID], [SEP_ID, 8, 9]]
    none = qa_source_ids(tf.ragged.constant([], tf.int32, ragged_rank=1),
                         tf.ragged.constant([], tf.int32, ragged_rank=1), 4, 8)
    assert none.to_list() == []


def test_graph_mode_with_int32_row_splits():
    spec = tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int32)
    source = tf.function(lambda q, c: qa_source_ids(q, c, 2, 5).to_tensor(),
                         input_signature=[spec, spec])
    result = source(tf.ragged.constant([[1, 2, 3], []], row_splits_dtype=tf.int32),
                    tf.ragged.constant([[7, 8, 9, 10], [6]], row_splits_dtype=tf.int32))
    assert result.numpy().tolist() == [[1, 2, SEP_ID, 9, 10], [SEP_ID, 6, 0, 0, 0]]


@pytest.mark.parametrize("lengths", [(0, 8), (8, 8), (9, 8)])
def test_the_question_must_leave_room_for_sep(lengths):
    with pytest.raises(UsageError, match="max_question_length"):
        qa_source_ids(tf.ragged.constant([[7]]), tf.ragged.constant([[8]]), *lengths)


RECORDS = {
    "id": ["a", "b", "c", "d"],
    "question": ["Is Mary in the kitchen?", "How many apples does John have?",
                 "Where is the milk?", "Who is the king of the moon?"],
    "context": ["Mary went to the garden. Mary went to the kitchen.",
                "John took an apple. John took another apple.",
                "Sandra took the milk. Sandra went to the office. " * 6, "The moon is bright."],
    "answer": ["yes", "two", "office", ""],  # the last one is unanswerable
    "answer_start": [-1, -1, 300, -1],
}


@pytest.fixture(scope="module")
def tokenizer():
    texts = RECORDS["question"] + RECORDS["context"] + RECORDS["answer"]
    return train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(texts),
                                   vocab_size=150, progress=False)


def records():
    return tf.data.Dataset.from_tensor_slices(
        {name: tf.constant(values, tf.int64 if name == "answer_start" else tf.string)
         for name, values in RECORDS.items()})


def test_batches_hold_the_qa_source_and_the_answer(tokenizer):
    batches = generative_qa_batches(records(), tokenizer, batch_size=4, max_question_length=6,
                                    max_source_length=24, max_target_length=5, bucket=False)
    ((source, target_in), target_out), = list(batches)
    assert source.dtype == target_in.dtype == target_out.dtype == tf.int32
    assert source.shape[1] <= 24 and target_in.shape == target_out.shape
    expected = qa_source_ids(tokenizer.tokenize(RECORDS["question"]),
                             tokenizer.tokenize(RECORDS["context"]), 6, 24).to_tensor()
    np.testing.assert_array_equal(source.numpy(), expected.numpy())
    assert (source.numpy() == SEP_ID).sum(axis=1).tolist() == [1, 1, 1, 1]
    for row, answer in enumerate(RECORDS["answer"]):
        ids = tokenizer.tokenize(answer).numpy().tolist()[:4]
        length = len(ids) + 1
        assert target_in[row, :length].numpy().tolist() == [BOS_ID] + ids
        assert target_out[row, :length].numpy().tolist() == ids + [EOS_ID]
        assert not target_in[row, length:].numpy().any()
    # Unanswerable: the model learns to write EOS at once.
    assert target_in[3].numpy().tolist()[:2] == [BOS_ID, 0]
    assert target_out[3].numpy().tolist()[:2] == [EOS_ID, 0]


def test_bucketed_and_static_batches(tokenizer):
    bucketed = generative_qa_batches(records(), tokenizer, batch_size=2, max_question_length=6,
                                     max_source_length=24, max_target_length=5)
    assert sum(int(batch[1].shape[0]) for batch in bucketed) == 4
    static = generative_qa_batches(records().repeat(), tokenizer, batch_size=3,
                                   max_question_length=6, max_source_length=24,
                                   max_target_length=5, drop_remainder=True, shuffle=True)
    (source, target_in), target_out = next(iter(static))
    assert source.shape == (3, 24) and target_in.shape == target_out.shape == (3, 5)
