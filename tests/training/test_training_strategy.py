"""Strategy selection, batch-size checks and their errors."""

import json
import types

import pytest
import tensorflow as tf

from zoo.errors import UsageError
from zoo.training import (
    get_strategy,
    is_chief,
    num_workers,
    per_replica_batch_size,
    set_precision,
    worker_index,
)


@pytest.fixture
def no_cluster(monkeypatch):
    for name in ("TF_CONFIG", "TPU_NAME"):
        monkeypatch.delenv(name, raising=False)


def test_default_and_auto_pick_one_replica_on_this_machine(no_cluster):
    for name in ("default", "auto"):
        strategy = get_strategy(name)
        assert strategy.num_replicas_in_sync == 1
        assert is_chief(strategy) and worker_index(strategy) == 0 and num_workers(strategy) == 1


def test_one_device_and_mirrored_on_cpu():
    assert isinstance(get_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    mirrored = get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))


def test_unknown_name():
    with pytest.raises(UsageError, match="Unknown strategy 'gpu'.*mirrored"):
        get_strategy("gpu")


def test_multi_worker_without_tf_config(no_cluster):
    with pytest.raises(UsageError, match="needs the TF_CONFIG environment variable"):
        get_strategy("multi_worker")


@pytest.mark.parametrize("config, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"cluster": {}, "task": {"type": "worker", "index": 0}}), "names no workers"),
    (json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}),
     "is not in its cluster"),
])
def test_multi_worker_with_a_bad_tf_config(monkeypatch, config, message):
    monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(UsageError, match=message):
        get_strategy("multi_worker")


def test_tpu_without_a_tpu(no_cluster):
    if tf.config.list_logical_devices("TPU"):
        pytest.skip("this machine has a TPU")
    with pytest.raises(UsageError, match="found no TPU.*--tpu"):
        get_strategy("tpu")


def test_batch_size_must_split_over_replicas():
    three = types.SimpleNamespace(num_replicas_in_sync=3)
    assert per_replica_batch_size(12, three) == 4
    with pytest.raises(UsageError, match="64 cannot be split evenly over the 3 replicas.*63 or 66"):
        per_replica_batch_size(64, three)
    with pytest.raises(UsageError, match="multiple of 3"):
        per_replica_batch_size(0, three)


def test_set_precision():
    expected = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    assert set_precision(True) == expected
    assert set_precision(False) == "float32"
