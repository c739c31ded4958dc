"""Picks a `tf.distribute` strategy by name and checks batch sizes against it."""

import json
import os

import tensorflow as tf

from zoo.errors import UsageError

STRATEGY_NAMES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


def get_strategy(name="auto", tpu=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    `"auto"` picks a TPU when one is configured (`tpu`, `$TPU_NAME`, or a TPU VM), then
    multi-worker when `$TF_CONFIG` names a cluster of several tasks, then mirrored over
    all GPUs when there are several, and the default strategy otherwise. Create the
    strategy at the start of the program: `MultiWorkerMirroredStrategy` and TPUs must be
    set up before TensorFlow runs any op.

    Args:
        name: one of `"auto"`, `"default"`, `"one_device"`, `"mirrored"`,
            `"multi_worker"`, `"tpu"`.
        tpu: TPU name or address (`"local"` on a TPU VM) for the `"tpu"` strategy.

    Raises:
        UsageError: for an unknown name or a strategy this machine cannot run.

    Example:

    >>> from zoo.training import get_strategy
    >>> strategy = get_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
    """
    if name not in STRATEGY_NAMES:
        raise UsageError(
            f"Unknown strategy {name!r}. Pass --strategy as one of: {', '.join(STRATEGY_NAMES)}."
        )
    if name == "auto":
        name = _auto_strategy_name(tpu)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)


def per_replica_batch_size(global_batch_size, strategy):
    """The batch size each replica sees when `strategy` splits `global_batch_size`.

    Args:
        global_batch_size: the batch size summed over all replicas.
        strategy: a `tf.distribute.Strategy`.

    Raises:
        UsageError: if the global batch size is not a positive multiple of the number of
            replicas.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.training import per_replica_batch_size
    >>> per_replica_batch_size(64, tf.distribute.get_strategy())
    64
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size <= 0 or global_batch_size % replicas:
        lower = max(replicas, global_batch_size // replicas * replicas)
        raise UsageError(
            f"The global batch size {global_batch_size} cannot be split evenly over the "
            f"{replicas} replicas of {type(strategy).__name__}. Pass a --batch_size that is "
            f"a multiple of {replicas} (for example {lower} or {lower + replicas})."
        )
    return global_batch_size // replicas


def is_chief(strategy):
    """Whether this process writes the run's shared files (checkpoints, summaries).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.training import is_chief
    >>> is_chief(tf.distribute.get_strategy())
    True
    """
    return bool(getattr(strategy.extended, "should_checkpoint", True))


def worker_index(strategy):
    """This worker's index in the cluster: 0 for the chief and single-worker strategies.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.training import worker_index
    >>> worker_index(tf.distribute.get_strategy())
    0
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0
    if resolver.task_type == "chief":
        return 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return int(resolver.task_id) + int(has_chief)


def num_workers(strategy):
    """How many worker processes train together (1 outside multi-worker training).

    Example:

    >>> import tensorflow as tf
    >>> from zoo.training import num_workers
    >>> num_workers(tf.distribute.get_strategy())
    1
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    cluster = resolver.cluster_spec().as_dict()
    return sum(len(cluster.get(kind, ())) for kind in ("chief", "worker"))


def _auto_strategy_name(tpu):
    if tpu or os.environ.get("TPU_NAME") or os.path.exists("/dev/accel0"):
        return "tpu"
    if _cluster_size() > 1:
        return "multi_worker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _cluster_size():
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
    except json.JSONDecodeError:
        return 0
    return sum(len(cluster.get(kind, ())) for kind in ("chief", "worker"))


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UsageError(
            "The multi_worker strategy needs the TF_CONFIG environment variable, which "
            "describes the cluster and this worker's place in it, for example "
            'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\'. Set it on every worker, or use '
            "--strategy=mirrored (or auto) to train on one machine."
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"TF_CONFIG is not valid JSON ({error}). It should look like "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}.'
        ) from None
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    kind, index = task.get("type"), task.get("index")
    if not cluster.get("worker") and not cluster.get("chief"):
        raise UsageError(
            "TF_CONFIG names no workers: its 'cluster' needs a 'worker' (or 'chief') list of "
            "host:port addresses, one per training process."
        )
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise UsageError(
            f"TF_CONFIG's task {task!r} is not in its cluster {sorted(cluster)}: set "
            '"task": {"type": "worker", "index": i} with i the position of this process\'s '
            "address in the cluster's worker list."
        )


def _tpu_strategy(tpu):
    if tpu is None:
        tpu = os.environ.get("TPU_NAME") or ("local" if os.path.exists("/dev/accel0") else None)
    if tpu is None:
        raise UsageError(
            "The tpu strategy found no TPU: pass --tpu=NAME (or 'local' on a TPU VM) or set "
            "TPU_NAME, or use --strategy=auto to train on the CPUs or GPUs of this machine."
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as error:
        raise UsageError(
            f"Could not connect to the TPU {tpu!r} ({error}). Check the TPU name and that "
            "this machine can reach it, or use --strategy=auto."
        ) from None
    return tf.distribute.TPUStrategy(resolver)
