"""The span QA export: two named string inputs, the answer copied from the context.

Contexts are read in windows (`[CLS]` + `max_context_length - 1` tokens, `doc_stride`
apart), as in training; the answer is the best span over all windows, or "" when the
null score wins by more than `null_threshold`.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
import zoo.models
import zoo.text
from zoo.errors import UsageError
from zoo.text.graph_wordpiece import sanitize_text
from zoo.text.special_tokens import CLS_ID, RESERVED_TOKENS, UNK_ID

CONTEXTS = [
    "Ada Lovelace wrote the first program in 1843, for Babbage's engine.",
    "Der Eiffelturm steht in Paris; er wurde 1889 eröffnet.",
    "東京は日本の首都です。",
    "",
    "Ada Lovelace wrote the first program.",
    "Ada wrote. " * 12,  # many windows
]
QUESTIONS = ["Who wrote the first program?", "Wo steht der Eiffelturm?", "首都は?",
             "Anything?", "", "Who wrote?"]
# Windows of 11 tokens, 5 apart: every context but the short ones spans several.
EXPORT_KWARGS = dict(max_question_length=8, max_context_length=12, max_answer_length=5,
                     doc_stride=5)


@pytest.fixture(scope="module")
def qa(randomize_weights):
    texts = tf.data.Dataset.from_tensor_slices(CONTEXTS + QUESTIONS)
    tokenizer = zoo.text.train_subword_tokenizer(texts, vocab_size=300, progress=False)
    model = zoo.models.build("transformer_span_qa", vocab_size=tokenizer.vocabulary_size,
                             num_layers=1, d_model=16, num_heads=2, intermediate_dim=32,
                             dropout=0.0, max_length=32)
    model((np.ones((1, 3), "int32"), np.ones((1, 5), "int32")))
    return randomize_weights(model, stddev=0.3), tokenizer


def python_windows(length, window, stride):
    offset = 0
    while True:
        yield offset
        if offset + window >= length:
            return
        offset += stride


def softmax(x):
    x = np.exp(x - x.max())
    return x / x.sum()


def python_answers(model, tokenizer, questions, contexts, max_question_length,
                   max_context_length, max_answer_length, doc_stride):
    """Python-side predict, one window at a time: keras-hub ids, eager model, brute-force
    spans after the null slot, the best window's span located by its pieces."""
    window = max_context_length - 1
    answers, scores = [], []
    for question, context in zip(questions, contexts):
        question_ids = tokenizer.tokenize(
            sanitize_text(tf.constant(question))).numpy().tolist()[:max_question_length]
        context = sanitize_text(tf.constant(context)).numpy().decode("utf-8")
        tokens = tokenizer.tokenize(context).numpy().tolist()
        if not tokens:
            answers.append("")
            scores.append(0.0)
            continue
        best = None
        for offset in python_windows(len(tokens), window, doc_stride):
            ids = [CLS_ID] + tokens[offset:offset + window]
            start_logits, end_logits = (np.asarray(x, "float64")[0] for x in model(
                (np.array([question_ids or [UNK_ID]], "int32"), np.array([ids], "int32")),
                training=False))
            for i in range(1, len(ids)):
                for j in range(i, min(i + max_answer_length, len(ids))):
                    score = start_logits[i] + end_logits[j]
                    if best is None or score > best[0]:
                        probability = softmax(start_logits)[i] * softmax(end_logits)[j]
                        best = (score, offset + i - 1, offset + j - 1, probability)
        position, spans = 0, []
        for token_id in tokens:
            piece = tokenizer.vocabulary[token_id].removeprefix("##")
            position = context.index(piece, position)
            spans.append((position, position + len(piece)))
            position += len(piece)
        answers.append(context[spans[best[1]][0]:spans[best[2]][1]])
        scores.append(best[3])
    return answers, scores


def test_span_qa_export_answers_spans_of_the_context_over_its_windows(qa, tmp_path):
    model, tokenizer = qa
    path = zoo.export.export_span_qa(model, tokenizer, str(tmp_path), "qa", **EXPORT_KWARGS)
    assert zoo.export.stock_op_problems(path) == []
    assert len(zoo.export.read_warmup_requests(path)) == 1
    signature = tf.saved_model.load(path).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["context", "question"]

    result = signature(question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    answers = [a.decode("utf-8") for a in result["outputs"].numpy()]
    expected, expected_scores = python_answers(model, tokenizer, QUESTIONS, CONTEXTS,
                                               **EXPORT_KWARGS)
    assert answers == expected
    assert all(a in c for a, c in zip(answers, CONTEXTS)) and answers[3] == ""
    assert all(answers[i] for i in (0, 1, 2, 4, 5))
    scores = result["scores"].numpy()
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4, atol=1e-6)
    assert scores[3] == 0.0 and np.all((scores[[0, 1, 2, 4]] > 0) & (scores[[0, 1, 2, 4]] <= 1))

    # Bad bytes, empty and over-long inputs, all in one batch: answered per element.
    bad = signature(question=tf.constant([b"\xff?", b"who " * 50, b"", b"who"]),
                    context=tf.constant([b"Ada \xc3 wrote", b"Ada wrote. " * 40, b"  ",
                                         b"\xff\xfe"]))
    outputs = [a.decode("utf-8") for a in bad["outputs"].numpy()]
    assert outputs[0] and outputs[1] and outputs[2] == "" and bad["scores"].numpy()[2] == 0
    assert outputs[1] in "Ada wrote. " * 40


def keyword_vocabulary():
    words = ["mary", "went", "to", "the", "park", "john", "moved", "kitchen", "bob",
             "where", "is", ".", "?"]
    return RESERVED_TOKENS + words + list("abcdefghijklmnopqrstuvwxyz") + [
        "##" + c for c in "abcdefghijklmnopqrstuvwxyz"]


class KeywordReader:
    """A stand-in span model: the start and end logits are 5 at the context tokens equal to
    the question's first token, 0 elsewhere; the null slot's logit is `null_with` in a
    window holding that token, `null_without` in the others."""

    max_length = 16

    def __init__(self, null_with=0.0, null_without=0.0):
        self.null_with, self.null_without = null_with, null_without

    def __call__(self, inputs, training=False):
        question_ids, context_ids = inputs
        hit = tf.equal(context_ids, question_ids[:, :1])
        logits = tf.where(hit, 5.0, 0.0)
        found = tf.reduce_any(hit[:, 1:], axis=1, keepdims=True)
        null = tf.where(found, self.null_with, self.null_without)
        logits = tf.where(tf.range(tf.shape(context_ids)[1]) == 0, null, logits)
        logits = tf.where(tf.equal(context_ids, 0), -1e9, logits)
        return logits, logits


LONG_CONTEXT = "Mary went to the park. " * 8 + "John moved to the Kitchen."


def keyword_server(**kwargs):
    tokenizer = zoo.text.SubwordTokenizer(keyword_vocabulary(), lowercase=True)
    reader = KeywordReader(kwargs.pop("null_with", 0.0), kwargs.pop("null_without", 0.0))
    return zoo.export.SpanQAServer(reader, tokenizer, max_question_length=4,
                                   max_context_length=9, doc_stride=4, **kwargs)


def details(server, questions, contexts):
    result = server.answer_details(tf.constant(questions), tf.constant(contexts))
    return {name: [v.decode("utf-8") if isinstance(v, bytes) else v
                   for v in value.numpy().tolist()] for name, value in result.items()}


def test_the_answer_can_lie_beyond_the_first_window():
    server = keyword_server()
    result = details(server, ["kitchen?", "Mary?", "park"], [LONG_CONTEXT] * 3)
    assert result["outputs"] == ["Kitchen", "Mary", "park"]  # copied from the context
    start, end = result["answer_start"][0], result["answer_end"][0]
    assert LONG_CONTEXT[start:end] == "Kitchen" and start == LONG_CONTEXT.index("Kitchen")
    tokens = server.tokenizer.tokenize(tf.constant(LONG_CONTEXT)).numpy().tolist()
    assert len(tokens) == 54 and tokens[-2] == keyword_vocabulary().index("kitchen")
    assert result["token_start"][0] == result["token_end"][0] == 52
    assert result["window_offset"][0] == 48  # windows of 8 tokens, 4 apart: 0, ..., 48
    assert result["window_offset"][1:] == [0, 0]  # ties: the first window wins
    np.testing.assert_allclose(result["span_score"], [10.0] * 3)
    assert all(0 < score <= 1 for score in result["scores"])
    plain = server.answer(tf.constant(["kitchen?"]), tf.constant([LONG_CONTEXT]))
    assert plain["outputs"].numpy().tolist() == [b"Kitchen"] and set(plain) == {
        "outputs", "scores"}


def test_null_threshold_uses_the_lowest_null_score_over_the_windows():
    questions, contexts = ["kitchen?", "bob?"], [LONG_CONTEXT] * 2
    # Span score 10 where the keyword is; null scores 2 * 4 there and 2 * 8 elsewhere.
    always = details(keyword_server(null_with=4.0, null_without=8.0), questions, contexts)
    assert always["outputs"][0] == "Kitchen" and always["outputs"][1]  # no threshold
    assert always["null_score"] == [8.0, 16.0]
    strict = details(keyword_server(null_with=4.0, null_without=8.0, null_threshold=0.0),
                     questions, contexts)
    assert strict["outputs"] == ["Kitchen", ""]  # 8 - 10 <= 0 < 16 - 0
    assert strict["answer_start"][1] == strict["answer_end"][1] == -1
    null_probability = strict["scores"][1]
    assert 0 < null_probability <= 1 and null_probability != always["scores"][1]
    eager = details(keyword_server(null_with=4.0, null_without=8.0, null_threshold=-3.0),
                    questions, contexts)
    assert eager["outputs"] == ["", ""]  # 8 - 10 > -3


def test_keyword_export_loads_and_answers_in_a_tensorflow_only_process(tmp_path,
                                                                        fresh_python):
    tokenizer = zoo.text.SubwordTokenizer(keyword_vocabulary(), lowercase=True)
    path = zoo.export.export_span_qa(KeywordReader(4.0, 8.0), tokenizer, str(tmp_path), "qa",
                                     max_question_length=4, max_context_length=9,
                                     doc_stride=4, null_threshold=0.0)
    assert zoo.export.stock_op_problems(path) == []
    questions = ["kitchen?", "bob?", "kitchen", "mary", "Where is John?"]
    contexts = [LONG_CONTEXT, LONG_CONTEXT, "", "\xff Mary", "John moved. " * 200]
    result = fresh_python(FRESH_SCRIPT, path, json.dumps(
        [[t.encode("utf-8").decode("latin-1") for t in texts]
         for texts in (questions, contexts)]))
    assert result["blocked"] == []
    assert result["outputs"][:3] == ["Kitchen", "", ""] and result["scores"][2] == 0.0
    assert result["outputs"][3] == "Mary"
    assert result["tf1_outputs"] == result["outputs"]


FRESH_SCRIPT = """
path, (questions, contexts) = sys.argv[1], json.loads(sys.argv[2])
questions, contexts = ([t.encode("latin-1") for t in texts] for texts in (questions, contexts))
contexts[3] = b"\\xff" + contexts[3][2:]  # invalid UTF-8
result = tf.saved_model.load(path).signatures["serving_default"](
    question=tf.constant(questions), context=tf.constant(contexts))
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    signature = tf.compat.v1.saved_model.loader.load(
        session, ["serve"], path).signature_def["serving_default"]
    tf1 = session.run({name: info.name for name, info in signature.outputs.items()},
                      {signature.inputs["question"].name: questions,
                       signature.inputs["context"].name: contexts})
blocked = [m for m in ("keras", "keras_hub", "tensorflow_text", "zoo") if sys.modules.get(m)]
print(json.dumps({"blocked": blocked,
                  "outputs": [s.decode() for s in result["outputs"].numpy()],
                  "scores": result["scores"].numpy().tolist(),
                  "tf1_outputs": [s.decode() for s in tf1["outputs"]]}))
"""


@pytest.mark.parametrize("kwargs, message", [
    (dict(doc_stride=9), r"doc_stride=9 must be in \[1, 8\]"),
    (dict(doc_stride=0), r"doc_stride=0 must be in \[1, 8\]"),
    (dict(max_context_length=1), r"max_context_length=1 must be in \[2, 16\]"),
])
def test_bad_window_settings_are_explained(kwargs, message):
    tokenizer = zoo.text.SubwordTokenizer(keyword_vocabulary(), lowercase=True)
    options = dict(max_question_length=4, max_context_length=9, doc_stride=4)
    with pytest.raises(UsageError, match=message):
        zoo.export.SpanQAServer(KeywordReader(), tokenizer, **{**options, **kwargs})
