"""Attention layers in `keras.ops` only: they run under the tensorflow, jax and torch backends.

Example:

>>> import numpy as np
>>> import zoo
>>> layer = zoo.layers.MultiHeadAttention(num_heads=2, key_dim=4)
>>> x = np.zeros((1, 3, 8), "float32")
>>> tuple(layer(x, x).shape)
(1, 3, 8)
"""

from zoo.layers.attention import AdditiveAttention, DotProductAttention
from zoo.layers.dropout import Dropout
from zoo.layers.embedding import TokenAndPositionEmbedding
from zoo.layers.multi_head_attention import MultiHeadAttention
from zoo.layers.pooling import AttentionPooling
from zoo.layers.position import LearnedPositionEmbedding, SinusoidalPositionEncoding
from zoo.layers.transformer import (
    TransformerDecoderBlock,
    TransformerEncoder,
    TransformerEncoderBlock,
)

__all__ = [
    "AdditiveAttention",
    "AttentionPooling",
    "DotProductAttention",
    "Dropout",
    "LearnedPositionEmbedding",
    "MultiHeadAttention",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoder",
    "TransformerEncoderBlock",
]
