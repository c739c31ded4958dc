"""SubwordTokenizer: tokenize, detokenize (stock TF ops), save/load, vocabulary checks."""

import pytest
import tensorflow as tf

from zoo.errors import UsageError
from zoo.text import BOS_ID, EOS_ID, PAD_ID, RESERVED_TOKENS, SubwordTokenizer

WORDS = ["the", "3", "##rd", "of", "march", ",", "2021", "-", "03", "/", "'", "21", "don",
         "t", ".", "M", "##ä", "##rz", "March"]


@pytest.fixture(scope="module")
def tokenizer():
    return SubwordTokenizer(RESERVED_TOKENS + WORDS)


def ids_of(tokenizer, *tokens):
    return [tokenizer.token_to_id(token) for token in tokens]


def test_tokenize_batch_is_ragged_int32_and_scalar_is_dense(tokenizer):
    ids = tokenizer.tokenize(["the 3rd of March", "2021"])
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.dtype == tf.int32
    assert ids.to_list() == [ids_of(tokenizer, "the", "3", "##rd", "of", "March"),
                             ids_of(tokenizer, "2021")]
    single = tokenizer.tokenize("2021-03")
    assert single.shape.rank == 1
    assert single.numpy().tolist() == ids_of(tokenizer, "2021", "-", "03")


def test_unknown_word_is_unk_and_lowercase_option(tokenizer):
    assert tokenizer.tokenize(["zebra"]).to_list() == [[1]]
    lower = SubwordTokenizer(tokenizer.vocabulary, lowercase=True)
    assert lower.tokenize(["MARCH"]).to_list() == [ids_of(lower, "march")]
    assert lower.tokenize(["MÄRZ"]).to_list() == [[1]]  # "mÄrz" -> "märz" is not in vocab
    assert lower.lowercase and not tokenizer.lowercase


@pytest.mark.parametrize("text", ["the 3rd of March, 2021", "2021-03-03", "03/03/21",
                                  "March 3rd '21", "don't.", "3. März 2021"])
def test_detokenize_inverts_tokenize(tokenizer, text):
    ids = tokenizer.tokenize([text])
    assert tokenizer.detokenize(ids).numpy().tolist() == [text.encode()]


def test_detokenize_drops_control_ids_and_everything_after_eos(tokenizer):
    march, year = ids_of(tokenizer, "March", "2021")
    ids = tf.constant([[BOS_ID, march, 4, year, EOS_ID, march, march],
                       [march, PAD_ID, 5, year, PAD_ID, PAD_ID, PAD_ID]])
    assert tokenizer.detokenize(ids).numpy().tolist() == [b"March 2021", b"March 2021"]
    assert tokenizer.detokenize(tf.constant([march, year])).numpy() == b"March 2021"


def test_detokenize_reads_out_of_range_ids_as_unk(tokenizer):
    assert tokenizer.detokenize([[tokenizer.vocabulary_size + 5, -1]]).numpy().tolist() == [
        b"[UNK] [UNK]"]


def test_detokenize_graph_holds_stock_ops_only(tokenizer):
    function = tf.function(tokenizer.detokenize,
                           input_signature=[tf.TensorSpec([None, None], tf.int32)])
    graph = function.get_concrete_function().graph
    op_types = {op.type for op in graph.get_operations()}
    allowed = {"Placeholder", "Const", "Cast", "GreaterEqual", "Less", "LogicalAnd",
               "SelectV2", "GatherV2", "Equal", "Cumsum", "NotEqual", "ReduceJoin",
               "StaticRegexReplace", "RegexReplace", "StringStrip", "Identity", "NoOp"}
    assert op_types <= allowed, op_types - allowed


def test_save_and_load_round_trip(tokenizer, tmp_path):
    path = tmp_path / "model" / "vocab.txt"
    tokenizer.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == tokenizer.vocabulary
    loaded = SubwordTokenizer.load(path, lowercase=True)
    assert loaded.vocabulary == tokenizer.vocabulary and loaded.lowercase
    assert loaded.vocabulary_size == len(RESERVED_TOKENS) + len(WORDS)


def test_load_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        SubwordTokenizer.load(tmp_path / "nope.txt")


def test_vocabulary_must_start_with_reserved_tokens(tmp_path):
    path = tmp_path / "bert_vocab.txt"
    path.write_text("[PAD]\n[CLS]\n[SEP]\n[UNK]\nhello\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"must start with the reserved tokens"):
        SubwordTokenizer.load(path)


def test_vocabulary_rejects_duplicates_and_blank_tokens():
    with pytest.raises(UsageError, match="twice"):
        SubwordTokenizer(RESERVED_TOKENS + ["a", "a"])
    with pytest.raises(UsageError, match="invalid token"):
        SubwordTokenizer(RESERVED_TOKENS + ["a b"])
