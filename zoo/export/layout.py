"""TF Serving's directory layout: `<export_dir>/<model_name>/<version>/`, and warm-up.

TF Serving watches `<export_dir>/<model_name>` and serves the largest integer
sub-directory. A version is written under a dot-prefixed temporary name (which TF Serving
ignores, since it is not an integer) and renamed into place when complete, so a crash
never leaves a half-written version behind and a re-export never overwrites one: it
takes the next number.

Example:

>>> import tempfile
>>> from zoo.export import write_version
>>> root = tempfile.mkdtemp()
>>> path = write_version(root, "nmt", lambda tmp: open(f"{tmp}/saved_model.pb", "w").close())
>>> path.endswith("nmt/1")
True
>>> write_version(root, "nmt", lambda tmp: None).endswith("nmt/2")
True
"""

import os
import shutil
import uuid

import tensorflow as tf

from zoo.errors import UsageError

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def existing_versions(export_dir, model_name):
    """The sorted integer versions under `<export_dir>/<model_name>` (empty if none)."""
    model_dir = os.path.join(export_dir, model_name)
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(name)
        for name in os.listdir(model_dir)
        if name.isdigit() and os.path.isdir(os.path.join(model_dir, name))
    )


def next_version(export_dir, model_name):
    """1 + the largest existing integer version, or 1."""
    versions = existing_versions(export_dir, model_name)
    return versions[-1] + 1 if versions else 1


def write_version(export_dir, model_name, write_fn):
    """Writes a new version with `write_fn(tmp_dir)` and renames it into place.

    Args:
        export_dir: the TF Serving model base path's parent.
        model_name: the model's name (its directory under `export_dir`).
        write_fn: a callable filling the (existing, empty) temporary directory.

    Returns:
        The new version directory `<export_dir>/<model_name>/<N>` as a string.
    """
    if not model_name or os.sep in model_name or model_name.startswith("."):
        raise UsageError(
            f"model_name {model_name!r} must be a plain directory name such as 'nmt'."
        )
    model_dir = os.path.join(export_dir, model_name)
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"Cannot create the export directory {model_dir!r} ({error}); pass a "
            "writable --export_dir."
        ) from error
    tmp_dir = os.path.join(model_dir, f".tmp-{uuid.uuid4().hex}")
    os.makedirs(tmp_dir)
    try:
        write_fn(tmp_dir)
        while True:
            version_dir = os.path.join(model_dir, str(next_version(export_dir, model_name)))
            try:
                # Fails rather than replacing when another export took this number.
                os.rename(tmp_dir, version_dir)
                return version_dir
            except OSError:
                if not os.path.exists(version_dir):
                    raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def write_warmup_requests(version_dir, model_name, requests):
    """Writes `assets.extra/tf_serving_warmup_requests` so TF Serving warms up on load.

    Args:
        version_dir: the SavedModel directory.
        model_name: the name TF Serving serves the model under.
        requests: a list of `(signature_name, {input_name: array-like})` pairs.

    Returns:
        The path of the warm-up file: TFRecords of `PredictionLog` protos.
    """
    # Imported here: tensorflow-serving-api is only needed when exporting.
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(
                    name=model_name, signature_name=signature_name
                )
            )
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(version_dir):
    """The `PredictionLog` protos of a version's warm-up file (for tests and checks)."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(version_dir, WARMUP_FILE)
    logs = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        logs.append(prediction_log_pb2.PredictionLog.FromString(record))
    return logs
