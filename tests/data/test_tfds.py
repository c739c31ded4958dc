"""--dataset=tfds:NAME: fails at once when not prepared; mock_data path for several tasks."""

from unittest import mock

import pytest
import tensorflow_datasets as tfds

from zoo.data.qa_files import split_answers
from zoo.data import load_splits
from zoo.errors import UsageError


def no_download(*args, **kwargs):
    raise AssertionError("zoo.data must not try to download or prepare a TFDS dataset")


@pytest.fixture
def offline_tfds():
    """Any attempt to download makes the test fail (it would retry the network for minutes)."""
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", no_download):
        yield


def test_unprepared_dataset_fails_at_once_with_how_to_prepare(offline_tfds, tmp_path):
    with pytest.raises(UsageError) as error:
        load_splits("nmt", "tfds:ted_hrlr_translate/pt_to_en", data_dir=str(tmp_path))
    message = str(error.value)
    assert "not prepared" in message and str(tmp_path) in message
    assert f"tfds build ted_hrlr_translate/pt_to_en --data_dir={tmp_path}" in message
    assert "--data_dir" in message


def test_unknown_dataset_and_config(offline_tfds, tmp_path):
    with pytest.raises(UsageError, match="Unknown TFDS dataset 'no_such_corpus'"):
        load_splits("nmt", "tfds:no_such_corpus", data_dir=str(tmp_path))
    with pytest.raises(UsageError, match="BuilderConfig xx not found"):
        load_splits("nmt", "tfds:ted_hrlr_translate/xx", data_dir=str(tmp_path))


@pytest.fixture
def mocked_tfds(offline_tfds):
    # mock_data fakes the examples; the "is it prepared?" check is patched to yes because
    # mock_data leaves no prepared directory behind.
    with tfds.testing.mock_data(num_examples=6), mock.patch.object(
        tfds.core.DatasetBuilder, "is_prepared", return_value=True
    ):
        yield


@pytest.mark.parametrize("name, source, target", [
    ("ted_hrlr_translate/pt_to_en", "pt", "en"),
    ("wmt14_translate/de-en", "de", "en"),
])
def test_translation_languages_come_from_the_config(mocked_tfds, name, source, target):
    splits = load_splits("nmt", f"tfds:{name}", sizes={"train": 4})
    assert (splits.info["source_language"], splits.info["target_language"]) == (source,
                                                                               target)
    train = list(splits.train.as_numpy_iterator())
    assert len(train) == 4 and set(train[0]) == {"source", "target"}
    assert isinstance(train[0]["source"], bytes) and train[0]["source"] != train[0]["target"]
    assert len(list(splits.validation)) == 6


@pytest.mark.parametrize("name, label_names", [
    ("ag_news_subset", ["World", "Sports", "Business", "Sci/Tech"]),
    ("imdb_reviews", ["neg", "pos"]),
    ("yelp_polarity_reviews", ["1", "2"]),  # the ClassLabel's order, not a sort of names
])
def test_classification_takes_label_names_from_the_class_label(mocked_tfds, name,
                                                               label_names):
    splits = load_splits("classification", f"tfds:{name}", sizes={"test": 3})
    assert splits.info["label_names"] == label_names
    for split in (splits.train, splits.validation, splits.test):
        record = next(split.as_numpy_iterator())
        assert set(record) == {"text", "label"} and isinstance(record["text"], bytes)
        assert 0 <= record["label"] < len(label_names)
    assert len(list(splits.test)) == 3


def test_classification_without_a_validation_split_holds_out_train(mocked_tfds):
    # imdb_reviews' real splits (mock_data lists none): validation comes from train.
    real_splits = {name: mock.Mock(num_examples=count, num_bytes=0) for name, count in
                   (("train", 25000), ("test", 25000), ("unsupervised", 50000))}
    with mock.patch.object(tfds.core.DatasetInfo, "splits", new_callable=mock.PropertyMock,
                           return_value=real_splits):
        splits = load_splits("classification", "tfds:imdb_reviews")
    assert splits.info["splits"] == {"train": "train[:95%]", "validation": "train[95%:]",
                                     "test": "test"}
    assert "held out" in splits.info["validation_note"]
    assert splits.info["sizes"] == {"test": 25000}
    assert splits.info["label_names"] == ["neg", "pos"]
    assert set(next(splits.validation.as_numpy_iterator())) == {"text", "label"}


def test_summarization_and_qa_records(mocked_tfds):
    record = next(load_splits("summarization", "tfds:cnn_dailymail").train.as_numpy_iterator())
    assert set(record) == {"source", "target"}
    record = next(load_splits("qa", "tfds:squad").train.as_numpy_iterator())
    assert set(record) == {"id", "question", "context", "answer", "answer_start", "answers",
                           "source"}
    assert record["source"] == b"tfds:squad"
    assert split_answers(record["answers"])[:1] == ([record["answer"].decode()]
                                                   if record["answer"] else [])


def test_dataset_of_the_wrong_kind_for_the_task(mocked_tfds):
    with pytest.raises(UsageError, match="not a translation dataset"):
        load_splits("nmt", "tfds:imdb_reviews")
    with pytest.raises(UsageError, match="no SQuAD-like features"):
        load_splits("qa", "tfds:imdb_reviews")
