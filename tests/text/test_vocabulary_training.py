"""train_subword_tokenizer on the demo corpora: reserved ids, size, exact round trips."""

import pytest
import tensorflow as tf

from zoo.data import demo
from zoo.errors import UsageError
from zoo.text import RESERVED_TOKENS, SubwordTokenizer, train_subword_tokenizer

TEXT_FIELDS = {"nmt": ("source", "target"), "summarization": ("source", "target"),
               "classification": ("text",), "qa": ("question", "context", "answer")}


def demo_texts(task, split, size):
    records = demo.SPLITS_BY_TASK[task](seed=0, train_size=size, validation_size=size,
                                        test_size=1)[split]
    return [record[field] for record in records for field in TEXT_FIELDS[task]]


@pytest.fixture(scope="module")
def trained():
    texts = [text for task in TEXT_FIELDS for text in demo_texts(task, "train", 300)]
    return train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(texts),
                                   vocab_size=600, progress=False)


def test_vocabulary_starts_with_reserved_tokens_and_fits_the_size(trained):
    assert trained.vocabulary[: len(RESERVED_TOKENS)] == RESERVED_TOKENS
    assert len(RESERVED_TOKENS) < trained.vocabulary_size <= 600
    assert len(set(trained.vocabulary)) == trained.vocabulary_size


@pytest.mark.parametrize("task", sorted(TEXT_FIELDS))
def test_detokenize_tokenize_is_identity_on_held_out_demo_text(trained, task):
    texts = demo_texts(task, "validation", 60)
    ids = trained.tokenize(texts)
    assert 1 not in ids.flat_values.numpy().tolist()  # no [UNK] on the demo corpus
    decoded = [text.decode("utf-8") for text in trained.detokenize(ids).numpy()]
    assert decoded == texts


def test_saved_vocabulary_tokenizes_identically(trained, tmp_path):
    trained.save(tmp_path / "vocab.txt")
    loaded = SubwordTokenizer.load(tmp_path / "vocab.txt")
    texts = demo_texts("nmt", "validation", 20)
    assert loaded.tokenize(texts).to_list() == trained.tokenize(texts).to_list()


def test_lowercase_vocabulary_has_no_upper_case_words():
    texts = tf.data.Dataset.from_tensor_slices(demo_texts("nmt", "train", 200))
    tokenizer = train_subword_tokenizer(texts, vocab_size=300, lowercase=True,
                                        progress=False)
    assert tokenizer.lowercase
    words = tokenizer.vocabulary[len(RESERVED_TOKENS):]
    assert all(word == word.lower() for word in words)
    assert tokenizer.detokenize(tokenizer.tokenize(["March 3rd, 2021"])).numpy()[0] == (
        b"march 3rd, 2021")


def test_bad_inputs_are_usage_errors():
    with pytest.raises(UsageError, match="tf.data.Dataset"):
        train_subword_tokenizer(["a list is read as file paths by keras-hub"], 100)
    with pytest.raises(UsageError, match="scalar strings"):
        train_subword_tokenizer(tf.data.Dataset.from_tensor_slices([[1, 2]]), 100)
    with pytest.raises(UsageError, match="empty corpus"):
        train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string)),
                                100, progress=False)
    with pytest.raises(UsageError, match="reserved"):
        train_subword_tokenizer(tf.data.Dataset.from_tensor_slices(["a"]), 6)


def test_min_count_keeps_rarer_words_and_defaults_to_keras_hubs_vocabulary():
    import keras_hub
    import tensorflow as tf

    import zoo.text

    words = [f"word{index}" for index in range(40)]
    texts = [" ".join(words[i:i + 5]) for i in range(0, 40, 5)] * 3  # each word 3 times
    corpus = tf.data.Dataset.from_tensor_slices(texts)
    default = zoo.text.train_subword_tokenizer(corpus, 400, progress=False)
    expected = keras_hub.tokenizers.compute_word_piece_vocabulary(
        corpus.batch(8), 400, reserved_tokens=zoo.text.RESERVED_TOKENS)
    assert default.vocabulary == [t for t in expected if not any(c.isspace() for c in t)]
    assert "word17" not in default.vocabulary  # 3 occurrences < keras-hub's threshold 10
    rare = zoo.text.train_subword_tokenizer(corpus, 400, progress=False, min_count=3)
    assert "word17" in rare.vocabulary
    assert rare.tokenize(["word17"]).numpy().tolist() == [[rare.token_to_id("word17")]]


def test_whole_word_vocabulary_maps_unseen_words_to_unk():
    import tensorflow as tf

    import zoo.text

    texts = ["who founded rome ?", "who wrote hamlet ?", "who founded carthage ?"]
    tokenizer = zoo.text.train_subword_tokenizer(
        tf.data.Dataset.from_tensor_slices(texts), 100, progress=False, min_count=2,
        whole_words=True)
    assert tokenizer.vocabulary[len(zoo.text.RESERVED_TOKENS):] == ["?", "who", "founded"]
    ids = tokenizer.tokenize(["who founded denver ?"])[0].numpy().tolist()
    assert [tokenizer.vocabulary[i] for i in ids] == ["who", "founded", "[UNK]", "?"]
