"""The seq2seq export: signatures, string-for-string outputs, bad inputs, tools, protos."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import zoo.export

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported)


def test_layout_version_and_warmup(exported, export_root):
    assert exported == os.path.join(str(export_root), "nmt", "1")
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))
    logs = zoo.export.read_warmup_requests(exported)
    assert len(logs) == 1
    request = logs[0].predict_log.request
    assert request.model_spec.name == "nmt"
    assert request.model_spec.signature_name == "serving_default"
    assert list(request.inputs) == ["inputs"]
    assert tf.make_ndarray(request.inputs["inputs"]).dtype == object
    assert not [n for n in os.listdir(export_root / "nmt") if n.startswith(".")]


def test_signature_names_and_dtypes(loaded):
    serving = loaded.signatures["serving_default"]
    assert set(loaded.signatures) == {"serving_default", "nbest"}
    for signature in loaded.signatures.values():
        inputs = signature.structured_input_signature[1]
        assert list(inputs) == ["inputs"]
        assert inputs["inputs"].dtype == tf.string and inputs["inputs"].shape.as_list() == [None]
    outputs = serving.structured_outputs
    assert set(outputs) == {"outputs", "scores"}
    assert outputs["outputs"].dtype == tf.string and outputs["outputs"].shape.rank == 1
    assert outputs["scores"].dtype == tf.float32 and outputs["scores"].shape.rank == 1
    nbest = loaded.signatures["nbest"].structured_outputs
    assert {k: v.dtype for k, v in nbest.items()} == {
        "outputs": tf.string, "scores": tf.float32, "alignment": tf.float32,
        "source_tokens": tf.string, "target_tokens": tf.string}


def test_outputs_equal_python_predict_string_for_string(loaded, reference, serving_inputs):
    result = loaded.signatures["serving_default"](inputs=tf.constant(serving_inputs))
    expected_strings, expected_scores = reference
    assert [s.decode("utf-8") for s in result["outputs"].numpy()] == expected_strings
    np.testing.assert_allclose(result["scores"].numpy(), expected_scores, rtol=1e-4,
                               atol=1e-4)


def test_bad_inputs_each_get_an_output(loaded, serving_inputs):
    result = loaded.signatures["serving_default"](inputs=tf.constant(serving_inputs))
    outputs, scores = result["outputs"].numpy(), result["scores"].numpy()
    assert outputs.shape == scores.shape == (len(serving_inputs),)
    assert outputs[1] == b"" and outputs[2] == b"" and scores[1] == scores[2] == 0.0
    assert np.all(np.isfinite(scores)) and np.all(scores[[0, 3, 4, 5, 6, 7]] < 0)
    for text in outputs:
        text.decode("utf-8")  # valid UTF-8 out, whatever came in
    # One at a time gives the same as in a batch mixing empty and over-long inputs.
    for i in (0, 3, 5):
        alone = loaded.signatures["serving_default"](inputs=tf.constant(serving_inputs[i:i + 1]))
        assert alone["outputs"].numpy()[0] == outputs[i]


def test_nbest_signature(loaded, serving_inputs, export_kwargs):
    result = loaded.signatures["nbest"](inputs=tf.constant(serving_inputs[:3]))
    beams, max_target = export_kwargs["beam_size"], export_kwargs["max_target_length"]
    outputs, scores = result["outputs"].numpy(), result["scores"].numpy()
    assert outputs.shape == (3, beams) and scores.shape == (3, beams)
    source_length = result["source_tokens"].shape[1]
    assert result["alignment"].shape == (3, beams, max_target, source_length)
    assert result["target_tokens"].shape == (3, beams, max_target)
    assert np.all(np.diff(scores[0]) <= 1e-6)  # best first
    best = loaded.signatures["serving_default"](inputs=tf.constant(serving_inputs[:1]))
    assert outputs[0, 0] == best["outputs"].numpy()[0]
    # Each generated token's weights over the real source tokens sum to 1.
    alignment = result["alignment"].numpy()[0, 0]
    generated = result["target_tokens"].numpy()[0, 0] != b""
    real_source = result["source_tokens"].numpy()[0] != b""
    np.testing.assert_allclose(alignment[generated].sum(-1), 1.0, atol=1e-4)
    assert np.all(alignment[:, ~real_source] == 0)
    assert np.all(outputs[1:] == b"") and np.all(scores[1:] == 0)


def test_grpc_predict_request_round_trip(loaded):
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "nmt"
    request.model_spec.signature_name = "serving_default"
    request.inputs["inputs"].CopyFrom(
        tf.make_tensor_proto(["the small house .", ""], dtype=tf.string))
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())

    signature = loaded.signatures[request.model_spec.signature_name]
    feeds = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    result = signature(**feeds)

    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, tensor in result.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(tensor.numpy()))
    response = predict_pb2.PredictResponse.FromString(response.SerializeToString())
    outputs = tf.make_ndarray(response.outputs["outputs"])
    scores = tf.make_ndarray(response.outputs["scores"])
    assert outputs.shape == scores.shape == (2,) and scores.dtype == np.float32
    assert outputs[0] == result["outputs"].numpy()[0] and outputs[1] == b""


def test_saved_model_cli_show_and_run(exported):
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    commands = {
        "show": ["show", "--dir", exported, "--all"],
        "run": ["run", "--dir", exported, "--tag_set", "serve", "--signature_def",
                "serving_default", "--input_exprs", "inputs=['the small house .', '']"],
    }
    # Both at once: each spends most of its time importing TensorFlow.
    processes = {name: subprocess.Popen(cli + args, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
                 for name, args in commands.items()}
    results = {name: (p.communicate(timeout=300), p.returncode)
               for name, p in processes.items()}
    for name, ((_, stderr), returncode) in results.items():
        assert returncode == 0, f"saved_model_cli {name}: {stderr[-3000:]}"
    shown, ran = results["show"][0][0], results["run"][0][0]
    assert "signature_def['serving_default']" in shown
    assert "signature_def['nbest']" in shown
    serving = shown.split("signature_def['serving_default']")[1]
    for line in ("inputs['inputs'] tensor_info:", "dtype: DT_STRING", "shape: (-1)",
                 "outputs['outputs'] tensor_info:", "outputs['scores'] tensor_info:",
                 "dtype: DT_FLOAT"):
        assert line in serving
    assert "Result for output key outputs:" in ran
    assert "Result for output key scores:" in ran


def test_graph_holds_stock_ops_only(exported):
    op_types = zoo.export.saved_model_op_types(exported)
    assert zoo.export.stock_op_problems(exported) == []
    assert not [op for op in op_types if op.startswith("Xla")]
    assert {"While", "LookupTableFindV2", "StringSplitV2", "TopKV2"} <= op_types
    assert not {"RegexSplitWithOffsets", "FastWordpieceTokenizeWithOffsets"} & op_types


def test_check_stock_ops_names_the_bad_ops(tmp_path):
    import keras
    import tensorflow_text as tf_text

    class Splitter(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def split(self, texts):
            return {"words": tf_text.regex_split(texts, r"\s").to_tensor()}

    tf.saved_model.save(Splitter(), str(tmp_path))
    with pytest.raises(ValueError, match="RegexSplitWithOffsets"):
        zoo.export.check_stock_ops(str(tmp_path))

    # keras.ops.slice_update lowers to XlaDynamicUpdateSlice, which is rejected too.
    class Updater(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2, 4], tf.float32)])
        def update(self, x):
            return keras.ops.slice_update(x, (0, 1), tf.ones([2, 1]))

    xla_dir = tmp_path / "xla"
    tf.saved_model.save(Updater(), str(xla_dir))
    problems = zoo.export.stock_op_problems(str(xla_dir))
    assert problems and all(op.startswith("Xla") for op in problems)


@pytest.mark.slow
def test_lstm_bahdanau_export_matches_python(tokenizers, tmp_path, serving_inputs,
                                             build_seq2seq, randomize_weights):
    model = randomize_weights(build_seq2seq(
        "lstm_bahdanau", tokenizers, units=8, embedding_dim=8, dropout=0.0, max_length=24))
    kwargs = dict(beam_size=2, max_source_length=20, max_target_length=6)
    path = zoo.export.export_seq2seq(model, *tokenizers, export_dir=str(tmp_path),
                                     model_name="lstm", **kwargs)
    assert zoo.export.stock_op_problems(path) == []
    result = tf.saved_model.load(path).signatures["serving_default"](
        inputs=tf.constant(serving_inputs))
    expected, scores = zoo.export.reference_translate(model, *tokenizers, serving_inputs,
                                                      **kwargs)
    assert [s.decode("utf-8") for s in result["outputs"].numpy()] == expected
    np.testing.assert_allclose(result["scores"].numpy(), scores, rtol=1e-4, atol=1e-4)


CONTROLS_SCRIPT = """
import sys
path, texts = sys.argv[1], json.loads(sys.argv[2])
loaded = tf.saved_model.load(path)
best = loaded.signatures["serving_default"](inputs=tf.constant(texts))
nbest = loaded.signatures["nbest"](inputs=tf.constant(texts))
print(json.dumps({
    "outputs": [s.decode("utf-8") for s in best["outputs"].numpy()],
    "scores": best["scores"].numpy().tolist(),
    "target_tokens": [[[t.decode("utf-8") for t in hypothesis] for hypothesis in row]
                      for row in nbest["target_tokens"].numpy()],
}))
"""


def test_export_with_decoding_controls_loads_and_obeys_them(
        tokenizers, tmp_path, build_seq2seq, randomize_weights, fresh_python):
    """min_length and no_repeat_ngram_size are compiled into the graph: a model made to
    end at once (and, held back, to repeat itself) answers from a TensorFlow-only process
    as the Python side does, with both controls holding in every n-best hypothesis."""
    import json

    from zoo import decoding

    model = randomize_weights(build_seq2seq(
        "transformer_tiny", tokenizers, num_layers=1, d_model=16, num_heads=2,
        intermediate_dim=32, dropout=0.0, max_length=24, tie_output=False))
    bias = model.output_projection.bias
    bias.assign(bias.numpy() + 2.0 * (np.arange(bias.shape[0]) == decoding.EOS_ID))
    texts = ["the small house .", "", "where is the station ?", "Das Haus ist klein."]
    controls = dict(min_length=3, no_repeat_ngram_size=2)
    kwargs = dict(beam_size=3, max_source_length=20, max_target_length=8)

    # Without the controls the model ends at once; with min_length alone, some n-best
    # hypothesis repeats a bigram.
    ids, _ = zoo.export.Seq2SeqServer(model, *tokenizers, **kwargs).source_ids(
        tf.constant(texts))
    free, _ = decoding.beam_search(model, ids, 8, beam_size=3, num_return=3)
    assert np.all(np.asarray(free)[[0, 2, 3], 0, 0] == decoding.EOS_ID)
    held, _ = decoding.beam_search(model, ids, 8, beam_size=3, num_return=3, min_length=3)
    assert any(_repeats_a_bigram([t for t in hypothesis if t])
               for hypothesis in np.asarray(held)[[0, 2, 3]].reshape(-1, 8))

    path = zoo.export.export_seq2seq(model, *tokenizers, export_dir=str(tmp_path),
                                     model_name="controls", **kwargs, **controls)
    assert zoo.export.stock_op_problems(path) == []
    assert "ScatterNd" in zoo.export.saved_model_op_types(path)
    result = fresh_python(CONTROLS_SCRIPT, path, json.dumps(texts))
    expected, scores = zoo.export.reference_translate(model, *tokenizers, texts, **kwargs,
                                                      **controls)
    assert result["outputs"] == expected
    assert [bool(s) for s in expected] == [True, False, True, True]
    np.testing.assert_allclose(result["scores"], scores, rtol=1e-4, atol=1e-4)
    for row in (0, 2, 3):
        for hypothesis in result["target_tokens"][row]:
            tokens = [t for t in hypothesis if t]
            assert "[EOS]" not in tokens[:3], hypothesis
            assert not _repeats_a_bigram(tokens), hypothesis


def _repeats_a_bigram(tokens):
    bigrams = list(zip(tokens, tokens[1:]))
    return len(set(bigrams)) < len(bigrams)


def test_bad_decoding_controls_raise_a_usage_error(seq2seq_model, tokenizers):
    from zoo.errors import UsageError

    with pytest.raises(UsageError, match="min_length=9 exceeds max_target_length=8"):
        zoo.export.Seq2SeqServer(seq2seq_model, *tokenizers, max_target_length=8,
                                 min_length=9)
    with pytest.raises(UsageError, match="no_repeat_ngram_size"):
        zoo.export.export_seq2seq(seq2seq_model, *tokenizers, export_dir="/nonexistent",
                                  model_name="bad", no_repeat_ngram_size=-1)
    with pytest.raises(UsageError, match="min_length"):
        zoo.export.reference_translate(seq2seq_model, *tokenizers, ["a"], min_length=-2)
