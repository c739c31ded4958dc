"""Learning a WordPiece vocabulary from a corpus, with a progress bar."""

import sys

import keras_hub
import numpy as np
import tensorflow as tf
import tqdm

from zoo.errors import UsageError
from zoo.text.special_tokens import RESERVED_TOKENS
from zoo.text.subword_tokenizer import SubwordTokenizer

_READ_BATCH = 1024


def train_subword_tokenizer(texts, vocab_size, lowercase=False, max_texts=None,
                            progress=True):
    """Learns a WordPiece vocabulary with keras-hub and returns its `SubwordTokenizer`.

    The corpus is read once with a progress bar (keras-hub's
    `compute_word_piece_vocabulary` reports none), then handed to
    `keras_hub.tokenizers.compute_word_piece_vocabulary`. The vocabulary starts with
    `zoo.text.RESERVED_TOKENS` and holds at most `vocab_size` tokens. For a shared
    source/target vocabulary, pass both sides: `sources.concatenate(targets)`.

    Args:
        texts: a `tf.data.Dataset` of scalar `tf.string` texts.
        vocab_size: int, the largest vocabulary size (reserved tokens included).
        lowercase: bool. Whether the tokenizer lowercases text (also while learning).
        max_texts: optional int, learn from the first `max_texts` texts only.
        progress: bool. Whether to show the progress bar (on stderr).

    Example:

    >>> import tensorflow as tf
    >>> import zoo.text
    >>> texts = tf.data.Dataset.from_tensor_slices(["the 3rd of March", "3 mars 2021"])
    >>> tokenizer = zoo.text.train_subword_tokenizer(texts, vocab_size=100, progress=False)
    >>> tokenizer.vocabulary[:len(zoo.text.RESERVED_TOKENS)] == zoo.text.RESERVED_TOKENS
    True
    >>> tokenizer.detokenize(tokenizer.tokenize(["3 mars 2021"])).numpy()
    array([b'3 mars 2021'], dtype=object)
    """
    if not isinstance(texts, tf.data.Dataset):
        raise UsageError(
            "train_subword_tokenizer expects a tf.data.Dataset of strings, got "
            f"{type(texts).__name__}; wrap a list with tf.data.Dataset.from_tensor_slices."
        )
    if texts.element_spec != tf.TensorSpec((), tf.string):
        raise UsageError(
            "train_subword_tokenizer expects a dataset of scalar strings, got elements "
            f"{texts.element_spec}; map the records to their text first."
        )
    if vocab_size <= len(RESERVED_TOKENS):
        raise UsageError(f"vocab_size must exceed the {len(RESERVED_TOKENS)} reserved "
                         f"tokens, got {vocab_size}.")
    if max_texts is not None:
        texts = texts.take(max_texts)
    if lowercase:
        texts = texts.map(lambda text: tf.strings.lower(text, encoding="utf-8"))

    total = int(texts.cardinality())
    chunks = []
    with tqdm.tqdm(total=total if total >= 0 else None, unit=" texts",
                   desc="Reading the corpus for the vocabulary", disable=not progress,
                   leave=False) as bar:
        for chunk in texts.batch(_READ_BATCH).prefetch(2).as_numpy_iterator():
            chunks.append(chunk)
            bar.update(len(chunk))
    if not chunks:
        raise UsageError("Cannot learn a vocabulary from an empty corpus.")
    # Batches of texts: keras-hub pre-tokenizes and counts words element by element, and
    # one text per element makes that Python loop the slowest part by far.
    corpus = tf.data.Dataset.from_tensor_slices(np.concatenate(chunks)).batch(_READ_BATCH)
    if progress:
        tqdm.tqdm.write(f"Learning a WordPiece vocabulary of up to {vocab_size} tokens "
                        f"from {sum(map(len, chunks))} texts...", file=sys.stderr)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        corpus,
        vocabulary_size=vocab_size,
        lowercase=False,
        strip_accents=False,
        split=True,
        split_on_cjk=True,
        suffix_indicator="##",
        reserved_tokens=RESERVED_TOKENS,
    )
    # keras-hub splits words on ASCII whitespace only, so a lone no-break or other Unicode
    # space can become a "token"; a vocabulary file (one token a line) cannot hold it, and
    # the text it stands for is a word break anyway.
    vocabulary = [token for token in vocabulary if not any(c.isspace() for c in token)]
    return SubwordTokenizer(vocabulary, lowercase=lowercase)
