"""Trains a tiny NMT Transformer with `zoo.training.train`; the distributed tests start it.

Usage (one process of a test):

    python tests/training/train_worker.py --model_dir=DIR --strategy=multi_worker \\
        --results=OUT.json [--logical_cpus=2] [--sleep=0.2] [--compare_one_device]

It writes `OUT.json` with the history and the per-replica batch size seen by the model;
with `--weights` it saves the final weights there (one file per worker).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import zoo._quiet  # noqa: E402,F401  (before TensorFlow loads)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

VOCAB = 24
GLOBAL_BATCH = 8
LENGTH = 6


def tiny_copy_task(seed=0, examples=64):
    """Reverse-copy pairs: `((source, target_in), target_out)`, GLOBAL_BATCH a batch."""
    rng = np.random.default_rng(seed)
    source = rng.integers(6, VOCAB, size=(examples, LENGTH)).astype("int32")
    lengths = rng.integers(3, LENGTH + 1, size=examples)
    source[np.arange(LENGTH)[None, :] >= lengths[:, None]] = 0
    target = np.zeros((examples, LENGTH + 1), "int32")
    for row, length in enumerate(lengths):
        target[row, 1:length + 1] = source[row, :length][::-1]
    target[:, 0] = 2  # BOS
    target_out = np.concatenate([target[:, 1:], np.zeros((examples, 1), "int32")], axis=1)
    target_out[np.arange(examples), lengths] = 3  # EOS
    data = tf.data.Dataset.from_tensor_slices(((source, target[:, :-1]), target_out[:, :-1]))
    return data.batch(GLOBAL_BATCH, drop_remainder=True).repeat()


class ReplicaBatchSize(keras.metrics.Metric):
    """The batch size one replica's training step sees (mean over replicas)."""

    def __init__(self, name="replica_batch_size", **kwargs):
        super().__init__(name=name, **kwargs)
        self.size = self.add_variable((), "zeros", dtype="float32", aggregation="mean",
                                      name="size")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.size.assign(keras.ops.cast(keras.ops.shape(y_true)[0], "float32"))

    def result(self):
        return keras.ops.convert_to_tensor(self.size)


class SleepEachStep(keras.callbacks.Callback):
    """Slows training down so a test can kill it mid-run."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def build_model(strategy, seed):
    """The tiny Transformer, built (its variables created) under `strategy`."""
    import zoo.models

    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = zoo.models.build(
            "transformer_tiny", source_vocab_size=VOCAB, target_vocab_size=VOCAB,
            max_length=16, num_layers=1, d_model=16, num_heads=2, intermediate_dim=32,
            dropout=0.0)
        model((tf.ones((1, LENGTH), tf.int32), tf.ones((1, LENGTH), tf.int32)))
    return model


def build_and_train(strategy, model_dir, args, initial_weights=None):
    from zoo import training

    model = build_model(strategy, args.seed)
    if initial_weights:
        model.load_weights(initial_weights)
    evaluations = []

    def evaluate_fn(model):
        evaluations.append(len(evaluations))
        return {"score": float(len(evaluations))}

    callbacks = [SleepEachStep(args.sleep)] if args.sleep else []
    with strategy.scope():
        optimizer = training.build_optimizer(1e-2)
    history = training.train(
        model, tiny_copy_task(args.seed), steps_per_epoch=args.steps, epochs=args.epochs,
        model_dir=model_dir, strategy=strategy,
        loss=training.masked_sparse_crossentropy(label_smoothing=0.1),
        optimizer=optimizer,
        metrics=[ReplicaBatchSize()], evaluate_fn=evaluate_fn, metric_name="score",
        callbacks=callbacks, verbose=2)
    return model, history


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--results", required=True)
    parser.add_argument("--weights")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logical_cpus", type=int, default=1)
    parser.add_argument("--compare_one_device", action="store_true",
                        help="also train the same model on one device and report both")
    args = parser.parse_args()

    if args.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)
    from zoo import training

    strategy = training.get_strategy(args.strategy)
    results = {"num_replicas": strategy.num_replicas_in_sync}
    initial_weights = None
    if args.compare_one_device:
        default = tf.distribute.get_strategy()
        initial_weights = os.path.join(args.model_dir, "initial.weights.h5")
        os.makedirs(args.model_dir, exist_ok=True)
        build_model(default, args.seed).save_weights(initial_weights)
        reference, history = build_and_train(
            default, os.path.join(args.model_dir, "one"), args, initial_weights)
        results["one_device"] = history
        reference_weights = reference.get_weights()
    model, history = build_and_train(
        strategy, os.path.join(args.model_dir, "run"), args, initial_weights)
    results["history"] = history
    if args.compare_one_device:
        from zoo.errors import UsageError

        try:
            training.train(model, tiny_copy_task(args.seed), 2, 1, args.model_dir, strategy,
                           batch_size=GLOBAL_BATCH - 1)
        except UsageError as error:
            results["odd_batch_size_error"] = str(error)
        results["max_weight_difference"] = max(
            float(np.max(np.abs(a - b))) for a, b in zip(reference_weights, model.get_weights()))
    if args.weights:
        model.save_weights(args.weights)
    with open(args.results, "w") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main()
