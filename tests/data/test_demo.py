"""Demo corpora: deterministic, seed-dependent, held-out splits disjoint from train."""

import datetime
import re

import pytest

from zoo.data import demo

SMALL = {"train_size": 300, "validation_size": 40, "test_size": 40}
KEYS = {"nmt": lambda r: r["target"], "summarization": lambda r: r["source"],
        "classification": lambda r: r["text"], "qa": lambda r: (r["context"], r["question"])}


@pytest.mark.parametrize("task", sorted(demo.SPLITS_BY_TASK))
def test_same_seed_same_data_other_seed_other_data(task):
    make = demo.SPLITS_BY_TASK[task]
    first, again, other = make(seed=3, **SMALL), make(seed=3, **SMALL), make(seed=4, **SMALL)
    assert first == again
    assert first["train"] != other["train"]
    assert {name: len(records) for name, records in first.items()} == {
        "train": 300, "validation": 40, "test": 40}


@pytest.mark.parametrize("task", sorted(demo.SPLITS_BY_TASK))
def test_held_out_splits_are_disjoint_from_train(task):
    splits = demo.SPLITS_BY_TASK[task](seed=0, **SMALL)
    key = KEYS[task]  # nmt: by date (the ISO target), others by text
    train = {key(record) for record in splits["train"]}
    validation = {key(record) for record in splits["validation"]}
    test = {key(record) for record in splits["test"]}
    assert not train & validation and not train & test and not validation & test


def test_nmt_targets_are_the_iso_form_of_the_source_date():
    records = demo.nmt_splits(seed=0, **SMALL)["train"]
    sources = set()
    for record in records:
        date = datetime.date.fromisoformat(record["target"])
        assert record["source"] in demo._date_formats(date)
        sources.add(record["source"])
    assert any(re.fullmatch(r"\d\d/\d\d/\d\d", source) for source in sources)
    assert any("de" in source.split() for source in sources)  # Spanish
    assert len(sources) == len(records)  # dates x formats: no repeats at this size


def test_nmt_numeric_formats_are_unambiguous():
    date = datetime.date(2021, 3, 4)
    formats = demo._date_formats(date)
    assert "03/04/21" in formats and "04/03/2021" in formats and "04.03.2021" in formats
    assert "the 4th of March, 2021" in formats and "4 mars 2021" in formats
    assert "Donnerstag, 4. März 2021" in formats and "March 4th '21" in formats


def test_qa_answer_start_points_at_the_last_move_of_the_person():
    for record in demo.qa_splits(seed=0, **SMALL)["train"]:
        context, answer, start = record["context"], record["answer"], record["answer_start"]
        assert context[start:start + len(answer)] == answer
        name = record["question"].split()[2].rstrip("?")
        moves = [sentence for sentence in context.split(". ") if sentence.startswith(name)]
        assert moves[-1].rstrip(".").endswith(answer)
        sentence_start = context.rfind(moves[-1])
        assert sentence_start < start < sentence_start + len(moves[-1])


def test_classification_labels_follow_the_key_phrase():
    records = demo.classification_splits(seed=0, **SMALL)["train"]
    assert {record["label"] for record in records} == set(range(len(demo.CLASS_NAMES)))
    for record in records:
        phrases = [phrase for label, phrases in demo.KEY_PHRASES.items() for phrase in phrases
                   if phrase.lower() in record["text"].lower()]
        assert len(phrases) == 1
        assert phrases[0] in demo.KEY_PHRASES[demo.CLASS_NAMES[record["label"]]]


def test_summarization_headline_names_the_key_entities():
    for record in demo.summarization_splits(seed=0, **SMALL)["train"]:
        _, rest = record["target"].split(" ", 1)
        capitalised = re.findall(r"[A-Z]\w+", rest)
        assert all(word in record["source"] for word in capitalised)
