"""Learning a WordPiece vocabulary from a corpus, with a progress bar."""

import sys

import numpy as np
import tensorflow as tf
import tqdm
from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize
from tensorflow_text.tools.wordpiece_vocab import (
    wordpiece_tokenizer_learner_lib as wordpiece_learner,
)

from zoo.errors import UsageError
from zoo.text.special_tokens import RESERVED_TOKENS
from zoo.text.subword_tokenizer import SubwordTokenizer

_READ_BATCH = 1024


def train_subword_tokenizer(texts, vocab_size, lowercase=False, max_texts=None,
                            progress=True, min_count=10, whole_words=False):
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
        min_count: int, the fewest occurrences of a word or piece that may enter the
            vocabulary (keras-hub's fixed 10 by default; lower it for small corpora).
        whole_words: learn a vocabulary of the `vocab_size - len(RESERVED_TOKENS)` most
            frequent whole words (at least `min_count` times) and no `##` pieces, so a word
            outside it becomes `[UNK]` instead of fragments: on a small corpus full of
            names (TREC's questions) fragments of unseen words mislead a classifier.

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
    # keras-hub's `compute_word_piece_vocabulary` (these same steps) fixes tensorflow-text's
    # `lower_thresh` at 10: a small corpus then gets far fewer pieces than asked for (TREC's
    # 5,452 questions: ~1,000 of 4,000), its rarer words cut into fragments.
    words = corpus.map(lambda text: pretokenize(text, False, False, True, True),
                       num_parallel_calls=tf.data.AUTOTUNE)
    counts = wordpiece_learner.count_words(words)
    if whole_words:
        frequent = sorted((word for word, count in counts.items() if count >= min_count),
                          key=lambda word: (-counts[word], word))  # most frequent first
        vocabulary = (RESERVED_TOKENS + frequent)[:vocab_size]
    else:
        vocabulary = wordpiece_learner.learn(
            counts, vocab_size=vocab_size, reserved_tokens=RESERVED_TOKENS,
            lower_thresh=min_count, include_joiner_token=True, joiner="##")[:vocab_size]
    # keras-hub splits words on ASCII whitespace only, so a lone no-break or other Unicode
    # space can become a "token"; a vocabulary file (one token a line) cannot hold it, and
    # the text it stands for is a word break anyway.
    vocabulary = [token for token in vocabulary if not any(c.isspace() for c in token)]
    return SubwordTokenizer(vocabulary, lowercase=lowercase)
