"""Exports a text classifier as a SavedModel that stock TF Serving answers with labels.

Signatures (input `inputs`, a 1-D `tf.string` batch of raw text):

- `serving_default` → `outputs` (1-D `tf.string`, the predicted label names) and `scores`
  (1-D float32, the softmax probability of that label).
- `probabilities` → `probabilities` `(batch, num_classes)` float32 and `labels`
  `(batch, num_classes)` strings, the label name of each column (repeated per row, since
  TF Serving's REST row format needs every output batch-leading).

In the graph: sanitize (invalid UTF-8 → U+FFFD, strip) → `GraphWordPieceTokenizer` →
truncate to `max_length` → pad → model → softmax. An input with no tokens (empty or
whitespace only) is classified as a lone `[UNK]`, so the batch never fails as a whole.

Example:

>>> import tensorflow as tf
>>> from zoo.export import export_classifier
>>> path = export_classifier(model, tokenizer, "/tmp/export", "sentiment",
...                          label_names=["neg", "pos"])  # doctest: +SKIP
>>> classify = tf.saved_model.load(path).signatures["serving_default"]  # doctest: +SKIP
>>> classify(inputs=tf.constant(["a fine film"]))["outputs"]  # doctest: +SKIP
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import UsageError
from zoo.export.archive import pad_token_ids, to_ragged, write_archive
from zoo.text.graph_wordpiece import GraphWordPieceTokenizer, sanitize_text
from zoo.text.special_tokens import UNK_ID

INPUT_SIGNATURE = [tf.TensorSpec([None], tf.string, name="inputs")]
WARMUP_INPUTS = ["A short text.", "", "Another, longer text with punctuation and 123!"]


def _check(model, label_names, max_length):
    label_names = [str(name) for name in label_names]
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None and len(label_names) != int(num_classes):
        raise UsageError(
            f"label_names has {len(label_names)} names but the model predicts "
            f"{num_classes} classes; pass one name per class, in label-id order."
        )
    model_max = int(getattr(model, "max_length", max_length or 0))
    max_length = int(max_length or model_max)
    if not 1 <= max_length <= model_max:
        raise UsageError(f"max_length={max_length} must be in [1, {model_max}] (the "
                         "model's max_length).")
    return label_names, max_length


class ClassifierServer:
    """The serving functions of a classifier: raw strings in, label names out.

    Args:
        model: a `zoo.models` classifier (built): `model(token_ids)` → logits.
        tokenizer: the training-time `zoo.text.SubwordTokenizer`.
        label_names: the name of each class, in label-id order.
        max_length: longer inputs are truncated to this many tokens (default: the
            model's `max_length`).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.export import ClassifierServer
    >>> server = ClassifierServer(model, tokenizer, ["neg", "pos"])  # doctest: +SKIP
    >>> server.classify(tf.constant(["a fine film"]))["outputs"]  # doctest: +SKIP
    """

    def __init__(self, model, tokenizer, label_names, max_length=None):
        self.label_names, self.max_length = _check(model, label_names, max_length)
        self.model = model
        self.tokenizer = GraphWordPieceTokenizer(tokenizer.vocabulary,
                                                 lowercase=tokenizer.lowercase)

    @property
    def table_owners(self):
        """The `tf.Module`s holding the lookup tables the functions use."""
        return [self.tokenizer]

    def _probabilities(self, inputs):
        ragged = self.tokenizer.tokenize(sanitize_text(inputs))
        ids, _ = pad_token_ids(ragged, self.max_length, UNK_ID)
        logits = self.model(ids, training=False)
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

    def classify(self, inputs):
        """`{"outputs": (batch,) label names, "scores": (batch,) probabilities}`."""
        probabilities = self._probabilities(inputs)
        best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "outputs": tf.gather(tf.constant(self.label_names), best),
            "scores": tf.reduce_max(probabilities, axis=-1),
        }

    def probabilities(self, inputs):
        """`{"probabilities": (batch, classes), "labels": (batch, classes) names}`."""
        probabilities = self._probabilities(inputs)
        labels = tf.tile(tf.constant(self.label_names)[None, :],
                         [tf.shape(probabilities)[0], 1])
        return {"probabilities": probabilities, "labels": labels}


def reference_classify(model, tokenizer, label_names, texts, max_length=None):
    """Classifies in Python (eager) with the training-time keras-hub tokenizer.

    The path an exported classifier must match: same sanitizing, truncation and padding,
    `SubwordTokenizer.tokenize` instead of the graph tokenizer.

    Returns:
        `(labels, scores)`: a list of label names and a float32 numpy array.
    """
    label_names, max_length = _check(model, label_names, max_length)
    clean = sanitize_text(tf.constant(texts, tf.string))
    ids, _ = pad_token_ids(to_ragged(tokenizer.tokenize(clean)), max_length, UNK_ID)
    logits = keras.ops.convert_to_numpy(model(ids, training=False)).astype("float32")
    probabilities = tf.nn.softmax(logits, axis=-1).numpy()
    best = probabilities.argmax(-1)
    return [label_names[i] for i in best], probabilities.max(-1)


def export_classifier(model, tokenizer, export_dir, model_name, label_names,
                      max_length=None):
    """Writes a new TF Serving version of a classifier; see the module docstring.

    Args:
        model: a built `zoo.models` classifier.
        tokenizer: its `zoo.text.SubwordTokenizer`.
        export_dir: the version goes to `<export_dir>/<model_name>/<N>`, N one more than
            the largest existing version.
        model_name: the name TF Serving serves it under.
        label_names: the name of each class, in label-id order.
        max_length: inputs are truncated to this many tokens (default: the model's).

    Returns:
        The new version directory, a string.
    """
    server = ClassifierServer(model, tokenizer, label_names, max_length)
    return write_archive(
        server, model_name, export_dir,
        signatures={"serving_default": (server.classify, INPUT_SIGNATURE),
                    "probabilities": (server.probabilities, INPUT_SIGNATURE)},
        warmup={"inputs": np.array(WARMUP_INPUTS, dtype=object)})
