"""`GraphWordPieceTokenizer` gives keras-hub's ids, id for id, from stock TF ops only."""

import keras_hub
import pytest
import tensorflow as tf

from zoo.text.graph_wordpiece import GraphWordPieceTokenizer, sanitize_text
from zoo.text.special_tokens import RESERVED_TOKENS

# Text the vocabulary is learned from: frequent enough pieces for multi-character tokens.
TRAINING_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Über größere Häuser, l'été français à Noël! Straße, Ærø, señor.",
    "東京は日本の首都です。北京是中国的首都。",
    "Translation, translations, translated; translating: translator's notes.",
    "Numbers 12345, 3.14159 and 1,000,000 (approx.) -- see p. 42!",
    "Don't can't won't; it's the user's café, naïve résumé.",
] * 3

# Everything the equivalence must hold on: accents, CJK, emoji, punctuation runs, digits,
# long and unknown words, control and format characters, odd whitespace, invalid UTF-8.
TEST_TEXTS = TRAINING_TEXTS[:6] + [
    "emoji 😀🎉 test 👩‍👩‍👧 flags 🇩🇪",
    "punctuation!!!...??? --- ((nested)) [brackets] {braces} <angle> @#$%^&*_=+|\\~`",
    "a" * 101,
    "b" * 100,
    "é" * 51,
    "translationstranslationstranslations",
    "supercalifragilisticexpialidocious unknownword ✈ ♞ ∑ ☃",
    "tabs\tand\nnewlines\r\x0bvertical\x0cfeed\x7fdel",
    "nb\u00a0sp ideographic\u3000space zero\u200bwidth soft\u00adhyphen",
    "",
    "   ",
    "Mixed 中文 and English, 日本語のテキスト, 한국어 텍스트 ok?",
    "Ελληνικά και русский текст, עברית, العربية",
    "combining e\u0301 vs é, ﬁ ligature, Ｆｕｌｌｗｉｄｔｈ",
    "$100 ^caret `tick` ~tilde «guillemets» „Anführungszeichen“ — dash – en",
    "mathematical 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and private \ue000 and replacement \ufffd",
    "DIGITS0123456789 mixed4numbers5and6letters",
]
INVALID_UTF8 = [b"bad \xff\xfe bytes", b"caf\xc3", b"\x80 leading continuation", b"ok \xed\xa0\x80"]


@pytest.fixture(scope="module")
def vocabulary():
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(TRAINING_TEXTS),
        vocabulary_size=400,
        reserved_tokens=RESERVED_TOKENS,
        lowercase=False,
        strip_accents=False,
    )
    # A long whole-word piece, a piece with punctuation inside (never matched: split
    # first), and a continuation-only piece exercise the longest-match search.
    return vocabulary + ["translationstranslations", "p.", "##ationstrans"]


def keras_hub_tokenizer(vocabulary):
    """keras-hub's tokenizer configured exactly as `zoo.text.SubwordTokenizer` does."""
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=False, strip_accents=False, split=True,
        split_on_cjk=True, suffix_indicator="##", oov_token="[UNK]")


def all_texts():
    return [t.encode("utf-8") for t in TEST_TEXTS] + INVALID_UTF8


@pytest.mark.parametrize("lowercase", [False, True])
def test_same_ids_as_keras_hub_in_graph_and_eager(vocabulary, lowercase):
    texts = sanitize_text(tf.constant(all_texts()))
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    reference = keras_hub_tokenizer(vocabulary)
    # tf.data and tf.function run tensorflow-text's kernels; eager calls run Python.
    in_graph = tf.function(reference.tokenize)(texts).to_list()
    eager = [list(row) for row in reference.tokenize([t.decode() for t in texts.numpy()])]
    assert in_graph == eager

    graph_tokenizer = GraphWordPieceTokenizer(vocabulary, lowercase=lowercase)
    raw = tf.constant(all_texts())
    assert graph_tokenizer.tokenize(raw).to_list() == in_graph
    assert tf.function(graph_tokenizer.tokenize)(raw).to_list() == in_graph
    # The corpus exercises multi-piece words, [UNK] words and empty rows.
    flat = [i for row in in_graph for i in row]
    assert 1 in flat and max(len(row) for row in in_graph) > 20 and [] in in_graph


def test_same_ids_as_subword_tokenizer(vocabulary):
    from zoo.text import SubwordTokenizer

    texts = sanitize_text(tf.constant(all_texts()))
    for lowercase in (False, True):
        subword = SubwordTokenizer(vocabulary, lowercase=lowercase)
        expected = tf.function(subword.tokenize)(texts).to_list()
        graph_tokenizer = GraphWordPieceTokenizer(vocabulary, lowercase=lowercase)
        assert graph_tokenizer.tokenize(texts).to_list() == expected


def test_long_words_and_greedy_longest_match():
    vocabulary = RESERVED_TOKENS + ["un", "##aff", "##able", "unaff", "##a", "a", "##b"]
    tokenizer = GraphWordPieceTokenizer(vocabulary)
    ids = tokenizer.tokenize(tf.constant(["unaffable", "a" * 100, "a" * 101, "unb", "xyz"]))
    ids = ids.to_list()
    assert ids[0] == [9, 8]  # "unaff" beats "un" + "##aff"
    assert ids[1] == [11] + [10] * 99  # 100 bytes: still split
    assert ids[2] == [1]  # over 100 bytes: [UNK]
    assert ids[3] == [6, 12]  # "un" then "##b": longest match first
    assert ids[4] == [1]


def test_invalid_utf8_is_replaced_not_an_error(vocabulary):
    tokenizer = GraphWordPieceTokenizer(vocabulary)
    raw = tokenizer.tokenize(tf.constant(INVALID_UTF8)).to_list()
    clean = tokenizer.tokenize(sanitize_text(tf.constant(INVALID_UTF8))).to_list()
    assert raw == clean
    assert sanitize_text(tf.constant([b"  caf\xc3  "])).numpy()[0] == "caf\ufffd".encode()


def test_scalar_input_gives_dense_ids(vocabulary):
    tokenizer = GraphWordPieceTokenizer(vocabulary)
    ids = tokenizer.tokenize("The quick fox.")
    assert ids.shape.rank == 1
    assert ids.numpy().tolist() == tokenizer.tokenize(["The quick fox."]).to_list()[0]


def test_vocabulary_file_and_errors(tmp_path, vocabulary):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in vocabulary), encoding="utf-8")
    from_file = GraphWordPieceTokenizer(str(path))
    assert from_file.vocabulary == vocabulary
    with pytest.raises(ValueError, match=r"oov_token '\[UNK\]' is not in the vocabulary"):
        GraphWordPieceTokenizer(["[PAD]", "a"])


def test_graph_holds_stock_ops_only(vocabulary):
    tokenizer = GraphWordPieceTokenizer(vocabulary)
    graph = tf.function(tokenizer.tokenize).get_concrete_function(
        tf.TensorSpec([None], tf.string)).graph.as_graph_def()
    op_types = {n.op for n in graph.node}
    for function in graph.library.function:
        op_types |= {n.op for n in function.node_def}
    function_names = {f.signature.name for f in graph.library.function}
    not_stock = sorted(op for op in op_types - function_names
                       if not hasattr(tf.raw_ops, op) or op.startswith("Xla"))
    assert not_stock == []
    assert "LookupTableFindV2" in op_types and "While" in op_types


@pytest.mark.parametrize("lowercase", [False, True])
def test_offsets_locate_each_piece(vocabulary, lowercase):
    tokenizer = GraphWordPieceTokenizer(vocabulary, lowercase=lowercase)
    raw = tf.constant(all_texts())
    ids, starts, ends = tokenizer.tokenize_with_offsets(raw)
    assert ids.to_list() == tokenizer.tokenize(raw).to_list()
    text = sanitize_text(raw)
    if lowercase:
        text = tf.strings.lower(text, encoding="utf-8")
    for row, string in enumerate(text.numpy()):
        string = string.decode("utf-8")
        for token_id, start, end in zip(ids[row].numpy(), starts[row].numpy(),
                                        ends[row].numpy()):
            assert 0 <= start < end <= len(string)
            if token_id != 1:  # [UNK] spans its whole word
                assert string[start:end] == vocabulary[token_id].removeprefix("##")
