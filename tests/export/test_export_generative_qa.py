"""The generative QA export: the span QA signature, answers written by a seq2seq model."""

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
from zoo.errors import UsageError
from zoo.text import SEP_ID, train_subword_tokenizer

pytestmark = pytest.mark.filterwarnings("ignore")

TINY = dict(num_layers=1, d_model=16, num_heads=2, intermediate_dim=32, dropout=0.0,
            max_length=24)
EXPORT_KWARGS = dict(beam_size=3, length_penalty=0.6, max_question_length=6,
                     max_source_length=20, max_target_length=8, no_repeat_ngram_size=2)
LONG_CONTEXT = "Sandra took the milk. " * 30 + "Sandra went to the office."
# Ordinary, question or context empty, both empty, both whitespace, a context and a
# question longer than the source, invalid UTF-8, non-Latin.
QUESTIONS = ["Is Mary in the kitchen?", "", "How many apples?", "", "  \t",
             "Where is the milk?", "where " * 40 + "?", b"Wh\xff is \xc3?", "東京は?"]
CONTEXTS = ["Mary went to the garden. Mary went to the kitchen.", "John took an apple.", "",
            "", " \n ", LONG_CONTEXT, "The moon is bright.", b"caf\xc3 \xff bad bytes",
            "東京は日本の首都です。😀"]
EMPTY_ROWS = [3, 4]


def encode(texts):
    return [t if isinstance(t, bytes) else t.encode() for t in texts]


@pytest.fixture(scope="module")
def qa(build_seq2seq, randomize_weights):
    texts = [t for t in QUESTIONS + CONTEXTS if isinstance(t, str)] + ["yes", "no", "two"]
    tokenizer = train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(texts),
                                        vocab_size=150, progress=False)
    model = build_seq2seq("transformer_tiny", (tokenizer, tokenizer), **TINY)
    return randomize_weights(model), tokenizer


@pytest.fixture(scope="module")
def exported(qa, tmp_path_factory):
    model, tokenizer = qa
    return zoo.export.export_generative_qa(model, tokenizer,
                                           str(tmp_path_factory.mktemp("export")),
                                           "generative_qa", **EXPORT_KWARGS)


@pytest.fixture(scope="module")
def answer(exported):
    signature = tf.saved_model.load(exported).signatures["serving_default"]
    return lambda questions, contexts: signature(question=tf.constant(encode(questions)),
                                                 context=tf.constant(encode(contexts)))


def test_signature_and_warmup_are_those_of_the_span_qa_export(exported, answer):
    signature = tf.saved_model.load(exported).signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    assert sorted(inputs) == ["context", "question"]
    assert all(spec.dtype == tf.string and spec.shape.as_list() == [None]
               for spec in inputs.values())
    assert {name: spec.dtype for name, spec in signature.structured_outputs.items()} == {
        "outputs": tf.string, "scores": tf.float32}
    assert zoo.export.stock_op_problems(exported) == []
    (log,) = zoo.export.read_warmup_requests(exported)
    assert sorted(log.predict_log.request.inputs) == ["context", "question"]
    assert log.predict_log.request.model_spec.name == "generative_qa"


def test_answers_equal_python_reference_string_for_string(qa, answer):
    model, tokenizer = qa
    result = answer(QUESTIONS, CONTEXTS)
    expected, expected_scores = zoo.export.reference_answer(
        model, tokenizer, encode(QUESTIONS), encode(CONTEXTS), **EXPORT_KWARGS)
    assert [s.decode("utf-8") for s in result["outputs"].numpy()] == expected
    np.testing.assert_allclose(result["scores"].numpy(), expected_scores, rtol=1e-4,
                               atol=1e-4)


def test_each_element_gets_its_own_answer(answer):
    result = answer(QUESTIONS, CONTEXTS)
    outputs, scores = result["outputs"].numpy(), result["scores"].numpy()
    assert outputs.shape == scores.shape == (len(QUESTIONS),)
    assert all(outputs[i] == b"" and scores[i] == 0.0 for i in EMPTY_ROWS)
    others = [i for i in range(len(QUESTIONS)) if i not in EMPTY_ROWS]
    assert np.all(np.isfinite(scores)) and np.all(scores[others] < 0)
    for text in outputs:
        text.decode("utf-8")
    for i in (0, 3, 5, 6, 7):
        alone = answer(QUESTIONS[i:i + 1], CONTEXTS[i:i + 1])
        assert alone["outputs"].numpy()[0] == outputs[i]
        np.testing.assert_allclose(alone["scores"].numpy()[0], scores[i], atol=1e-4)


def test_a_long_context_keeps_its_end(qa, answer):
    model, tokenizer = qa
    server = zoo.export.GenerativeQAServer(model, tokenizer, **EXPORT_KWARGS)
    other_start = "John went to the garden. " * 30 + "Sandra went to the office."
    ids, empty = server.qa_source_ids(tf.constant(["Where is the milk?"] * 2),
                                      tf.constant([LONG_CONTEXT, other_start]))
    ids = ids.numpy()
    assert ids.shape == (2, 20) and not empty.numpy().any()
    np.testing.assert_array_equal(ids[0], ids[1])
    question = tokenizer.tokenize("Where is the milk?").numpy().tolist()[:6]
    context = tokenizer.tokenize(LONG_CONTEXT).numpy().tolist()
    assert ids[0].tolist() == question + [SEP_ID] + context[-(19 - len(question)):]
    both = answer(["Where is the milk?"] * 2, [LONG_CONTEXT, other_start])
    assert both["outputs"].numpy()[0] == both["outputs"].numpy()[1]


def test_the_question_must_leave_room_for_the_context(qa):
    model, tokenizer = qa
    server = zoo.export.GenerativeQAServer(model, tokenizer, max_source_length=20)
    assert server.max_question_length == 10
    with pytest.raises(UsageError, match="max_question_length"):
        zoo.export.GenerativeQAServer(model, tokenizer, max_question_length=20,
                                      max_source_length=20)
