"""Checks that a SavedModel holds stock TensorFlow ops only, so stock TF Serving loads it.

Stock TF Serving links an older tensorflow-text and runs `Xla*` ops only behind an
experimental flag; a graph using either fails with "Op type not registered" or refuses to
run. `stock_op_problems` lists every op type in the graph (function library included)
that is not a core TensorFlow op: `tf.raw_ops` holds exactly the ops of core TensorFlow,
whatever other libraries (tensorflow-text) registered in this process.

Example:

>>> from zoo.export import stock_op_problems
>>> stock_op_problems("/tmp/export/nmt/1")  # doctest: +SKIP
[]
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


def saved_model_op_types(saved_model_dir):
    """The set of op types in a SavedModel's graphs and function libraries.

    Calls of library functions (nodes whose op is a function name) are left out.
    """
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as file:
        proto.ParseFromString(file.read())
    op_types = set()
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        function_names = {f.signature.name for f in library.function}
        nodes = list(meta_graph.graph_def.node)
        for function in library.function:
            nodes.extend(function.node_def)
        op_types.update(n.op for n in nodes if n.op not in function_names)
    return op_types


def stock_op_problems(saved_model_dir):
    """Op types of the SavedModel that stock TF Serving cannot run, sorted."""
    return sorted(
        op
        for op in saved_model_op_types(saved_model_dir)
        if op.startswith("Xla") or not hasattr(tf.raw_ops, op)
    )


def check_stock_ops(saved_model_dir):
    """Raises `ValueError` naming the ops of the SavedModel that are not stock TF ops."""
    problems = stock_op_problems(saved_model_dir)
    if problems:
        raise ValueError(
            f"The SavedModel at {saved_model_dir} holds ops that stock TF Serving cannot "
            f"run: {', '.join(problems)}. tensorflow-text ops come from keras-hub "
            "tokenizers (use zoo.text.graph_wordpiece.GraphWordPieceTokenizer in "
            "serving functions); Xla* ops come from keras.ops.slice_update or "
            "jit_compile=True (use keras.ops.where with a position mask instead)."
        )
