"""The classifier export: label names and probabilities, equal to Python-side predict."""

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
import zoo.models
from zoo.errors import UsageError

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def classifier(tokenizers, randomize_weights):
    source, _ = tokenizers
    model = zoo.models.build("transformer_classifier", vocab_size=source.vocabulary_size,
                             num_classes=len(LABELS), num_layers=1, d_model=16,
                             num_heads=2, intermediate_dim=32, dropout=0.0, max_length=24)
    model(np.ones((1, 3), "int32"))
    return randomize_weights(model, stddev=0.3)


def test_classifier_export_matches_python(classifier, tokenizers, tmp_path, serving_inputs):
    source, _ = tokenizers
    path = zoo.export.export_classifier(classifier, source, str(tmp_path), "topics",
                                        label_names=LABELS, max_length=20)
    assert path == str(tmp_path / "topics" / "1")
    assert zoo.export.stock_op_problems(path) == []
    assert len(zoo.export.read_warmup_requests(path)) == 1

    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "probabilities"}
    result = loaded.signatures["serving_default"](inputs=tf.constant(serving_inputs))
    labels, scores = zoo.export.reference_classify(classifier, source, LABELS,
                                                   serving_inputs, max_length=20)
    assert [s.decode() for s in result["outputs"].numpy()] == labels
    np.testing.assert_allclose(result["scores"].numpy(), scores, rtol=1e-5, atol=1e-6)
    assert result["scores"].dtype == tf.float32

    table = loaded.signatures["probabilities"](inputs=tf.constant(serving_inputs[:2]))
    probabilities = table["probabilities"].numpy()
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    assert table["labels"].numpy().tolist() == [[s.encode() for s in LABELS]] * 2


def test_label_names_must_match_the_classes(classifier, tokenizers, tmp_path):
    with pytest.raises(UsageError, match="label_names has 2 names but the model predicts 3"):
        zoo.export.export_classifier(classifier, tokenizers[0], str(tmp_path), "topics",
                                     label_names=["a", "b"])


FRESH_SCRIPT = """
path, texts = sys.argv[1], [t.encode("latin-1") for t in json.loads(sys.argv[2])]
classify = tf.saved_model.load(path).signatures["serving_default"]
tf2 = classify(inputs=tf.constant(texts))
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    signature = tf.compat.v1.saved_model.loader.load(
        session, ["serve"], path).signature_def["serving_default"]
    tf1 = session.run({name: info.name for name, info in signature.outputs.items()},
                      {signature.inputs["inputs"].name: texts})
blocked = [m for m in ("keras", "keras_hub", "tensorflow_text", "zoo") if sys.modules.get(m)]
print(json.dumps({"blocked": blocked,
                  "tf2": [s.decode() for s in tf2["outputs"].numpy()],
                  "tf2_scores": tf2["scores"].numpy().tolist(),
                  "tf1": [s.decode() for s in tf1["outputs"]]}))
"""


def test_classifier_export_answers_every_input_in_a_tensorflow_only_process(
        classifier, tokenizers, tmp_path, serving_inputs, fresh_python):
    """Empty, whitespace, over-long and invalid-UTF-8 inputs each get a label there too."""
    import json

    source, _ = tokenizers
    path = zoo.export.export_classifier(classifier, source, str(tmp_path), "topics",
                                        label_names=LABELS, max_length=20)
    result = fresh_python(FRESH_SCRIPT, path,
                          json.dumps([t.decode("latin-1") for t in serving_inputs]))
    labels, scores = zoo.export.reference_classify(classifier, source, LABELS,
                                                   serving_inputs, max_length=20)
    assert result["blocked"] == []
    assert result["tf2"] == labels and result["tf1"] == labels
    assert len(labels) == len(serving_inputs)
    np.testing.assert_allclose(result["tf2_scores"], scores, rtol=1e-4, atol=1e-5)
