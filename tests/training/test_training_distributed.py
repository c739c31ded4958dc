"""The engine under real strategies: multi-worker, mirrored, and a SIGKILLed run resuming.

Each test starts `train_worker.py` in fresh processes (a strategy shapes the whole
process), training the tiny `transformer_tiny` NMT model for a few steps.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from weights_files import h5_arrays

WORKER = pathlib.Path(__file__).with_name("train_worker.py")
TIMEOUT = 240

pytestmark = pytest.mark.distributed


def start(*args, env=None):
    environment = {name: value for name, value in os.environ.items() if name != "TF_CONFIG"}
    environment.update(env or {})
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process):
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"worker timed out:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]
    return output


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_training_ends_with_identical_weights(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(start(
            f"--model_dir={tmp_path}", "--strategy=multi_worker",
            f"--results={tmp_path / f'results_{index}.json'}",
            f"--weights={tmp_path / f'worker_{index}.weights.h5'}", "--steps=2", "--epochs=2",
            env={"TF_CONFIG": config}))
    for process in processes:
        finish(process)

    results = [json.loads((tmp_path / f"results_{i}.json").read_text()) for i in range(2)]
    assert [r["num_replicas"] for r in results] == [2, 2]
    # The global batch of 8 is split: each worker's replica trains on 4 examples a step.
    assert results[0]["history"]["replica_batch_size"] == [4.0, 4.0]
    # Losses are all-reduced, so every worker sees (and guards against) the same values.
    assert results[0]["history"]["loss"] == results[1]["history"]["loss"]
    # Only the chief evaluates; the monitored metric reaches the other worker.
    assert results[0]["history"]["score"] == results[1]["history"]["score"] == [1.0, 2.0]
    first, second = (h5_arrays(tmp_path / f"worker_{i}.weights.h5") for i in range(2))
    assert first.keys() == second.keys() and len(first) > 10
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    # One backup directory per worker, removed when training finished; chief-only files.
    assert not (tmp_path / "run" / "backup").exists() or not any(
        (tmp_path / "run" / "backup").iterdir())
    assert (tmp_path / "run" / "best.weights.h5").exists()


def test_mirrored_over_two_cpus_matches_one_device(tmp_path):
    finish(start(f"--model_dir={tmp_path}", "--strategy=mirrored", "--logical_cpus=2",
                 "--compare_one_device", f"--results={tmp_path / 'results.json'}",
                 "--steps=2", "--epochs=2"))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["num_replicas"] == 2
    mirrored, one = results["history"], results["one_device"]
    assert mirrored["replica_batch_size"] == [4.0, 4.0]
    assert one["replica_batch_size"] == [8.0, 8.0]
    np.testing.assert_allclose(mirrored["loss"], one["loss"], rtol=1e-5)
    assert "7 cannot be split evenly over the 2 replicas" in results["odd_batch_size_error"]
    assert results["max_weight_difference"] < 1e-4  # Adam amplifies float rounding a little


def test_sigkilled_run_resumes_from_its_last_backup(tmp_path):
    command = [f"--model_dir={tmp_path}", "--strategy=default", "--steps=3", "--epochs=3",
               "--sleep=0.3", f"--results={tmp_path / 'results.json'}"]
    backup = tmp_path / "run" / "backup" / "training_metadata.json"
    process = start(*command)
    deadline = time.monotonic() + TIMEOUT
    while not backup.exists():
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "no backup was written"
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "results.json").exists()
    backed_up_epochs = json.loads(backup.read_text())["epoch"]
    assert 1 <= backed_up_epochs < 3

    output = finish(start(*command))
    history = json.loads((tmp_path / "results.json").read_text())["history"]
    assert history["epoch"] == list(range(backed_up_epochs + 1, 4)), output[-2000:]
    assert f"Epoch {backed_up_epochs + 1}/3" in output and "Epoch 1/3" not in output
    assert not (tmp_path / "run" / "backup").exists()
