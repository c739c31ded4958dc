"""`SubwordTokenizer`: keras-hub WordPiece with the project's reserved ids and a graph-safe
detokenizer."""

import os

import keras_hub
import tensorflow as tf

from zoo.errors import UsageError
from zoo.text.special_tokens import CONTROL_IDS, EOS_ID, RESERVED_TOKENS, UNK_ID

# Detokenization rules, applied in order to the space-joined tokens (RE2 syntax: no
# look-around, so a rule whose matches can overlap, like "3 - 5 - 7", runs twice).
# WordPiece splits every punctuation mark into its own token and forgets the spaces,
# so these rules restore the usual spacing of written text.
DETOKENIZE_RULES = (
    (r"(^| )##", ""),  # continuation pieces join the piece before them (or lead)
    (r" ([.,!?;:%)\]}»…])", r"\1"),  # no space before closing punctuation
    (r"([(\[{«¿¡]) ", r"\1"),  # no space after opening brackets
    (r"(^| )' (\pN\pN)\b", r"\1'\2"),  # March 3rd '21 (before the joiner rule below)
    (r"([\pL\pN]) ([-/'’]) ([\pL\pN])", r"\1\2\3"),  # 2021-03-03, 03/03/21, don't
    (r"([\pL\pN]) ([-/'’]) ([\pL\pN])", r"\1\2\3"),
    (r"(\pN)([.:]) (\pN)", r"\1\2\3"),  # 03.03.2021, 12:30, 3.5
    (r"(\pN)([.:]) (\pN)", r"\1\2\3"),
    (r"(\pN), (\pN\pN\pN)\b", r"\1,\2"),  # 20,000
    (r"([$€£¥]) (\pN)", r"\1\2"),  # $5
)


def _check_vocabulary(vocabulary, source):
    if not vocabulary:
        raise UsageError(f"The vocabulary {source} is empty; train one with "
                         "`zoo.text.train_subword_tokenizer` or pass a vocabulary file.")
    head = list(vocabulary[: len(RESERVED_TOKENS)])
    if head != RESERVED_TOKENS:
        raise UsageError(
            f"The vocabulary {source} must start with the reserved tokens {RESERVED_TOKENS} "
            f"(ids 0-{len(RESERVED_TOKENS) - 1}, id 0 is padding) but starts with {head}. "
            "Train a vocabulary with `zoo.text.train_subword_tokenizer`, or put these "
            "tokens first in your vocabulary file."
        )
    seen = {}
    for index, token in enumerate(vocabulary):
        if not isinstance(token, str) or not token or token != token.strip() or (
            len(token.split()) != 1
        ):
            raise UsageError(
                f"The vocabulary {source} has an invalid token {token!r} at id {index} "
                "(tokens are non-empty strings without whitespace, one per line)."
            )
        if token in seen:
            raise UsageError(
                f"The vocabulary {source} lists {token!r} twice (ids {seen[token]} and "
                f"{index}); remove the duplicate."
            )
        seen[token] = index


class SubwordTokenizer:
    """A WordPiece tokenizer whose vocabulary starts with the project's reserved tokens.

    Tokenization is keras-hub's `WordPieceTokenizer` (`split=True`, `split_on_cjk=True`,
    `strip_accents=False`, `##` continuation pieces, `[UNK]` for unknown words), so it runs
    in-graph inside `tf.data`. With `lowercase=True` the text is lowercased first with
    `tf.strings.lower(x, encoding="utf-8")` (no accent stripping or other Unicode
    normalisation).

    `detokenize` is written with stock TensorFlow ops only (gather, reduce_join,
    regex_replace), so exported serving graphs can reuse it. Round trips are exact up to
    this normalisation: whitespace runs become one space; punctuation gets the usual
    spacing (no space before `. , ! ? ; : % ) ]`, none after `( [`; `-`, `/` and `'` between
    letters or digits and `.`/`:` between digits are joined to both neighbours; see
    `DETOKENIZE_RULES`); words the vocabulary cannot spell come back as `[UNK]`.

    Args:
        vocabulary: list of tokens; it must start with `zoo.text.RESERVED_TOKENS`.
        lowercase: bool. Whether to lowercase text before tokenizing.

    Example:

    >>> import zoo.text
    >>> vocab = zoo.text.RESERVED_TOKENS + ["march", "3", "##rd", ",", "2021"]
    >>> tokenizer = zoo.text.SubwordTokenizer(vocab, lowercase=True)
    >>> ids = tokenizer.tokenize(["March 3rd, 2021"])
    >>> ids.to_list()
    [[6, 7, 8, 9, 10]]
    >>> tokenizer.detokenize(ids).numpy()
    array([b'march 3rd, 2021'], dtype=object)
    """

    def __init__(self, vocabulary, lowercase=False):
        vocabulary = list(vocabulary)
        _check_vocabulary(vocabulary, "given to SubwordTokenizer")
        self._vocabulary = vocabulary
        self.lowercase = bool(lowercase)
        self._wordpiece = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=vocabulary,
            lowercase=False,
            strip_accents=False,
            split=True,
            split_on_cjk=True,
            suffix_indicator="##",
            oov_token="[UNK]",
        )
        # Eagerly, keras-hub runs a pure-Python twin and returns Python lists; inside a
        # graph it runs the tensorflow-text kernels and returns tensors, as wanted here.
        self._tokenize_in_graph = tf.function(
            self._wordpiece.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])

    @property
    def vocabulary(self):
        """The tokens, indexed by id (a new list)."""
        return list(self._vocabulary)

    @property
    def vocabulary_size(self):
        return len(self._vocabulary)

    @property
    def keras_hub_tokenizer(self):
        """The wrapped `keras_hub.tokenizers.WordPieceTokenizer` (it does not lowercase)."""
        return self._wordpiece

    def tokenize(self, strings):
        """Splits text into subword ids.

        Args:
            strings: a string, a list of strings or a `tf.string` tensor.

        Returns:
            For a batch (1-D input), a `tf.RaggedTensor` of int32 ids `(batch, None)`;
            for a single string, a 1-D int32 tensor. No BOS/EOS are added.
        """
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if self.lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        if strings.shape.rank == 0:
            return self._tokenize_in_graph(strings[tf.newaxis])[0]
        if strings.shape.rank != 1:
            raise ValueError(f"tokenize expects a string or a 1-D batch of strings, got "
                             f"shape {strings.shape}")
        return self._tokenize_in_graph(strings)

    __call__ = tokenize

    def detokenize(self, ids):
        """Turns ids back into text.

        Ids 0 (pad), 2 (BOS), 3 (EOS), 4 (CLS) and 5 (SEP) are dropped, and so is
        everything after the first EOS; ids outside the vocabulary read as `[UNK]`.

        Args:
            ids: int ids `(batch, T)` (dense and 0-padded, or ragged) or `(T,)`.

        Returns:
            A `tf.string` tensor `(batch,)`, or a scalar for a 1-D input.
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=0)
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int32)
        vocabulary = tf.constant(self._vocabulary, dtype=tf.string)
        in_vocabulary = (ids >= 0) & (ids < len(self._vocabulary))
        tokens = tf.gather(vocabulary, tf.where(in_vocabulary, ids, UNK_ID))
        before_first_eos = tf.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=-1,
                                     exclusive=True) == 0
        keep = before_first_eos
        for control_id in CONTROL_IDS:
            keep &= ids != control_id
        text = tf.strings.reduce_join(tf.where(keep, tokens, ""), axis=-1, separator=" ")
        text = tf.strings.strip(tf.strings.regex_replace(text, " +", " "))
        for pattern, rewrite in DETOKENIZE_RULES:
            text = tf.strings.regex_replace(text, pattern, rewrite)
        return text

    def id_to_token(self, token_id):
        return self._vocabulary[token_id]

    def token_to_id(self, token):
        return self._vocabulary.index(token)

    def save(self, path):
        """Writes the vocabulary to `path`, one token a line (UTF-8)."""
        directory = os.path.dirname(os.fspath(path))
        if directory:
            tf.io.gfile.makedirs(directory)
        with tf.io.gfile.GFile(os.fspath(path), "w") as file:
            file.write("".join(token + "\n" for token in self._vocabulary))

    @classmethod
    def load(cls, path, lowercase=False):
        """Reads a vocabulary file written by `save` (one token a line, UTF-8).

        Args:
            path: the vocabulary file.
            lowercase: bool, as in the constructor (it is not stored in the file).
        """
        path = os.fspath(path)
        if not tf.io.gfile.exists(path):
            raise UsageError(f"Vocabulary file {path} does not exist; check the path, or "
                             "train a vocabulary first (it is saved in --model_dir).")
        with tf.io.gfile.GFile(path, "rb") as file:
            data = file.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise UsageError(f"Vocabulary file {path}, line {line}: invalid UTF-8; "
                             "vocabulary files are UTF-8, one token a line.") from None
        vocabulary = [line.rstrip("\r") for line in text.split("\n")]
        if vocabulary and vocabulary[-1] == "":
            vocabulary.pop()
        _check_vocabulary(vocabulary, f"file {path}")
        return cls(vocabulary, lowercase=lowercase)

    def __repr__(self):
        return (f"SubwordTokenizer(vocabulary_size={self.vocabulary_size}, "
                f"lowercase={self.lowercase})")
