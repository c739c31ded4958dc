"""Pretrained word vectors (GloVe, word2vec or fastText text files) as an embedding table.

A vectors file has one word a line followed by its values, separated by spaces; word2vec
and fastText files start with a `count dimension` header line, GloVe files do not. Either
may be gzip-compressed (`.gz`). The files are read as a stream, so a file of millions of
words costs the memory of the vocabulary's rows only.

Written here because keras-hub and tensorflow-text read no word-vector files (gensim
does, but would be a dependency for one loop).

Example:

>>> import os, tempfile
>>> from zoo.text import RESERVED_TOKENS, word_vectors
>>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
>>> _ = open(path, "w").write("the 0.1 0.2\\nParis 1.0 -1.0\\nrome 0.5 0.5\\n")
>>> word_vectors.frequent_words(path, 2, vocabulary=RESERVED_TOKENS + ["the"])
['Paris', 'rome']
>>> table, found = word_vectors.embedding_table(path, RESERVED_TOKENS + ["paris", "zebra"],
...                                             lowercase=True)
>>> table.shape, found, table[len(RESERVED_TOKENS)].tolist()
((8, 2), 1, [1.0, -1.0])
"""

import gzip
import itertools

import numpy as np

from zoo.errors import UsageError
from zoo.text.special_tokens import PAD_ID, RESERVED_TOKENS


def _open(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        # A word that does not decode matches no vocabulary token: replace, do not fail.
        return opener(path, "rt", encoding="utf-8", errors="replace")
    except OSError as error:
        raise UsageError(f"Cannot read the word vectors {path}: {error.strerror or error}. "
                         "Give a GloVe or word2vec text file (optionally .gz).") from None


def read_vectors(path):
    """Yields `(word, values)` of a vectors file, `values` a float32 array.

    Args:
        path: a GloVe (no header) or word2vec/fastText (`count dimension` header) text
            file, optionally gzip-compressed.

    Raises:
        UsageError: naming the file and line of a line whose values do not parse or whose
            dimension differs from the first line's.
    """
    dimension = None
    with _open(path) as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.rstrip("\n\r ").split(" ")
            if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                dimension = int(fields[1])  # word2vec's header
                continue
            if fields == [""]:
                continue
            dimension = dimension or len(fields) - 1
            # The values are the last `dimension` fields: some GloVe words hold spaces.
            word, values = " ".join(fields[:-dimension]), fields[-dimension:]
            try:
                if not word or len(values) != dimension:
                    raise ValueError
                vector = np.asarray(values, dtype="float32")
            except ValueError:
                raise UsageError(
                    f"{path}, line {number}: expected a word and {dimension} numbers "
                    f"separated by spaces, got {line[:80].strip()!r}. Is it a GloVe or "
                    "word2vec text file (not a binary .bin)?") from None
            yield word, vector


def frequent_words(path, count, vocabulary=(), lowercase=False):
    """The first `count` words of a vectors file (the most frequent, as such files are
    sorted) that `vocabulary` lacks, skipping words with punctuation (the tokenizer splits
    those, so they never arrive whole).

    Args:
        path: the vectors file.
        count: how many words to return at most.
        vocabulary: tokens already in the vocabulary.
        lowercase: lowercase the file's words (for a lowercased vocabulary).
    """
    seen = set(vocabulary)
    words = []
    for word, _ in read_vectors(path):
        word = word.lower() if lowercase else word
        if word.isalnum() and word not in seen:
            seen.add(word)
            words.append(word)
            if len(words) == count:
                break
    return words


def embedding_table(path, vocabulary, lowercase=False, seed=0):
    """`(table, found)`: a `(len(vocabulary), dimension)` float32 embedding table whose rows
    are the file's vectors of the vocabulary's tokens, and how many tokens it found.

    A token the file lacks (and every reserved token but padding) gets a random row of the
    found vectors' spread (Kim, 2014); padding's row is zeros. With `lowercase`, a token
    takes the vector of the file's first word that lowercases to it.

    Args:
        path: the vectors file.
        vocabulary: the tokenizer's tokens, indexed by id.
        lowercase: match the file's words lowercased.
        seed: seed of the random rows.

    Raises:
        UsageError: when no token of the vocabulary is in the file.
    """
    index = {token: i for i, token in enumerate(vocabulary)
             if i >= len(RESERVED_TOKENS)}
    rows = {}
    vectors = read_vectors(path)
    first = next(vectors, None)
    if first is None:
        raise UsageError(f"The word vectors {path} hold no vector.")
    for word, vector in itertools.chain([first], vectors):
        word = word.lower() if lowercase else word
        if word in index and index[word] not in rows:
            rows[index[word]] = vector
            if len(rows) == len(index):
                break
    if not rows:
        raise UsageError(
            f"None of the vocabulary's {len(index)} words is in {path} (its first word: "
            f"{first[0]!r}). Is it the right file, and does --lowercase match its words?")
    found = np.stack(list(rows.values()))
    random = np.random.default_rng(seed)
    table = random.normal(found.mean(), found.std(), (len(vocabulary), found.shape[1]))
    table = table.astype("float32")
    table[list(rows)] = found
    table[PAD_ID] = 0.0
    return table, len(rows)
