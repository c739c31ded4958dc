"""A small tokenizer trained once on all four demo corpora, shared by the data tests."""

import pytest
import tensorflow as tf

from zoo.data import demo
from zoo.text import train_subword_tokenizer


@pytest.fixture(scope="session")
def demo_tokenizer():
    texts = []
    for task, fields in (("nmt", ("source", "target")), ("summarization", ("source", "target")),
                         ("classification", ("text",)), ("qa", ("question", "context"))):
        records = demo.SPLITS_BY_TASK[task](seed=0, train_size=200, validation_size=1,
                                            test_size=1)["train"]
        texts += [record[field] for record in records for field in fields]
    return train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(texts),
                                   vocab_size=700, progress=False)
