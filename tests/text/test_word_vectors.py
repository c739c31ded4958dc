"""`zoo.text.word_vectors`: GloVe and word2vec text files as an embedding table."""

import gzip

import numpy as np
import pytest

from zoo.errors import UsageError
from zoo.text import PAD_ID, RESERVED_TOKENS, word_vectors

GLOVE = "the 0.1 0.2 0.3\nParis 1 2 3\nparis 4 5 6\nu.s. 7 8 9\n. . . 1 1 1\nrome -1 -2 -3\n"
VOCABULARY = RESERVED_TOKENS + ["paris", "rome", "zebra"]


def write(tmp_path, name, text):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as file:
            file.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_glove_rows_land_on_their_tokens_and_the_rest_start_random(tmp_path):
    path = write(tmp_path, "glove.txt", GLOVE)
    table, found = word_vectors.embedding_table(path, VOCABULARY, lowercase=True)
    first = len(RESERVED_TOKENS)
    assert table.shape == (len(VOCABULARY), 3) and table.dtype == np.float32
    assert found == 2
    # lowercased, "Paris" (the file's first, most frequent spelling) wins over "paris"
    np.testing.assert_array_equal(table[first], [1, 2, 3])
    np.testing.assert_array_equal(table[first + 1], [-1, -2, -3])
    np.testing.assert_array_equal(table[PAD_ID], [0, 0, 0])
    assert np.abs(table[first + 2]).sum() > 0  # zebra: random, not zeros
    cased, found = word_vectors.embedding_table(path, VOCABULARY)
    np.testing.assert_array_equal(cased[first], [4, 5, 6])


def test_word2vec_header_gzip_and_words_with_spaces(tmp_path):
    path = write(tmp_path, "vectors.txt.gz", "3 2\nrome 1 2\nnew york 3 4\nzebra 5 6\n")
    table, found = word_vectors.embedding_table(path, VOCABULARY)
    assert found == 2 and table.shape == (len(VOCABULARY), 2)
    np.testing.assert_array_equal(table[-1], [5, 6])
    assert [word for word, _ in word_vectors.read_vectors(path)] == [
        "rome", "new york", "zebra"]


def test_frequent_words_skip_known_words_and_punctuation(tmp_path):
    path = write(tmp_path, "glove.txt", GLOVE)
    assert word_vectors.frequent_words(path, 10, VOCABULARY, lowercase=True) == ["the"]
    assert word_vectors.frequent_words(path, 2) == ["the", "Paris"]
    assert word_vectors.frequent_words(path, 10, lowercase=True) == ["the", "paris", "rome"]


def test_bad_files_are_explained(tmp_path):
    ragged = write(tmp_path, "ragged.txt", "rome 1 2\nparis 1\n")
    with pytest.raises(UsageError, match=r"ragged.txt, line 2: expected a word and 2"):
        word_vectors.embedding_table(ragged, VOCABULARY)
    text = write(tmp_path, "text.txt", "rome 1 two\n")
    with pytest.raises(UsageError, match="line 1"):
        word_vectors.embedding_table(text, VOCABULARY)
    unrelated = write(tmp_path, "other.txt", "chat 1 2\nchien 3 4\n")
    with pytest.raises(UsageError, match="None of the vocabulary's 3 words.*'chat'"):
        word_vectors.embedding_table(unrelated, VOCABULARY)
    with pytest.raises(UsageError, match="hold no vector"):
        word_vectors.embedding_table(write(tmp_path, "empty.txt", ""), VOCABULARY)
    with pytest.raises(UsageError, match="Cannot read the word vectors"):
        word_vectors.embedding_table(tmp_path / "missing.txt", VOCABULARY)
