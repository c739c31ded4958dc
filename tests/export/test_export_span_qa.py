"""The span QA export: two named string inputs, the answer copied from the context."""

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
import zoo.models
import zoo.text
from zoo.export.archive import pad_token_ids, to_ragged
from zoo.models.span_qa import best_span
from zoo.text.graph_wordpiece import sanitize_text
from zoo.text.special_tokens import UNK_ID

CONTEXTS = [
    "Ada Lovelace wrote the first program in 1843, for Babbage's engine.",
    "Der Eiffelturm steht in Paris; er wurde 1889 eröffnet.",
    "東京は日本の首都です。",
    "",
    "Ada Lovelace wrote the first program.",
]
QUESTIONS = ["Who wrote the first program?", "Wo steht der Eiffelturm?", "首都は?",
             "Anything?", ""]


@pytest.fixture(scope="module")
def qa(randomize_weights):
    texts = tf.data.Dataset.from_tensor_slices(CONTEXTS + QUESTIONS)
    tokenizer = zoo.text.train_subword_tokenizer(texts, vocab_size=300, progress=False)
    model = zoo.models.build("transformer_span_qa", vocab_size=tokenizer.vocabulary_size,
                             num_layers=1, d_model=16, num_heads=2, intermediate_dim=32,
                             dropout=0.0, max_length=32)
    model((np.ones((1, 3), "int32"), np.ones((1, 5), "int32")))
    return randomize_weights(model, stddev=0.3), tokenizer


def python_answers(model, tokenizer, questions, contexts, max_answer_length):
    """Python-side predict: keras-hub ids, eager model, spans located by the pieces."""
    def ids(texts, empty_id):
        clean = sanitize_text(tf.constant(texts))
        return pad_token_ids(to_ragged(tokenizer.tokenize(clean)), 32, empty_id)

    (question_ids, _), (context_ids, empty) = ids(questions, UNK_ID), ids(contexts, UNK_ID)
    start_logits, end_logits = model((question_ids, context_ids), training=False)
    starts, ends = best_span(start_logits, end_logits, max_answer_length)
    answers = []
    for row, context in enumerate(contexts):
        if empty[row]:
            answers.append("")
            continue
        position, spans = 0, []
        for token_id in context_ids[row].numpy():
            if token_id == 0:
                break
            piece = tokenizer.vocabulary[token_id].removeprefix("##")
            position = context.index(piece, position)
            spans.append((position, position + len(piece)))
            position += len(piece)
        answers.append(context[spans[int(starts[row])][0]:spans[int(ends[row])][1]])
    return answers


def test_span_qa_export_answers_spans_of_the_context(qa, tmp_path):
    model, tokenizer = qa
    path = zoo.export.export_span_qa(model, tokenizer, str(tmp_path), "qa",
                                     max_answer_length=5)
    assert zoo.export.stock_op_problems(path) == []
    assert len(zoo.export.read_warmup_requests(path)) == 1
    signature = tf.saved_model.load(path).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["context", "question"]

    result = signature(question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    answers = [a.decode("utf-8") for a in result["outputs"].numpy()]
    assert answers == python_answers(model, tokenizer, QUESTIONS, CONTEXTS, 5)
    assert all(a in c for a, c in zip(answers, CONTEXTS)) and answers[3] == ""
    assert all(answers[i] for i in (0, 1, 2, 4))
    scores = result["scores"].numpy()
    assert scores[3] == 0.0 and np.all((scores[[0, 1, 2, 4]] > 0) & (scores[[0, 1, 2, 4]] <= 1))

    # Bad bytes and a context longer than the model's max_length: answers, no failure.
    bad = signature(question=tf.constant([b"\xff?", b"who"]),
                    context=tf.constant([b"Ada \xc3 wrote", b"Ada wrote. " * 40]))
    assert bad["outputs"].shape == (2,)
