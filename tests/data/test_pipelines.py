"""tf.data pipelines: shapes, BOS/EOS, truncation, bucketing, static TPU shapes, QA spans."""

import numpy as np
import pytest
import tensorflow as tf

import zoo.data
from zoo.errors import UsageError
from zoo.text import BOS_ID, CLS_ID, EOS_ID


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
    assert question.shape[0] == context.shape[0] == 30  # one window each
    assert np.all(context[:, 0].numpy() == CLS_ID) and np.all(start.numpy() > 0)
    for row, record in enumerate(records):
        span = context[row, start[row]: end[row] + 1]
        assert demo_tokenizer.detokenize(span).numpy() == record["answer"]


def span_qa_examples(rows, tokenizer, **kwargs):
    """The windows of `rows` (dicts) as `(question, context, start, end)` lists, in order."""
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    columns["answer_start"] = tf.constant(columns["answer_start"], tf.int64)
    records = tf.data.Dataset.from_tensor_slices(columns)
    examples = []
    for (question, context), (start, end) in zoo.data.span_qa_batches(
            records, tokenizer, batch_size=64, bucket=False, **kwargs):
        for row in range(question.shape[0]):
            examples.append(([int(i) for i in question[row] if i],
                             [int(i) for i in context[row] if i],
                             int(start[row]), int(end[row])))
    return examples


LONG_CONTEXT = "Mary went to the park. " * 6 + "John moved to the kitchen."


def qa_row(question, context, answer, answer_start=None, **extra):
    if answer_start is None:
        answer_start = context.rindex(answer) if answer else -1
    return dict(question=question, context=context, answer=answer,
                answer_start=answer_start, **extra)


def test_span_qa_windows_train_on_an_answer_late_in_a_long_context(demo_tokenizer):
    tokens = demo_tokenizer.tokenize(LONG_CONTEXT).numpy().tolist()
    [answer] = demo_tokenizer.tokenize("kitchen").numpy().tolist()
    position = len(tokens) - 2  # "kitchen ."
    assert tokens[position] == answer and len(tokens) > 30
    examples = span_qa_examples([qa_row("Where is John?", LONG_CONTEXT, "kitchen",
                                        id="q1", source="demo")],
                                demo_tokenizer, max_question_length=8,
                                max_context_length=9, doc_stride=4)
    offsets = list(range(0, len(tokens) - 8 + 4, 4))  # the last window reaches the end
    assert offsets[-1] + 8 >= len(tokens) > offsets[-2] + 8
    assert len(examples) == len(offsets)
    question = demo_tokenizer.tokenize("Where is John?").numpy().tolist()
    for (question_ids, context_ids, start, end), offset in zip(examples, offsets):
        assert question_ids == question
        assert context_ids == [CLS_ID] + tokens[offset:offset + 8]
        if offset <= position < offset + 8:
            assert start == end == position - offset + 1
            assert context_ids[start] == answer
        else:
            assert start == end == 0  # the null slot: the answer is not in this window
    assert examples[-1][2] > 0 and examples[0][2] == 0  # trained on in the last window


def test_span_qa_multi_token_answer_straddling_windows_is_null_there(demo_tokenizer):
    context = "Mary went to the park. John moved to the kitchen."
    tokens = demo_tokenizer.tokenize(context).numpy().tolist()
    answer_tokens = demo_tokenizer.tokenize("the park").numpy().tolist()
    begin = tokens.index(answer_tokens[0])
    examples = span_qa_examples([qa_row("Where is Mary?", context, "the park")],
                                demo_tokenizer, max_question_length=8,
                                max_context_length=5, doc_stride=2)
    for offset, (_, context_ids, start, end) in zip(range(0, 100, 2), examples):
        whole = offset <= begin and begin + len(answer_tokens) <= offset + 4
        assert (start, end) == ((begin - offset + 1, begin - offset + len(answer_tokens))
                                if whole else (0, 0))
        if whole:
            assert context_ids[start:end + 1] == answer_tokens
    assert any(start for _, _, start, _ in examples)


def test_span_qa_unanswerable_questions_target_the_null_slot(demo_tokenizer):
    examples = span_qa_examples([qa_row("Where is Bob?", LONG_CONTEXT, "")],
                                demo_tokenizer, max_question_length=8,
                                max_context_length=9, doc_stride=8)
    assert len(examples) > 3
    assert all(start == end == 0 and context[0] == CLS_ID
               for _, context, start, end in examples)
    [(_, context, start, end)] = span_qa_examples(
        [qa_row("Where is Bob?", "", "")], demo_tokenizer, max_question_length=8,
        max_context_length=9, doc_stride=8)
    assert context == [CLS_ID] and start == end == 0  # an empty context: one null window


def test_span_qa_drops_non_spans_and_answers_off_token_boundaries(demo_tokenizer):
    context = "Mary went to the park."
    kept = qa_row("Where is Mary?", context, "park")
    examples = span_qa_examples(
        [qa_row("Where is Mary?", context, "park", answer_start=-1),  # generative-only
         qa_row("Where is Mary?", context, "par"),  # not on token boundaries
         qa_row("Where is Mary?", context, "park", answer_start=3),  # points elsewhere
         kept], demo_tokenizer, max_question_length=8, max_context_length=16, doc_stride=8)
    [(_, context_ids, start, end)] = examples
    assert start == end == 5  # "park" is token 4 of 6, after the null slot
    assert context_ids[start] == demo_tokenizer.tokenize("park").numpy()[0]


def test_span_qa_checks_the_stride(demo_tokenizer):
    records = tf.data.Dataset.from_tensors(qa_row("Q?", "A b.", "b"))
    with pytest.raises(UsageError, match="doc_stride=8 must be in \\[1, 4\\]"):
        zoo.data.span_qa_batches(records, demo_tokenizer, 4, 8, 5, doc_stride=8)
    with pytest.raises(UsageError, match="max_context_length"):
        zoo.data.span_qa_batches(records, demo_tokenizer, 4, 8, 1, doc_stride=1)


def test_padding_fraction_counts_zeros_of_id_matrices():
    batches = tf.data.Dataset.from_tensors(
        ((tf.constant([[1, 2, 0, 0]]), tf.constant([[5, 0]])), tf.constant([7])))
    assert zoo.data.padding_fraction(batches) == pytest.approx(3 / 6)


def test_record_texts_concatenates_the_fields():
    records = tf.data.Dataset.from_tensor_slices({"source": ["a", "b"], "target": ["A", "B"]})
    texts = zoo.data.record_texts(records, ("source", "target"))
    assert list(texts.as_numpy_iterator()) == [b"a", b"b", b"A", b"B"]
    assert list(zoo.data.record_texts(records, "target").as_numpy_iterator()) == [b"A", b"B"]
