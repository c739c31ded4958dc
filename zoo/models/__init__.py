"""Attention models, each a `keras.Model` subclass, built by name from a registry.

Example:

>>> import zoo.models
>>> model = zoo.models.build("lstm_bahdanau", source_vocab_size=50, target_vocab_size=50)
>>> type(model).__name__
'LSTMAttentionSeq2Seq'
"""

from zoo.models.registry import Preset, build, get, names, register
from zoo.models.transformer import Transformer
from zoo.models.lstm_attention import LSTMAttentionSeq2Seq
from zoo.models.classifiers import (
    ConvAttentionClassifier,
    LSTMAttentionClassifier,
    TransformerClassifier,
)
from zoo.models.span_qa import BiDAFSpanQA, TransformerSpanQA, best_span
from zoo.models.pointer_generator import LSTMPointerGenerator, TransformerPointerGenerator
from zoo.models.memory_network import MemoryNetworkSeq2Seq

__all__ = ["Preset", "build", "get", "names", "register", "Transformer", "LSTMAttentionSeq2Seq",
           "ConvAttentionClassifier", "LSTMAttentionClassifier",
           "TransformerClassifier", "BiDAFSpanQA",
           "TransformerSpanQA", "best_span", "LSTMPointerGenerator",
           "TransformerPointerGenerator", "MemoryNetworkSeq2Seq"]
