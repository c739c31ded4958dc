"""The export loads and answers where only `tensorflow` can be imported.

The child interpreters block keras, keras-hub, tensorflow-text and zoo, then load the
export through `tf.saved_model.load` and through the TF1 session loader (the path of TF
Serving's C++ loader), and check every op type against TensorFlow's op registry.
"""

import numpy as np

SCRIPT = """
import sys
path, texts = sys.argv[1], json.loads(sys.argv[2])
texts = [t.encode("latin-1") for t in texts]  # bytes, invalid UTF-8 included

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
tf2 = loaded.signatures["serving_default"](inputs=tf.constant(texts))

# TF1 session loader, as TF Serving does.
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    signature = meta_graph.signature_def["serving_default"]
    tf1 = session.run(
        {name: info.name for name, info in signature.outputs.items()},
        {signature.inputs["inputs"].name: texts})

blocked = [m for m in ("keras", "keras_hub", "tensorflow_text", "zoo") if sys.modules.get(m)]
print(json.dumps({
    "op_count": len(op_types), "unregistered": unregistered, "xla": xla, "blocked": blocked,
    "tf2_outputs": [s.decode("utf-8") for s in tf2["outputs"].numpy()],
    "tf2_scores": tf2["scores"].numpy().tolist(),
    "tf1_outputs": [s.decode("utf-8") for s in tf1["outputs"]],
    "tf1_scores": tf1["scores"].tolist(),
}))
"""


def test_fresh_tensorflow_only_process_loads_and_matches_python(
        exported, reference, serving_inputs, fresh_python):
    import json

    texts = json.dumps([t.decode("latin-1") for t in serving_inputs])
    result = fresh_python(SCRIPT, exported, texts)
    assert result["blocked"] == []
    assert result["op_count"] > 20
    assert result["unregistered"] == [] and result["xla"] == []
    expected_strings, expected_scores = reference
    assert result["tf2_outputs"] == expected_strings
    assert result["tf1_outputs"] == expected_strings
    np.testing.assert_allclose(result["tf2_scores"], expected_scores, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["tf1_scores"], expected_scores, rtol=1e-4, atol=1e-4)
