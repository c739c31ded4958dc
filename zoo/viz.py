"""Attention heatmaps, as PNG files and TensorBoard images.

Example:

>>> import os, tempfile
>>> import numpy as np
>>> from zoo import viz
>>> weights = np.eye(3)
>>> path = os.path.join(tempfile.mkdtemp(), "attention.png")
>>> viz.plot_attention(weights, ["a", "b", "c"], ["x", "y", "z"], path) == path
True
>>> viz.attention_image(weights, ["a", "b", "c"], ["x", "y", "z"]).shape
(1, 300, 400, 4)
"""

import io

import matplotlib

matplotlib.use("Agg")  # headless: recipes run on servers with no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _figure(weights, source_tokens, target_tokens, title):
    weights = np.asarray(weights, dtype="float32")
    weights = weights[: len(target_tokens), : len(source_tokens)]
    width = max(4.0, 0.45 * len(source_tokens) + 1.5)
    height = max(3.0, 0.4 * len(target_tokens) + 1.5)
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source_tokens)), source_tokens, rotation=90)
    axes.set_yticks(range(len(target_tokens)), target_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return figure


def plot_attention(weights, source_tokens, target_tokens, path, title=None):
    """Saves a heatmap of attention `weights` to the PNG file `path`.

    Args:
        weights: array `(target_length, source_length)`; row i is the attention of output
            token i over the source tokens. Extra rows/columns beyond the token lists
            (padding) are cut off.
        source_tokens: list of source token strings (x axis).
        target_tokens: list of output token strings (y axis).
        path: where to write the PNG.
        title: optional title, e.g. the source sentence.

    Returns:
        `path`.
    """
    figure = _figure(weights, source_tokens, target_tokens, title)
    figure.savefig(path)
    plt.close(figure)
    return str(path)


def attention_image(weights, source_tokens, target_tokens, title=None):
    """Returns the heatmap as a `(1, height, width, 4)` uint8 array for `tf.summary.image`.

    Args:
        weights: array `(target_length, source_length)`.
        source_tokens: list of source token strings.
        target_tokens: list of output token strings.
        title: optional title.
    """
    figure = _figure(weights, source_tokens, target_tokens, title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    buffer.seek(0)
    image = plt.imread(buffer, format="png")  # float RGBA in [0, 1]
    return (image[None] * 255).astype("uint8")
