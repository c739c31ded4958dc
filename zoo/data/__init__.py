"""Data for the recipes: record sources (demo, TFDS, files) and `tf.data` pipelines.

Example:

>>> import zoo.data, zoo.text
>>> splits = zoo.data.load_splits("nmt", sizes={"train": 200})  # the offline demo corpus
>>> tokenizer = zoo.text.train_subword_tokenizer(
...     zoo.data.record_texts(splits.train, ("source", "target")), vocab_size=300,
...     progress=False)
>>> batches = zoo.data.seq2seq_batches(splits.train, tokenizer, tokenizer, batch_size=64,
...                                    max_source_length=24, max_target_length=12,
...                                    shuffle=True, repeat=True)
>>> zoo.data.padding_fraction(batches) < 0.2
True
"""

from zoo.data import demo
from zoo.data.pipelines import (
    classification_batches,
    padding_fraction,
    seq2seq_batches,
    span_qa_batches,
)
from zoo.data.qa_source import generative_qa_batches, qa_source_ids
from zoo.data.splits import TASKS, Splits, load_splits, record_texts

__all__ = [
    "TASKS",
    "Splits",
    "load_splits",
    "record_texts",
    "seq2seq_batches",
    "classification_batches",
    "span_qa_batches",
    "generative_qa_batches",
    "qa_source_ids",
    "padding_fraction",
    "demo",
]
