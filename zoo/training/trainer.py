"""`train`: Keras `fit` under any `tf.distribute` strategy, with the recipe callbacks."""

import contextlib
import os
import warnings

import keras
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as keras_tf_trainer

from zoo.errors import UsageError
from zoo.training.callbacks import (
    BestCheckpoint,
    DivergenceGuard,
    EpochEvaluation,
    EpochSnapshots,
    LastCheckpoint,
    ScalarSummaries,
    Throughput,
)
from zoo.training.losses import TokenCount, count_nonpad_tokens
from zoo.training.strategy import is_chief, num_workers, per_replica_batch_size, worker_index

# The Keras version whose private `fit` internals `_distribution_fixes` patches (keras#20585);
# pyproject.toml pins it and tests/training/test_multi_worker.py covers it.
PATCHED_KERAS_VERSION = "3.15.1"


def train(
    model,
    train_data,
    steps_per_epoch,
    epochs,
    model_dir,
    strategy,
    loss=None,
    optimizer=None,
    evaluate_fn=None,
    metric_name=None,
    metric_mode="max",
    early_stopping_patience=None,
    jit_compile=False,
    tokens_per_batch_fn=None,
    metrics=None,
    callbacks=None,
    batch_size=None,
    backup_freq="epoch",
    keep_snapshots=0,
    blowup_factor=10.0,
    verbose=1,
):
    """Trains `model` on `train_data` under `strategy`, resumably; returns the history.

    The model must be created under `strategy.scope()`. It is compiled here (under the
    scope) when it is not compiled yet or when `loss`/`optimizer` are given. Files under
    `model_dir`:

    - `logs/`: TensorBoard scalars per epoch (loss, metrics, learning rate, tokens/s,
      the evaluated metrics), written by the chief.
    - `backup/` (`backup/worker_<i>` per worker under multi-worker training): the
      `BackupAndRestore` state. A run killed at any point and restarted with the same
      command resumes after the last finished epoch; the backup is deleted once
      training ends.
    - `best.weights.h5` (+ `best.weights.h5.json`, the best value): the best epoch by
      `metric_name`; `last.weights.h5`: the latest epoch. The chief writes both.

    After each epoch the chief calls `evaluate_fn(model) -> dict`; the values go into the
    progress bar, TensorBoard and the history. Early stopping watches `metric_name`
    (the training loss without one). A NaN/inf or blown-up loss stops training with
    `TrainingDiverged`.

    Args:
        model: a `keras.Model` created under `strategy.scope()`.
        train_data: a repeated `tf.data.Dataset` of `(inputs, targets)` batches of the
            GLOBAL batch size; the engine splits it over the replicas.
        steps_per_epoch: training steps per epoch.
        epochs: the total number of epochs (a resumed run counts the finished ones).
        model_dir: the run directory.
        strategy: the `tf.distribute.Strategy` of the model.
        loss: a Keras loss, to compile with (e.g. `masked_sparse_crossentropy()`).
        optimizer: a Keras optimizer created under `strategy.scope()`, to compile with
            (e.g. `build_optimizer(...)`).
        evaluate_fn: `evaluate_fn(model) -> dict` of floats, called after each epoch.
        metric_name: the entry of `evaluate_fn`'s dict that picks the best checkpoint and
            drives early stopping.
        metric_mode: `"max"` (BLEU, accuracy) or `"min"`.
        early_stopping_patience: epochs without improvement before stopping; None never
            stops early. A resumed run counts its patience afresh.
        jit_compile: compile the training step with XLA.
        tokens_per_batch_fn: `fn(targets) -> scalar`, the tokens in a batch, for the
            tokens/s figure; by default non-0 labels for sequence targets and examples
            for one label per example. Counted only when the targets are one tensor.
        metrics: metrics to compile with (only when compiling here).
        callbacks: more Keras callbacks, run after the engine's.
        batch_size: the nominal global batch size (e.g. the `--batch_size` flag), checked
            against the replicas when the batches have no static size (length-bucketed).
        backup_freq: `"epoch"` or a number of steps between backups (a run killed
            mid-epoch then resumes with the weights, optimizer state and schedule of its
            last backup step; Keras runs that epoch's steps in full again).
        keep_snapshots: how many of the latest epochs' weights to keep in `snapshots/`
            (0: none).
        blowup_factor: the loss counts as blown up above this multiple of its best value;
            None checks for NaN/inf only.
        verbose: Keras progress output (0, 1 or 2); only the chief prints.

    Returns:
        The history dict: a list per logged value, one entry per epoch run by this
        call, and `"epoch"`, the 1-based numbers of those epochs (a resumed run starts
        after its backup).

    Raises:
        UsageError: for arguments that do not fit together (e.g. a global batch size the
            replicas cannot split).
        TrainingDiverged: when the loss becomes NaN/inf or blows up.

    Example:

    >>> from zoo.training import build_optimizer, masked_sparse_crossentropy, train
    >>> history = train(model, batches, steps_per_epoch=100, epochs=10,
    ...                 model_dir="runs/nmt", strategy=strategy,
    ...                 loss=masked_sparse_crossentropy(0.1),
    ...                 optimizer=build_optimizer(1e-3, warmup_steps=400),
    ...                 evaluate_fn=lambda model: {"bleu": bleu(model)},
    ...                 metric_name="bleu")  # doctest: +SKIP
    """
    _check_arguments(model, train_data, steps_per_epoch, epochs, strategy, evaluate_fn,
                     metric_name, metric_mode, early_stopping_patience, loss, optimizer,
                     batch_size)
    chief = is_chief(strategy)
    model_dir = os.fspath(model_dir)
    if chief:
        os.makedirs(model_dir, exist_ok=True)

    targets_spec = train_data.element_spec[1]
    count_name, unit = None, "tokens"
    if isinstance(targets_spec, tf.TensorSpec):
        unit = "tokens" if targets_spec.shape.rank and targets_spec.shape.rank >= 2 else "examples"
        count_fn = tokens_per_batch_fn or (count_nonpad_tokens if unit == "tokens" else _batch_size)
        count_name = "num_tokens"
    with strategy.scope():
        _compile(model, loss, optimizer, metrics, jit_compile,
                 TokenCount(count_fn, name=count_name) if count_name else None)
    if not any(isinstance(metric, TokenCount) for metric in _compiled_metrics(model)):
        count_name = None

    backup_dir = os.path.join(model_dir, "backup")
    if num_workers(strategy) > 1:
        backup_dir = os.path.join(backup_dir, f"worker_{worker_index(strategy)}")
    engine_callbacks = [
        DivergenceGuard(blowup_factor=blowup_factor),
        EpochEvaluation(evaluate_fn, strategy, metric_name),
        Throughput(count_name, unit),
        keras.callbacks.BackupAndRestore(backup_dir, save_freq=backup_freq),
        LastCheckpoint(os.path.join(model_dir, "last.weights.h5"), write=chief),
    ]
    if keep_snapshots:
        engine_callbacks.append(EpochSnapshots(os.path.join(model_dir, "snapshots"),
                                               keep_snapshots, write=chief))
    if metric_name:
        engine_callbacks.append(BestCheckpoint(
            os.path.join(model_dir, "best.weights.h5"), metric_name, metric_mode, write=chief))
    if early_stopping_patience is not None:
        engine_callbacks.append(keras.callbacks.EarlyStopping(
            monitor=metric_name or "loss", mode=metric_mode if metric_name else "min",
            patience=early_stopping_patience, verbose=int(chief and verbose > 0)))
    summaries = None
    if chief:
        summaries = ScalarSummaries(os.path.join(model_dir, "logs"))
        engine_callbacks.append(summaries)

    if num_workers(strategy) > 1:
        train_data = _shard_by_data(train_data)
    model._initial_epoch = None  # fit starts from the backup's epoch, not a previous run's
    with _distribution_fixes(model, strategy, train_data):
        try:
            history = model.fit(
                train_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                callbacks=engine_callbacks + list(callbacks or []),
                verbose=verbose if chief else 0, shuffle=False,
            )
        except BaseException:
            if summaries is not None:
                summaries.on_train_end()  # closes the summaries of the finished epochs
            raise
    results = dict(history.history)
    results["epoch"] = [epoch + 1 for epoch in history.epoch]
    return results


def _check_arguments(model, train_data, steps_per_epoch, epochs, strategy, evaluate_fn,
                     metric_name, metric_mode, early_stopping_patience, loss, optimizer,
                     batch_size):
    if not isinstance(train_data, tf.data.Dataset):
        raise UsageError(
            f"train_data must be a tf.data.Dataset of (inputs, targets) batches, got "
            f"{type(train_data).__name__}."
        )
    spec = train_data.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise UsageError(
            "train_data must yield (inputs, targets) or (inputs, targets, sample_weight) "
            f"batches; its elements are {spec}."
        )
    if train_data.cardinality() >= 0:  # finite; bucketed datasets report UNKNOWN (-2)
        raise UsageError(
            "train_data must repeat forever (call .repeat() on it); the engine counts "
            "epochs with steps_per_epoch, so a finite dataset would run dry."
        )
    if steps_per_epoch is None or steps_per_epoch < 1 or epochs < 1:
        raise UsageError(
            f"steps_per_epoch and epochs must be positive, got steps_per_epoch="
            f"{steps_per_epoch}, epochs={epochs}."
        )
    first_spec = tf.nest.flatten(spec)[0]
    static_batch_size = first_spec.shape[0] if first_spec.shape.rank else None
    for size in (static_batch_size, batch_size):
        if size is not None:
            per_replica_batch_size(size, strategy)
    if metric_mode not in ("max", "min"):
        raise UsageError(f"metric_mode must be 'max' or 'min', got {metric_mode!r}.")
    if metric_name and evaluate_fn is None:
        raise UsageError(
            f"metric_name={metric_name!r} needs an evaluate_fn that returns it after each "
            "epoch."
        )
    if early_stopping_patience is not None and early_stopping_patience < 1:
        raise UsageError(
            f"early_stopping_patience must be a positive number of epochs, got "
            f"{early_stopping_patience}."
        )
    if not getattr(model, "compiled", False) and (loss is None or optimizer is None):
        raise UsageError("The model is not compiled: pass both loss and optimizer to train().")
    owner = getattr(model, "_distribute_strategy", None)
    default = type(strategy).__name__ == "_DefaultDistributionStrategy"
    if owner is not strategy and not (owner is None and default):
        raise UsageError(
            f"The model was not created under the {type(strategy).__name__} it trains with. "
            "Build it inside `with strategy.scope():` so its variables are distributed."
        )
    optimizer = optimizer or getattr(model, "optimizer", None)
    if getattr(optimizer, "_distribution_strategy", strategy) is not strategy and not default:
        raise UsageError(
            f"The optimizer was not created under the {type(strategy).__name__} it trains "
            "with. Create it inside `with strategy.scope():`, like the model."
        )


def _compile(model, loss, optimizer, metrics, jit_compile, token_count):
    """Compiles when asked to, and adds the token counter to a single-output model."""
    if getattr(model, "compiled", False) and loss is None and optimizer is None:
        config = dict(model._compile_config.config)
        if token_count is None or not _is_flat_metric_list(config.get("metrics")):
            if jit_compile:
                model.jit_compile = True
            return
        config["metrics"] = list(config.get("metrics") or []) + [token_count]
        config["jit_compile"] = bool(jit_compile or config.get("jit_compile"))
        model.compile(**config)
        return
    if not _is_flat_metric_list(metrics):
        token_count = None
    metrics = list(metrics or []) + ([token_count] if token_count is not None else [])
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None,
                  jit_compile=bool(jit_compile))


def _is_flat_metric_list(metrics):
    return metrics is None or (
        isinstance(metrics, (list, tuple))
        and not any(isinstance(metric, (list, tuple, dict)) for metric in metrics)
        and not any(isinstance(metric, TokenCount) for metric in metrics)
    )


def _compiled_metrics(model):
    compiled = getattr(model, "_compile_config", None)
    return [m for m in ((compiled.config.get("metrics") if compiled else None) or [])
            if isinstance(m, keras.metrics.Metric)]


def _shard_by_data(dataset):
    """Each worker keeps its share of the batches (a file-based split needs >= 1 file each)."""
    policy = dataset.options().experimental_distribute.auto_shard_policy
    if policy != tf.data.experimental.AutoShardPolicy.AUTO:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _batch_size(targets):
    return tf.shape(tf.nest.flatten(targets)[0])[0]


@contextlib.contextmanager
def _distribution_fixes(model, strategy, train_data):
    """Makes Keras `fit` work under every strategy, `MultiWorkerMirroredStrategy` included.

    Keras 3.15 `fit` (keras-team/keras#20585) fails under MultiWorkerMirroredStrategy:
    1. Before training it builds the model from the first distributed batch, reduced
       across replicas with a MEAN all-reduce; batches of different shapes on different
       workers (length-bucketing) cannot be reduced, and averaging token ids is
       meaningless anyway. Here the model is built from one local batch instead.
       (`BackupAndRestore` also needs the model built before `fit`.)
    2. Each step reduces the scalar logs with `strategy.reduce("MEAN", v, axis=0)`, which
       fails on rank-0 values, and, with one replica per worker, on the plain local
       tensor `strategy.run` returns (it has no device). Here rank-0 values are reduced
       with `axis=None`, from a tensor placed on the worker's device.
    Both are restored when training ends.
    """
    if keras.__version__ != PATCHED_KERAS_VERSION:
        warnings.warn(f"zoo.training patches Keras {PATCHED_KERAS_VERSION}'s fit for "
                      f"tf.distribute (keras#20585); Keras {keras.__version__} may differ.")

    def build_from_local_batch(iterator=None, data_batch=None):
        del iterator, data_batch
        with strategy.scope():
            if not model.built:
                first_batch = next(iter(train_data.take(1)))
                model(keras.utils.unpack_x_y_sample_weight(first_batch)[0], training=False)
            # The metrics, loss and optimizer state need only the shapes and dtypes.
            model._symbolic_build(data_batch=train_data.element_spec)

    original_reduce = keras_tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy_, reduction):
        if reduction in ("auto", "mean") and keras_tf_trainer._collective_all_reduce_multi_worker(
                strategy_):
            return tf.nest.map_structure(lambda value: _mean_over_workers(strategy_, value),
                                         values)
        return original_reduce(values, strategy_, reduction)

    model._maybe_symbolic_build = build_from_local_batch
    keras_tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        keras_tf_trainer.reduce_per_replica = original_reduce
        del model._maybe_symbolic_build


def _mean_over_workers(strategy, value):
    if not isinstance(value, tf.distribute.DistributedValues):
        # One replica per worker: `strategy.run` returned the local tensor, and the
        # all-reduce needs to know which device holds it.
        with tf.device(strategy.extended.worker_devices[0]):
            value = tf.identity(value)
    return strategy.reduce("MEAN", value, axis=0 if value.shape.rank else None)
