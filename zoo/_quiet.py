"""Silences TensorFlow's C++ and Python log noise; imported before TensorFlow loads.

TF 2.21 prints CUDA-stub and oneDNN notices through absl before its own log level
(`TF_CPP_MIN_LOG_LEVEL`) applies, so TensorFlow is loaded, and its devices listed, with
the process's stderr pointed at /dev/null. Set `ZOO_VERBOSE=1` to see everything.
"""

import contextlib
import logging
import os
import sys
import warnings

# TensorFlow reads these when its shared library loads, so they must be set first. Level 3:
# TF logs notices at ERROR too (oneDNN's boolean-mask fallback in every LSTM step); real
# failures still reach Python as exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@contextlib.contextmanager
def native_stderr_silenced():
    """Points file descriptor 2 at /dev/null inside the block (C++ writes included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _load_tensorflow_quietly():
    if "tensorflow" in sys.modules or os.environ.get("ZOO_VERBOSE"):
        return
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()


_load_tensorflow_quietly()
logging.getLogger("tensorflow").setLevel(logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="tensorflow_datasets")
warnings.filterwarnings("ignore", module="keras.src.trainers")
