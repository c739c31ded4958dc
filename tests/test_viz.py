"""PNG files and TensorBoard images from `zoo.viz`."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from zoo import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path, image=None):
    with open(path, "rb") as file:
        assert file.read(8) == PNG_MAGIC
    if image is not None:  # the file and the TensorBoard image are the same picture size
        assert plt.imread(path).shape[:2] == image.shape[1:3]


def _assert_image(image):
    assert image.dtype == np.uint8
    assert image.ndim == 4 and image.shape[0] == 1 and image.shape[-1] == 4
    assert image.shape[1] > 50 and image.shape[2] > 50
    assert image[..., :3].min() < 128 < image[..., :3].max()  # something is drawn
    assert (image[..., 3] == 255).all()  # opaque


def test_attention_png_and_image(tmp_path):
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
    path = tmp_path / "attention.png"
    assert viz.plot_attention(weights, ["a", "b", "c"], ["x", "y"], path) == str(path)
    image = viz.attention_image(weights, ["a", "b", "c"], ["x", "y"], title="t")
    _assert_image(image)
    _assert_png(path, image)
    assert viz.attention_image(np.eye(3), list("abc"), list("xyz")).shape == (1, 300, 400, 4)


def test_confusion_png_and_image(tmp_path):
    matrix = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    names = ["negative", "neutral", "positive"]
    path = tmp_path / "confusion.png"
    assert viz.plot_confusion_matrix(matrix, names, path, title="dev") == str(path)
    image = viz.confusion_image(matrix, names, title="dev")
    _assert_image(image)
    _assert_png(path, image)


def test_confusion_cells_are_annotated_gold_on_y():
    figure = viz._confusion_figure(np.array([[5, 1], [2, 7]]), ["no", "yes"], None)
    axes = figure.axes[0]
    cells = {(text.get_position(), text.get_text()) for text in axes.texts}
    plt.close(figure)
    # imshow puts row (gold) i at y = i and column (predicted) j at x = j.
    assert cells == {((0, 0), "5"), ((1, 0), "1"), ((0, 1), "2"), ((1, 1), "7")}
    assert axes.get_xlabel() == "predicted" and axes.get_ylabel() == "gold"


def test_confusion_many_classes_and_bad_shape():
    names = [f"category_number_{index}" for index in range(50)]
    matrix = np.random.default_rng(0).integers(0, 100, (50, 50))
    image = viz.confusion_image(matrix, names)
    _assert_image(image)
    assert image.shape[1] <= 1600 and image.shape[2] <= 1720  # the figure size is capped
    with pytest.raises(ValueError, match="shape"):
        viz.confusion_image([[1, 2], [3, 4]], ["a", "b", "c"])


def test_token_weights_png_and_image(tmp_path):
    tokens = ["who", "wrote", "it", "?", "[SEP]", "ada", "wrote", "it"]
    rows = {"start": np.r_[np.zeros(5), 0.9, 0.1, 0.0, np.zeros(4)],  # padded to 12
            "end": np.r_[np.zeros(5), 0.7, 0.0, 0.3]}
    path = tmp_path / "span.png"
    assert viz.plot_token_weights(tokens, rows, path, title="QA") == str(path)
    image = viz.token_weights_image(tokens, rows, title="QA")
    _assert_image(image)
    _assert_png(path, image)
    single = viz.token_weights_image(["a", "good", "film"], {"attention": [0.1, 0.6, 0.3]})
    _assert_image(single)


def _tick_labels(tokens, rows):
    figure = viz._token_weights_figure(tokens, rows, None)
    axes = figure.axes[0]
    labels = [label.get_text() for label in axes.get_xticklabels()]
    colour_limits = axes.images[0].get_clim()
    plt.close(figure)
    return labels, colour_limits


def test_token_weights_short_sequence_labels_every_token():
    tokens = [f"t{index}" for index in range(40)]
    labels, (low, high) = _tick_labels(tokens, {"w": np.linspace(0, 0.25, 40)})
    assert labels == tokens
    assert (low, high) == pytest.approx((0.0, 0.25))  # colour scale 0..max


def test_token_weights_long_sequence_is_capped_and_thinned():
    tokens = [f"tok{index}" for index in range(500)]
    rows = {"start": np.random.default_rng(0).random(500), "end": np.ones(500)}
    labels, _ = _tick_labels(tokens, rows)
    assert 50 <= len(labels) < 150
    assert labels[:2] == ["tok0", "tok5"]
    image = viz.token_weights_image(tokens, rows)
    _assert_image(image)
    assert image.shape[2] == 2400  # 24 inches at 100 dpi
    assert viz.token_weights_image(tokens[:100], {"w": np.ones(100)}).shape[2] < 2400


def test_token_weights_errors():
    with pytest.raises(ValueError, match="2 weights for 3 tokens"):
        viz.token_weights_image(["a", "b", "c"], {"attention": [0.5, 0.5]})
    with pytest.raises(ValueError, match="rows is empty"):
        viz.token_weights_image(["a"], {})
    with pytest.raises(ValueError, match="no tokens"):
        viz.token_weights_image([], {"w": []})
