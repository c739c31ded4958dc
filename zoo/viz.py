"""Attention heatmaps, confusion matrices and per-token weights, as PNG files and
TensorBoard images (`(1, height, width, 4)` uint8 arrays for `tf.summary.image`).

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

import math

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


def _save(figure, path):
    """Writes `figure` to the PNG file `path`, closes it and returns `str(path)`."""
    figure.savefig(path, format="png")
    plt.close(figure)
    return str(path)


def _to_image(figure):
    """Renders `figure` to a `(1, height, width, 4)` uint8 RGBA array and closes it."""
    figure.canvas.draw()
    image = np.array(figure.canvas.buffer_rgba(), dtype="uint8")  # a copy, (H, W, 4)
    plt.close(figure)
    return image[None]


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
    return _save(_figure(weights, source_tokens, target_tokens, title), path)


def attention_image(weights, source_tokens, target_tokens, title=None):
    """Returns the heatmap as a `(1, height, width, 4)` uint8 array for `tf.summary.image`.

    Args:
        weights: array `(target_length, source_length)`.
        source_tokens: list of source token strings.
        target_tokens: list of output token strings.
        title: optional title.
    """
    return _to_image(_figure(weights, source_tokens, target_tokens, title))


def _short(label, width):
    """`label` as a string of at most `width` characters, cut in the middle (`categ..y_12`)
    so that labels which differ only at the end stay apart."""
    label = str(label)
    if len(label) <= width:
        return label
    head = (width - 1) // 2
    return label[:head] + ".." + label[len(label) - (width - 2 - head):]


_MAX_ANNOTATED_CLASSES = 40  # beyond this the counts would not fit in their cells


def _confusion_figure(matrix, label_names, title):
    matrix = np.asarray(matrix)
    classes = len(label_names)
    if matrix.shape != (classes, classes):
        raise ValueError(f"the confusion matrix has shape {matrix.shape}, not "
                         f"({classes}, {classes}) for {classes} label names")
    names = [_short(name, 20) for name in label_names]
    side = min(16.0, max(3.0, 0.45 * classes + 0.07 * max(len(name) for name in names)
                         + 1.5))
    figure, axes = plt.subplots(figsize=(side + 1.2, side), dpi=100)
    top = max(1, int(matrix.max()))
    image = axes.imshow(matrix, cmap="Blues", vmin=0, vmax=top, aspect="auto")
    axes.set_xticks(range(classes), names, rotation=90)
    axes.set_yticks(range(classes), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    if classes <= _MAX_ANNOTATED_CLASSES:
        size = 9 if classes <= 10 else 7 if classes <= 20 else 5
        for row in range(classes):
            for column in range(classes):
                count = matrix[row, column]
                axes.text(column, row, f"{count:g}", ha="center", va="center",
                          fontsize=size, color="white" if count > top / 2 else "black")
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return figure


def plot_confusion_matrix(matrix, label_names, path, title=None):
    """Saves a confusion matrix to the PNG file `path`: gold classes on the y axis,
    predicted classes on the x axis, each cell annotated with its count (up to 40
    classes; beyond, the colours alone).

    Args:
        matrix: `(classes, classes)` counts, rows gold and columns predicted (the
            `confusion` of `zoo.metrics.classification_report`).
        label_names: the class names, indexed by class id.
        path: where to write the PNG.
        title: optional title.

    Returns:
        `path`.

    >>> import os, tempfile
    >>> from zoo import viz
    >>> path = os.path.join(tempfile.mkdtemp(), "confusion.png")
    >>> viz.plot_confusion_matrix([[5, 1], [2, 7]], ["no", "yes"], path) == path
    True
    """
    return _save(_confusion_figure(matrix, label_names, title), path)


def confusion_image(matrix, label_names, title=None):
    """Returns the confusion matrix plot as a `(1, height, width, 4)` uint8 array for
    `tf.summary.image`.

    Args:
        matrix: `(classes, classes)` counts, rows gold and columns predicted.
        label_names: the class names, indexed by class id.
        title: optional title.

    >>> from zoo import viz
    >>> viz.confusion_image([[5, 1], [2, 7]], ["no", "yes"]).dtype
    dtype('uint8')
    """
    return _to_image(_confusion_figure(matrix, label_names, title))


_INCHES_PER_TOKEN = 0.18  # room for one rotated 8-point tick label
_MAX_TOKEN_FIGURE_WIDTH = 24.0  # inches (2400 pixels); longer sequences thin their labels


def _token_weights_figure(tokens, rows, title):
    tokens = [_short(token, 16) for token in tokens]
    if not tokens:
        raise ValueError("there are no tokens to plot")
    if not rows:
        raise ValueError("rows is empty: pass {row_label: weights}")
    labels = [str(label) for label in rows]
    weights = []
    for label, values in zip(labels, rows.values()):
        values = np.asarray(values, dtype="float32").reshape(-1)
        if values.shape[0] < len(tokens):
            raise ValueError(f"row {label!r} has {values.shape[0]} weights for "
                             f"{len(tokens)} tokens")
        weights.append(values[: len(tokens)])  # the rest is padding
    weights = np.stack(weights)
    top = float(np.nanmax(weights)) if np.isfinite(weights).any() else 0.0
    count = len(tokens)
    margin = 1.5 + 0.08 * max(len(label) for label in labels)
    width = max(4.0, _INCHES_PER_TOKEN * count + margin)
    step = 1
    if width > _MAX_TOKEN_FIGURE_WIDTH:
        width = _MAX_TOKEN_FIGURE_WIDTH
        step = math.ceil(count / max(1, int((width - margin) / _INCHES_PER_TOKEN)))
    shown = range(0, count, step)
    longest = max(len(tokens[index]) for index in shown)
    height = 0.4 * len(labels) + 0.075 * longest + 1.2 + (0.3 if title else 0.0)
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=top if top > 0 else 1.0,
                        aspect="auto", interpolation="nearest")
    axes.set_xticks(list(shown), [tokens[index] for index in shown], rotation=90,
                    fontsize=8)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("token" if step == 1
                    else f"token ({count} tokens, one labelled every {step})")
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=min(0.046, 0.6 / width), pad=min(0.04, 0.3 / width))
    figure.tight_layout()
    return figure


def plot_token_weights(tokens, rows, path, title=None):
    """Saves a heatmap of one or more rows of per-token weights over one token sequence
    to the PNG file `path`: tokens on the x axis, one row a weight vector, colours from 0
    to the largest weight.

    Long sequences stay readable: the figure widens with the tokens up to 24 inches, and
    beyond that only every n-th token is labelled.

    Args:
        tokens: list of token strings (x axis).
        rows: `{row_label: weights}`, each weights a 1-D array at least as long as
            `tokens` (the rest, padding, is cut off); e.g. `{"attention": w}` for a
            classifier's attention pooling, `{"start": p, "end": q}` for QA span
            probabilities.
        path: where to write the PNG.
        title: optional title.

    Returns:
        `path`.

    >>> import os, tempfile
    >>> from zoo import viz
    >>> path = os.path.join(tempfile.mkdtemp(), "span.png")
    >>> tokens = ["who", "wrote", "it", "?", "ada", "wrote", "it"]
    >>> rows = {"start": [0, 0, 0, 0, 0.9, 0.1, 0], "end": [0, 0, 0, 0, 0.8, 0, 0.2]}
    >>> viz.plot_token_weights(tokens, rows, path) == path
    True
    """
    return _save(_token_weights_figure(tokens, rows, title), path)


def token_weights_image(tokens, rows, title=None):
    """Returns the per-token weights heatmap as a `(1, height, width, 4)` uint8 array for
    `tf.summary.image`.

    Args:
        tokens: list of token strings (x axis).
        rows: `{row_label: weights}`, as in `plot_token_weights`.
        title: optional title.

    >>> from zoo import viz
    >>> image = viz.token_weights_image(["a", "good", "film"], {"attention": [0.1, 0.6, 0.3]})
    >>> image.ndim, image.shape[-1], image.dtype
    (4, 4, dtype('uint8'))
    """
    return _to_image(_token_weights_figure(tokens, rows, title))
