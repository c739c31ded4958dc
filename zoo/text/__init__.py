"""Subword tokenizers: keras-hub WordPiece with the project's reserved ids (TensorFlow).

`zoo.text.graph_wordpiece` (a stock-ops twin of `SubwordTokenizer.tokenize` for exported
graphs) is imported on its own, as `zoo.text.graph_wordpiece`.

Example:

>>> import os, tempfile
>>> import tensorflow as tf
>>> import zoo.text
>>> texts = tf.data.Dataset.from_tensor_slices(["3 mars 2021", "March 3rd, 2021"])
>>> tokenizer = zoo.text.train_subword_tokenizer(texts, vocab_size=200, progress=False)
>>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> tokenizer.save(path)
>>> zoo.text.SubwordTokenizer.load(path).vocabulary == tokenizer.vocabulary
True
"""

from zoo.text.special_tokens import (
    BOS_ID,
    CLS_ID,
    EOS_ID,
    PAD_ID,
    RESERVED_TOKENS,
    SEP_ID,
    UNK_ID,
)
from zoo.text.subword_tokenizer import SubwordTokenizer
from zoo.text.vocabulary_training import train_subword_tokenizer

__all__ = [
    "PAD_ID",
    "UNK_ID",
    "BOS_ID",
    "EOS_ID",
    "CLS_ID",
    "SEP_ID",
    "RESERVED_TOKENS",
    "SubwordTokenizer",
    "train_subword_tokenizer",
]
