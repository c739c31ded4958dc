"""The `tf.distribute` training engine: strategies, precision, schedules, losses, `train`.

Example:

>>> import zoo.training
>>> strategy = zoo.training.get_strategy("auto")
>>> loss = zoo.training.masked_sparse_crossentropy(label_smoothing=0.1)
"""

from zoo.training.averaging import average_checkpoints
from zoo.training.callbacks import (
    BestCheckpoint,
    DivergenceGuard,
    EpochEvaluation,
    EpochSnapshots,
    LastCheckpoint,
    ScalarSummaries,
    Throughput,
    TrainingDiverged,
    snapshot_paths,
)
from zoo.training.losses import (
    MaskedAccuracy,
    MaskedSparseCrossentropy,
    TokenCount,
    count_nonpad_tokens,
    masked_accuracy,
    masked_sparse_crossentropy,
)
from zoo.training.precision import set_precision
from zoo.training.schedules import TransformerSchedule, build_optimizer
from zoo.training.strategy import (
    STRATEGY_NAMES,
    get_strategy,
    is_chief,
    num_workers,
    per_replica_batch_size,
    worker_index,
)
from zoo.training.trainer import train

__all__ = [
    "BestCheckpoint",
    "DivergenceGuard",
    "EpochEvaluation",
    "EpochSnapshots",
    "LastCheckpoint",
    "ScalarSummaries",
    "Throughput",
    "TrainingDiverged",
    "MaskedAccuracy",
    "MaskedSparseCrossentropy",
    "STRATEGY_NAMES",
    "TokenCount",
    "TransformerSchedule",
    "average_checkpoints",
    "build_optimizer",
    "count_nonpad_tokens",
    "get_strategy",
    "is_chief",
    "masked_accuracy",
    "masked_sparse_crossentropy",
    "num_workers",
    "per_replica_batch_size",
    "set_precision",
    "snapshot_paths",
    "train",
    "worker_index",
]
