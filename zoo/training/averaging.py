"""Checkpoint averaging: the mean of the last epochs' weights (Vaswani et al., 2017)."""

import keras
import numpy as np

from zoo.errors import UsageError


def average_checkpoints(model, paths):
    """Sets `model`'s weights to the element-wise mean of the weights in `paths`.

    Averaging the last few epochs' checkpoints usually gives a better model than any one
    of them (the Transformer paper averages its last 5 or 20). Float weights are
    averaged; integer state (e.g. random seeds) keeps the last checkpoint's value.
    Keras has no such utility; OpenNMT-tf's `average_checkpoints` works on TF checkpoints.

    Args:
        model: a built `keras.Model` whose weights the checkpoints hold.
        paths: `.weights.h5` files written by `model.save_weights`, e.g. by
            `zoo.training.EpochSnapshots` (`zoo.training.snapshot_paths(directory)`).

    Returns:
        The model, holding the averaged weights.

    Example:

    >>> from zoo.training import average_checkpoints, snapshot_paths
    >>> paths = snapshot_paths("runs/nmt/snapshots")[-3:]  # doctest: +SKIP
    >>> average_checkpoints(model, paths).save_weights("averaged.weights.h5")  # doctest: +SKIP
    """
    paths = list(paths)
    if not paths:
        raise UsageError("average_checkpoints needs at least one checkpoint path.")
    total = None
    for path in paths:
        model.load_weights(path)
        values = [keras.ops.convert_to_numpy(weight) for weight in model.weights]
        if total is None:
            total = [value.astype(np.float64) for value in values]
        else:
            total = [running + value for running, value in zip(total, values)]
    averaged = [
        (running / len(paths)).astype(last.dtype)
        if keras.backend.is_float_dtype(weight.dtype) else last
        for running, last, weight in zip(total, values, model.weights)
    ]
    model.set_weights(averaged)
    return model
