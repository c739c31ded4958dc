"""The exports load and answer where only `tensorflow` can be imported.

The child interpreters block keras, keras-hub, tensorflow-text and zoo, then load the
export through `tf.saved_model.load` and through the TF1 session loader (the path of TF
Serving's C++ loader), and check every op type against TensorFlow's op registry. Cases:
the seq2seq export (one `inputs`) and the generative QA export (`question`, `context`).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
from zoo.text import train_subword_tokenizer

SCRIPT = """
import sys
path, inputs = sys.argv[1], json.loads(sys.argv[2])
# {input name: texts}; bytes, invalid UTF-8 included.
inputs = {name: [t.encode("latin-1") for t in texts] for name, texts in inputs.items()}

# Every op type of the graph and its function library is registered in stock TF.
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry
proto = saved_model_pb2.SavedModel()
proto.ParseFromString(open(path + "/saved_model.pb", "rb").read())
op_types = set()
for meta_graph in proto.meta_graphs:
    library = meta_graph.graph_def.library
    names = {f.signature.name for f in library.function}
    nodes = list(meta_graph.graph_def.node)
    for function in library.function:
        nodes.extend(function.node_def)
    op_types |= {n.op for n in nodes if n.op not in names}
unregistered = sorted(op for op in op_types if op_def_registry.get(op) is None)
xla = sorted(op for op in op_types if op.startswith("Xla"))

# TF2 loader.
loaded = tf.saved_model.load(path)
tf2 = loaded.signatures["serving_default"](
    **{name: tf.constant(texts) for name, texts in inputs.items()})

# TF1 session loader, as TF Serving does.
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    signature = meta_graph.signature_def["serving_default"]
    tf1 = session.run(
        {name: info.name for name, info in signature.outputs.items()},
        {signature.inputs[name].name: texts for name, texts in inputs.items()})

blocked = [m for m in ("keras", "keras_hub", "tensorflow_text", "zoo") if sys.modules.get(m)]
print(json.dumps({
    "op_count": len(op_types), "unregistered": unregistered, "xla": xla, "blocked": blocked,
    "tf2_outputs": [s.decode("utf-8") for s in tf2["outputs"].numpy()],
    "tf2_scores": tf2["scores"].numpy().tolist(),
    "tf1_outputs": [s.decode("utf-8") for s in tf1["outputs"]],
    "tf1_scores": tf1["scores"].tolist(),
}))
"""


def run_script(fresh_python, path, inputs):
    """The SCRIPT's result for `{input name: list of bytes}`."""
    return fresh_python(SCRIPT, path, json.dumps(
        {name: [t.decode("latin-1") for t in texts] for name, texts in inputs.items()}))


def check_matches(result, expected_strings, expected_scores):
    assert result["blocked"] == []
    assert result["op_count"] > 20
    assert result["unregistered"] == [] and result["xla"] == []
    assert result["tf2_outputs"] == expected_strings
    assert result["tf1_outputs"] == expected_strings
    np.testing.assert_allclose(result["tf2_scores"], expected_scores, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["tf1_scores"], expected_scores, rtol=1e-4, atol=1e-4)


def test_fresh_tensorflow_only_process_loads_and_matches_python(
        exported, reference, serving_inputs, fresh_python):
    result = run_script(fresh_python, exported, {"inputs": serving_inputs})
    check_matches(result, *reference)


QA_INPUTS = {
    "question": [b"Is Mary in the kitchen?", b"", b"", b"Wh\xff is it?", b"where " * 30],
    "context": [b"Mary went to the garden. Mary went to the kitchen.", b"", b"Mary left.",
                b"caf\xc3 \xff bad bytes", b"Mary went to the office. " * 30],
}
QA_EXPORT_KWARGS = dict(beam_size=2, max_question_length=6, max_source_length=20,
                        max_target_length=6)


@pytest.fixture(scope="module")
def generative_qa(build_seq2seq, randomize_weights, tmp_path_factory):
    """A tiny generative QA model, its tokenizer and its export."""
    texts = [t.decode("utf-8", "replace") for texts in QA_INPUTS.values() for t in texts]
    tokenizer = train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(texts),
                                        vocab_size=100, progress=False)
    model = randomize_weights(build_seq2seq(
        "transformer_tiny", (tokenizer, tokenizer), num_layers=1, d_model=16, num_heads=2,
        intermediate_dim=32, dropout=0.0, max_length=24))
    path = zoo.export.export_generative_qa(model, tokenizer,
                                           str(tmp_path_factory.mktemp("qa_export")), "qa",
                                           **QA_EXPORT_KWARGS)
    return model, tokenizer, path


def test_fresh_process_loads_the_generative_qa_export(generative_qa, fresh_python):
    model, tokenizer, path = generative_qa
    result = run_script(fresh_python, path, QA_INPUTS)
    expected_strings, expected_scores = zoo.export.reference_answer(
        model, tokenizer, QA_INPUTS["question"], QA_INPUTS["context"], **QA_EXPORT_KWARGS)
    assert expected_strings[1] == "" and expected_scores[1] == 0.0
    check_matches(result, expected_strings, expected_scores)
