"""TF Serving layout: versions never overwritten, no half-written versions, warm-up."""

import os

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
import zoo.text.graph_wordpiece
from zoo.errors import UsageError


def write_marker(text):
    def write(tmp_dir):
        with open(os.path.join(tmp_dir, "saved_model.pb"), "w") as file:
            file.write(text)
    return write


def test_versions_count_up_and_never_overwrite(tmp_path):
    first = zoo.export.write_version(str(tmp_path), "nmt", write_marker("one"))
    assert first == str(tmp_path / "nmt" / "1")
    (tmp_path / "nmt" / "41").mkdir()
    (tmp_path / "nmt" / "notes").mkdir()  # not a version: ignored, as TF Serving does
    (tmp_path / "nmt" / "99.txt").write_text("")
    second = zoo.export.write_version(str(tmp_path), "nmt", write_marker("two"))
    assert second == str(tmp_path / "nmt" / "42")
    assert (tmp_path / "nmt" / "1" / "saved_model.pb").read_text() == "one"
    assert zoo.export.existing_versions(str(tmp_path), "nmt") == [1, 41, 42]
    assert zoo.export.next_version(str(tmp_path), "other") == 1


def test_a_failed_export_leaves_no_version(tmp_path):
    def crash(tmp_dir):
        write_marker("half")(tmp_dir)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        zoo.export.write_version(str(tmp_path), "nmt", crash)
    assert os.listdir(tmp_path / "nmt") == []
    assert zoo.export.write_version(str(tmp_path), "nmt", write_marker("ok")).endswith("1")


def test_bad_model_name_is_a_usage_error(tmp_path):
    for name in ("", "a/b", ".hidden"):
        with pytest.raises(UsageError, match="model_name"):
            zoo.export.write_version(str(tmp_path), name, write_marker("x"))


def test_warmup_requests_parse_as_prediction_logs(tmp_path):
    inputs = np.array(["hello", "", "naïve 東京"], dtype=object)
    path = zoo.export.write_warmup_requests(
        str(tmp_path), "nmt", [("serving_default", {"inputs": inputs})])
    assert path == str(tmp_path / "assets.extra" / "tf_serving_warmup_requests")
    logs = zoo.export.read_warmup_requests(str(tmp_path))
    assert len(logs) == 1 and logs[0].WhichOneof("log_type") == "predict_log"
    request = logs[0].predict_log.request
    assert request.model_spec.name == "nmt"
    assert request.model_spec.signature_name == "serving_default"
    decoded = tf.make_ndarray(request.inputs["inputs"])
    assert [s.decode() for s in decoded] == list(inputs)


class TokenCounter:
    """A minimal serving object: counts the tokens of each input with a graph tokenizer."""

    def __init__(self, track_table):
        self.tokenizer = zoo.text.graph_wordpiece.GraphWordPieceTokenizer(
            ["[PAD]", "[UNK]", "hello", "world"])
        self.table_owners = [self.tokenizer] if track_table else []

    def count(self, inputs):
        return {"outputs": self.tokenizer.tokenize(inputs).row_lengths()}


def export_counter(server, export_dir):
    from zoo.export.archive import write_archive

    signature = [tf.TensorSpec([None], tf.string, name="inputs")]
    return write_archive(server, "counter", str(export_dir),
                         {"serving_default": (server.count, signature)},
                         warmup={"inputs": np.array(["hello"], dtype=object)})


def test_lookup_tables_are_tracked_and_an_untracked_one_fails_cleanly(tmp_path):
    # The Keras 3 / SavedModel pitfall: a table the saved object does not track fails
    # the export. It must fail loudly and leave no half-written version behind.
    with pytest.raises((AssertionError, ValueError), match="(?i)untracked|track"):
        export_counter(TokenCounter(track_table=False), tmp_path)
    assert os.listdir(tmp_path / "counter") == []

    path = export_counter(TokenCounter(track_table=True), tmp_path)
    assert path == str(tmp_path / "counter" / "1")
    signature = tf.saved_model.load(path).signatures["serving_default"]
    counts = signature(inputs=tf.constant(["hello world", "", "hello there"]))["outputs"]
    assert counts.numpy().tolist() == [2, 0, 2]
