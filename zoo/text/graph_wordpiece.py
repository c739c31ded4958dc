"""A WordPiece tokenizer built from stock TensorFlow ops only, for exported graphs.

`zoo.text.SubwordTokenizer` tokenizes with keras-hub's `WordPieceTokenizer`, which runs
tensorflow-text kernels (`RegexSplitWithOffsets`, `FastWordpieceTokenizeWithOffsets`).
Stock TF Serving links an older tensorflow-text, so a graph holding those ops fails to
load there with "Op type not registered". `GraphWordPieceTokenizer` gives the same ids
from core ops only (`tf.strings.*`, `tf.lookup.StaticHashTable`, `tf.while_loop`), so the
exported SavedModel needs nothing but `tensorflow`.

What it reproduces, id for id (tests/export/test_graph_wordpiece.py checks it on a corpus
of accents, CJK, emoji, punctuation runs, digits, long and out-of-vocabulary words):

1. optional lowercasing with `tf.strings.lower(x, encoding="utf-8")` (what
   `SubwordTokenizer(lowercase=True)` applies before keras-hub);
2. keras-hub's pre-tokenization with `split=True, split_on_cjk=True,
   strip_accents=False`: split on RE2 `\\s`, `\\p{Cc}` and `\\p{Cf}` (dropped), and on
   ASCII non-alphanumerics, `\\p{P}` and CJK ideographs (each kept as its own word);
3. greedy longest-match-first WordPiece with `##` continuation pieces; a word that
   cannot be split, or that is longer than 100 UTF-8 bytes, becomes one `[UNK]`.

Invalid UTF-8: `tokenize` first replaces every invalid byte sequence with U+FFFD
(`sanitize_text`), so it never fails on bad bytes. keras-hub's kernels give undefined
results on such bytes, so callers that compare the two (and the exported serving
function) sanitize the text with `sanitize_text` before either tokenizer sees it. U+FFFD
is not punctuation, so a word holding it maps to `[UNK]` unless the vocabulary has it.

Duplicate vocabulary entries keep the id of their first occurrence.
"""

import tensorflow as tf

# Same patterns as keras_hub/src/tokenizers/word_piece_tokenizer.py (RE2 syntax), which
# keeps them private; copied so the split is identical.
WHITESPACE_REGEX = r"\s|\p{Cc}|\p{Cf}"
PUNCTUATION_REGEX = r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]"
CJK_REGEX = "|".join(
    [
        r"[\x{4E00}-\x{9FFF}]",
        r"[\x{3400}-\x{4DBF}]",
        r"[\x{20000}-\x{2A6DF}]",
        r"[\x{2A700}-\x{2B73F}]",
        r"[\x{2B740}-\x{2B81F}]",
        r"[\x{2B820}-\x{2CEAF}]",
        r"[\x{F900}-\x{FAFF}]",
        r"[\x{2F800}-\x{2FA1F}]",
    ]
)
# tensorflow-text's `FastWordpieceTokenizer` (and keras-hub) map longer words to [UNK].
MAX_BYTES_PER_WORD = 100


def sanitize_text(strings):
    """Replaces invalid UTF-8 with U+FFFD and strips surrounding whitespace.

    Args:
        strings: a `tf.string` tensor of any shape.

    Returns:
        A `tf.string` tensor of the same shape holding valid UTF-8 only.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.text.graph_wordpiece import sanitize_text
    >>> sanitize_text(tf.constant([b"  caf\\xff  "])).numpy()
    array([b'caf\\xef\\xbf\\xbd'], dtype=object)
    """
    strings = tf.strings.unicode_transcode(
        strings,
        input_encoding="UTF-8",
        output_encoding="UTF-8",
        errors="replace",
        replacement_char=0xFFFD,
    )
    return tf.strings.strip(strings)


class GraphWordPieceTokenizer(tf.Module):
    """`SubwordTokenizer.tokenize` from stock TensorFlow ops, for exported graphs.

    Args:
        vocabulary: a list of tokens (id = position) or the path of a vocabulary file,
            one token a line, as `SubwordTokenizer.save` writes it.
        lowercase: lowercase with `tf.strings.lower(x, encoding="utf-8")` first, as
            `SubwordTokenizer(lowercase=True)` does.
        suffix_indicator: the prefix of continuation pieces.
        oov_token: the token of words that cannot be split; must be in `vocabulary`.
        name: the `tf.Module` name.

    Example:

    >>> import tensorflow as tf
    >>> from zoo.text.graph_wordpiece import GraphWordPieceTokenizer
    >>> vocab = ["[PAD]", "[UNK]", "the", "qu", "##ick", "fox", "."]
    >>> tokenizer = GraphWordPieceTokenizer(vocab, lowercase=True)
    >>> tokenizer.tokenize(tf.constant(["The quick fox.", ""])).to_list()
    [[2, 3, 4, 5, 6], []]
    """

    def __init__(
        self,
        vocabulary,
        lowercase=False,
        suffix_indicator="##",
        oov_token="[UNK]",
        name=None,
    ):
        super().__init__(name=name)
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as file:
                vocabulary = [line.rstrip("\n") for line in file]
        vocabulary = list(vocabulary)
        if oov_token not in vocabulary:
            raise ValueError(
                f"oov_token {oov_token!r} is not in the vocabulary; add it (zoo puts "
                "'[UNK]' at id 1) or pass the vocabulary's unknown token."
            )
        token_ids = {}
        for index, token in enumerate(vocabulary):
            token_ids.setdefault(token, index)
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.suffix_indicator = suffix_indicator
        self.oov_token = oov_token
        self.oov_id = token_ids[oov_token]
        # No vocabulary piece is longer than this, so longer candidates are never looked up.
        self.max_piece_chars = max(
            len(t[len(suffix_indicator):] if t.startswith(suffix_indicator) else t)
            for t in token_ids
        )
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(token_ids), tf.string),
                tf.constant(list(token_ids.values()), tf.int64),
            ),
            default_value=-1,
        )

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def split_words(self, strings):
        """Pre-tokenizes a 1-D batch of strings into a ragged `(batch, words)` tensor."""
        strings = sanitize_text(strings)
        if self.lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        strings = tf.strings.regex_replace(strings, WHITESPACE_REGEX, " ")
        strings = tf.strings.regex_replace(
            strings, f"{PUNCTUATION_REGEX}|{CJK_REGEX}", r" \0 "
        )
        words = tf.strings.split(strings, sep=" ")
        return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)

    def tokenize(self, strings):
        """Token ids of a 1-D batch of strings: an int32 `tf.RaggedTensor` (batch, None).

        A scalar string gives a dense 1-D tensor.
        """
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize(strings[tf.newaxis])[0]
        words = self.split_words(strings)
        pieces, _, _ = self._wordpiece(words.flat_values)
        return tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(1, 2)

    def tokenize_with_offsets(self, strings):
        """Token ids and their character spans in `sanitize_text(strings)`.

        Offsets count Unicode characters (`unit="UTF8_CHAR"` of `tf.strings.substr`) in
        the sanitized text; with `lowercase=True`, in its lowercased form, which has the
        same characters except for the few letters whose lowercase is longer (İ).

        Args:
            strings: a 1-D `tf.string` batch.

        Returns:
            `(ids, starts, ends)`, ragged `(batch, None)` int32 tensors with equal row
            lengths: token `i` spans characters `starts[i]:ends[i]`; an `[UNK]` word spans
            the whole word.
        """
        text = sanitize_text(tf.convert_to_tensor(strings, tf.string))
        if self.lowercase:
            text = tf.strings.lower(text, encoding="utf-8")
        # Classify each character as keras-hub's split does: dropped, a word of its own
        # (punctuation, CJK), or part of a run of word characters.
        chars = tf.strings.unicode_split(text, "UTF-8")
        flat_chars = chars.flat_values
        is_space = tf.strings.regex_full_match(flat_chars, WHITESPACE_REGEX)
        is_single = tf.strings.regex_full_match(flat_chars, f"{PUNCTUATION_REGEX}|{CJK_REGEX}")
        is_word = ~is_space & ~is_single
        row_ids = tf.cast(chars.value_rowids(), tf.int32)
        positions = tf.range(tf.shape(flat_chars)[0]) - tf.gather(
            tf.cast(chars.row_starts(), tf.int32), row_ids)
        previous_is_word = tf.concat([[False], is_word[:-1]], 0) & (positions > 0)
        starts_word = is_single | (is_word & ~previous_is_word)
        word_ids = tf.cumsum(tf.cast(starts_word, tf.int32)) - 1
        in_word = ~is_space
        num_words = tf.reduce_sum(tf.cast(starts_word, tf.int32))
        word_start = tf.math.unsorted_segment_min(
            tf.boolean_mask(positions, in_word), tf.boolean_mask(word_ids, in_word),
            num_words)
        word_end = tf.math.unsorted_segment_max(
            tf.boolean_mask(positions, in_word), tf.boolean_mask(word_ids, in_word),
            num_words) + 1
        words_per_row = tf.math.unsorted_segment_sum(
            tf.cast(starts_word, tf.int32), row_ids, tf.cast(chars.nrows(), tf.int32))
        words = tf.RaggedTensor.from_row_lengths(
            tf.strings.substr(tf.repeat(text, words_per_row), word_start,
                              word_end - word_start, unit="UTF8_CHAR"),
            tf.cast(words_per_row, tf.int64))
        pieces, piece_starts, piece_ends = self._wordpiece(words.flat_values)
        word_start = tf.RaggedTensor.from_row_lengths(
            tf.repeat(word_start, pieces.row_lengths()), pieces.row_lengths())

        def per_row(values):
            return tf.RaggedTensor.from_row_splits(values, words.row_splits).merge_dims(1, 2)

        return (per_row(pieces), per_row(word_start + piece_starts),
                per_row(word_start + piece_ends))

    def _wordpiece(self, words):
        """Greedy longest-match-first WordPiece over a 1-D tensor of words, vectorized.

        Each loop step advances every unfinished word by its longest vocabulary piece,
        looking up all `max_piece_chars` candidate lengths at once.

        Returns:
            `(ids, starts, ends)`, ragged `(words, pieces)` int32: each piece's id and its
            character span in its word.
        """
        num_words = tf.shape(words)[0]
        num_chars = tf.strings.length(words, unit="UTF8_CHAR")
        too_long = tf.strings.length(words) > MAX_BYTES_PER_WORD
        max_chars = tf.maximum(tf.reduce_max(tf.concat([num_chars, [1]], 0)), 1)
        lengths = tf.range(1, self.max_piece_chars + 1)
        columns = tf.range(max_chars)
        tiled_words = tf.tile(words[:, tf.newaxis], [1, self.max_piece_chars])

        def step(i, start, active, failed, pieces, starts, ends):
            candidates = tf.strings.substr(
                tiled_words,
                tf.broadcast_to(start[:, tf.newaxis], tf.shape(tiled_words)),
                tf.broadcast_to(lengths[tf.newaxis, :], tf.shape(tiled_words)),
                unit="UTF8_CHAR",
            )
            candidates = tf.where(
                start[:, tf.newaxis] > 0, self.suffix_indicator + candidates, candidates
            )
            ids = tf.cast(self.table.lookup(candidates), tf.int32)
            fits = lengths[tf.newaxis, :] <= (num_chars - start)[:, tf.newaxis]
            found = (ids >= 0) & fits
            best_length = tf.reduce_max(tf.where(found, lengths, 0), axis=1)
            best_id = tf.reduce_max(
                tf.where(found & (lengths == best_length[:, tf.newaxis]), ids, -1), axis=1
            )
            matched = active & (best_length > 0)
            failed = failed | (active & (best_length == 0))
            here = (columns[tf.newaxis, :] == i) & matched[:, tf.newaxis]
            pieces = tf.where(here, best_id[:, tf.newaxis], pieces)
            starts = tf.where(here, start[:, tf.newaxis], starts)
            start = start + tf.where(matched, best_length, 0)
            ends = tf.where(here, start[:, tf.newaxis], ends)
            return (i + 1, start, matched & (start < num_chars), failed, pieces, starts,
                    ends)

        _, _, _, failed, pieces, starts, ends = tf.while_loop(
            lambda i, start, active, *_: tf.reduce_any(active),
            step,
            (
                tf.constant(0),
                tf.zeros([num_words], tf.int32),
                ~too_long & (num_chars > 0),
                too_long,
                tf.fill([num_words, max_chars], -1),
                tf.zeros([num_words, max_chars], tf.int32),
                tf.zeros([num_words, max_chars], tf.int32),
            ),
        )
        first = columns[tf.newaxis, :] == 0
        failed = failed[:, tf.newaxis]
        pieces = tf.where(failed, tf.where(first, self.oov_id, -1), pieces)
        starts = tf.where(failed, 0, starts)
        ends = tf.where(failed, num_chars[:, tf.newaxis], ends)
        lengths = tf.reduce_sum(tf.cast(pieces >= 0, tf.int32), axis=1)
        return (tf.RaggedTensor.from_tensor(pieces, lengths=lengths),
                tf.RaggedTensor.from_tensor(starts, lengths=lengths),
                tf.RaggedTensor.from_tensor(ends, lengths=lengths))
