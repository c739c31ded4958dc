"""Callbacks of the training engine: evaluation, throughput, checkpoints, divergence guard."""

import json
import math
import os
import time

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from zoo.training.strategy import is_chief, num_workers


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss became NaN/inf or blew up."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training with `TrainingDiverged` when the loss is NaN/inf or blows up.

    The loss in the logs is the running mean of the epoch. It counts as blown up when it
    exceeds `blowup_factor` times the lowest value seen so far, once it averages at least
    `min_steps` steps of the epoch: the first steps of every epoch are a mean over a few
    batches, and one hard batch after a near-zero loss is no blow-up. A best value under
    `floor` counts as `floor` (a loss of 0.0001 that rises to 0.005 has not diverged). The error is raised from inside `fit`, before
    the epoch's backup is written, so the last backup holds healthy weights.

    Args:
        blowup_factor: how many times the best loss counts as a blow-up; None to check
            for NaN/inf only.
        min_steps: steps before blow-ups are checked.
        monitor: the log entry to watch.
        floor: the smallest best value a blow-up is measured against.

    Example:

    >>> from zoo.training import DivergenceGuard
    >>> guard = DivergenceGuard(blowup_factor=10.0)
    """

    def __init__(self, blowup_factor=10.0, min_steps=20, monitor="loss", floor=0.1):
        super().__init__()
        self.blowup_factor = blowup_factor
        self.min_steps = min_steps
        self.monitor = monitor
        self.floor = floor
        self.best = math.inf
        self.steps = 0
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self._check(logs, f"step {batch + 1} of epoch {self.epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"the end of epoch {epoch + 1}")

    def _check(self, logs, where):
        if not logs or self.monitor not in logs:
            return
        value = float(logs[self.monitor])
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"Training diverged: the {self.monitor} became {value} at {where}. Lower the "
                "learning rate (--learning_rate) or lengthen its warm-up (--warmup_steps), "
                "enable gradient clipping (--clipnorm=1.0), or train in float32 (no "
                "--mixed_precision). Rerunning the same command resumes from the last backup."
            )
        if self.steps >= self.min_steps and self.blowup_factor is not None:
            if value > self.blowup_factor * max(self.best, self.floor):
                raise TrainingDiverged(
                    f"Training diverged: the {self.monitor} rose to {value:.4g} at {where}, "
                    f"over {self.blowup_factor:g} times its best value {self.best:.4g}. Lower "
                    "the learning rate (--learning_rate) or lengthen its warm-up "
                    "(--warmup_steps), or enable gradient clipping (--clipnorm=1.0)."
                )
            self.best = min(self.best, value)


class EpochEvaluation(keras.callbacks.Callback):
    """Adds `evaluate_fn(model)`'s metrics and the learning rate to each epoch's logs.

    It must come first in the callback list: later callbacks (progress bar, History,
    TensorBoard, checkpoints, early stopping) then see the new entries. Only the chief
    evaluates; under multi-worker training it sends `metric_name`'s value to the other
    workers, so that early stopping decides the same everywhere.

    Args:
        evaluate_fn: `evaluate_fn(model) -> dict` of floats, or None.
        strategy: the training strategy.
        metric_name: the entry of `evaluate_fn`'s dict that other workers need.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.training import EpochEvaluation
    >>> callback = EpochEvaluation(lambda model: {"bleu": 0.0}, tf.distribute.get_strategy(),
    ...                            "bleu")
    """

    def __init__(self, evaluate_fn, strategy, metric_name=None):
        super().__init__()
        self.evaluate_fn = evaluate_fn
        self.strategy = strategy
        self.metric_name = metric_name

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        learning_rate = _current_learning_rate(self.model)
        if learning_rate is not None:
            logs["learning_rate"] = learning_rate
        if self.evaluate_fn is None:
            return
        results = {}
        if is_chief(self.strategy):
            results = {name: float(value) for name, value in self.evaluate_fn(self.model).items()}
            if self.metric_name and self.metric_name not in results:
                raise KeyError(
                    f"evaluate_fn returned {sorted(results)} but training monitors "
                    f"{self.metric_name!r}; return it or pass another metric_name."
                )
        if self.metric_name and num_workers(self.strategy) > 1:
            value = _broadcast_from_chief(self.strategy, results.get(self.metric_name, 0.0))
            results[self.metric_name] = value
        logs.update(results)


class Throughput(keras.callbacks.Callback):
    """Logs training throughput per epoch: tokens (or examples) per second.

    Times the steps after the first of each epoch (so tracing and compilation are left
    out) and counts their tokens with the `TokenCount` metric named `count_name`: its
    epoch value is the global count, and the running per-step values give the share of
    the first step. Writes `steps_per_second` and `<unit>_per_second` into the epoch's
    logs, and takes the raw count out of the logs.

    Args:
        count_name: the name of the `TokenCount` metric, or None for steps/s only.
        unit: `"tokens"` or `"examples"`, for the log name.

    Example:

    >>> from zoo.training import Throughput
    >>> callback = Throughput("num_tokens", "tokens")
    """

    def __init__(self, count_name=None, unit="tokens"):
        super().__init__()
        self.count_name = count_name
        self.unit = unit

    def on_epoch_begin(self, epoch, logs=None):
        self._times, self._counts = [], []

    def on_train_batch_end(self, batch, logs=None):
        self._times.append(time.perf_counter())
        if logs and self.count_name in logs:
            self._counts.append(float(logs.pop(self.count_name)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        count = logs.pop(self.count_name, None) if self.count_name else None
        if len(self._times) < 2:
            return
        seconds = max(self._times[-1] - self._times[0], 1e-9)
        logs["steps_per_second"] = (len(self._times) - 1) / seconds
        if count is not None and len(self._counts) == len(self._times) and self._counts[-1] > 0:
            after_first_step = float(count) * (1.0 - self._counts[0] / self._counts[-1])
            logs[f"{self.unit}_per_second"] = after_first_step / seconds


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the weights of the best epoch by `metric_name` (the chief writes them).

    The best value so far lives next to the weights (`<path>.json`), so a resumed run
    keeps comparing against it.

    Args:
        filepath: where to write the weights, ending in `.weights.h5`.
        metric_name: the log entry to compare.
        mode: `"max"` or `"min"`.
        write: whether this worker writes (the chief).

    Example:

    >>> from zoo.training import BestCheckpoint
    >>> callback = BestCheckpoint("/tmp/run/best.weights.h5", "bleu", "max")
    """

    def __init__(self, filepath, metric_name, mode="max", write=True):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}.")
        self.filepath = filepath
        self.metric_name = metric_name
        self.mode = mode
        self.write = write
        self.state_path = filepath + ".json"
        self.best = None

    def on_train_begin(self, logs=None):
        if os.path.exists(self.state_path):
            with open(self.state_path) as file:
                state = json.load(file)
            if state.get("metric") == self.metric_name:
                self.best = state["value"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.metric_name)
        if value is None or not math.isfinite(value):
            return
        better = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best)
        if not better:
            return
        self.best = value
        if self.write:
            self.model.save_weights(self.filepath, overwrite=True)
            _write_json(self.state_path, {"metric": self.metric_name, "value": value,
                                          "epoch": epoch + 1})


class LastCheckpoint(keras.callbacks.Callback):
    """Writes the weights after every epoch (the chief writes them).

    Args:
        filepath: where to write the weights, ending in `.weights.h5`.
        write: whether this worker writes (the chief).

    Example:

    >>> from zoo.training import LastCheckpoint
    >>> callback = LastCheckpoint("/tmp/run/last.weights.h5")
    """

    def __init__(self, filepath, write=True):
        super().__init__()
        self.filepath = filepath
        self.write = write

    def on_epoch_end(self, epoch, logs=None):
        if self.write:
            self.model.save_weights(self.filepath, overwrite=True)


class EpochSnapshots(keras.callbacks.Callback):
    """Keeps the weights of the last `keep` epochs as `<directory>/epoch-NNN.weights.h5`.

    They are what `average_checkpoints` averages (the chief writes them; older ones are
    deleted as new ones come).

    Args:
        directory: where the snapshots go.
        keep: how many of the latest epochs to keep.
        write: whether this worker writes (the chief).

    Example:

    >>> from zoo.training import EpochSnapshots
    >>> callback = EpochSnapshots("/tmp/run/snapshots", keep=3)
    """

    def __init__(self, directory, keep, write=True):
        super().__init__()
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}.")
        self.directory = directory
        self.keep = keep
        self.write = write

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        os.makedirs(self.directory, exist_ok=True)
        self.model.save_weights(snapshot_path(self.directory, epoch + 1), overwrite=True)
        for path in snapshot_paths(self.directory)[:-self.keep]:
            os.remove(path)


def snapshot_path(directory, epoch):
    return os.path.join(directory, f"epoch-{epoch:03d}.weights.h5")


def snapshot_paths(directory):
    """The snapshots in `directory`, oldest epoch first."""
    if not os.path.isdir(directory):
        return []
    names = sorted(name for name in os.listdir(directory)
                   if name.startswith("epoch-") and name.endswith(".weights.h5"))
    return [os.path.join(directory, name) for name in names]


class ScalarSummaries(keras.callbacks.Callback):
    """Writes every epoch's logs as TensorBoard scalars (`<log_dir>/train`, `epoch_<name>`).

    Keras' `TensorBoard` callback needs the `tensorboard` package, which TensorFlow 2.21
    no longer installs; `tf.summary.write` is core TensorFlow, and with the scalars
    plugin's metadata TensorBoard shows these exactly like Keras' own.

    Args:
        log_dir: the TensorBoard log directory.

    Example:

    >>> from zoo.training import ScalarSummaries
    >>> callback = ScalarSummaries("/tmp/run/logs")
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            for name, value in (logs or {}).items():
                if isinstance(value, (int, float)) or getattr(value, "shape", None) == ():
                    tf.summary.write(f"epoch_{name}", tf.constant(float(value)), step=epoch + 1,
                                     metadata=_SCALAR_METADATA)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR,
)


def _current_learning_rate(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None


def _broadcast_from_chief(strategy, value):
    """Every worker gets the chief's `value` (a float), through one all-reduce."""
    chief = is_chief(strategy)

    def replica_value(context):
        first = chief and context.replica_id_in_sync_group == 0
        return tf.constant(value if first else 0.0, tf.float32)

    values = strategy.experimental_distribute_values_from_function(replica_value)
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None))


def _write_json(path, data):
    # Written then renamed, so a run killed mid-write never leaves a torn file.
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(data, file)
    os.replace(temporary, path)


__all__ = [
    "BestCheckpoint",
    "DivergenceGuard",
    "EpochEvaluation",
    "EpochSnapshots",
    "LastCheckpoint",
    "ScalarSummaries",
    "Throughput",
    "TrainingDiverged",
    "snapshot_paths",
]
