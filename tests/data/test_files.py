"""--dataset=files: parallel text, TSV and JSON Lines, and every promised UsageError."""

import json

import pytest

from zoo.data import load_splits
from zoo.errors import UsageError


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def records(dataset):
    return [{key: value.decode() if isinstance(value, bytes) else int(value)
             for key, value in record.items()} for record in dataset.as_numpy_iterator()]


def test_parallel_text_with_eval_files(tmp_path):
    splits = load_splits(
        "nmt", "files",
        train_src=write(tmp_path / "train.de", "Guten Morgen\r\nDanke\n"),
        train_tgt=write(tmp_path / "train.en", "Good morning\r\nThank you\n"),
        eval_src=write(tmp_path / "dev.de", "Hallo"),
        eval_tgt=write(tmp_path / "dev.en", "Hello"))
    assert records(splits.train) == [{"source": "Guten Morgen", "target": "Good morning"},
                                     {"source": "Danke", "target": "Thank you"}]
    assert records(splits.validation) == [{"source": "Hallo", "target": "Hello"}]
    assert splits.test is None and splits.info["sizes"] == {"train": 2, "validation": 1}


def test_without_eval_data_a_deterministic_share_of_train_is_held_out(tmp_path):
    lines = "".join(f"sentence {i}\tSatz {i}\n" for i in range(40))
    path = write(tmp_path / "train.tsv", lines)
    first = load_splits("summarization", "files", train_file=path, seed=1)
    again = load_splits("summarization", "files", train_file=path, seed=1)
    assert records(first.validation) == records(again.validation)
    assert len(records(first.validation)) == 2 and len(records(first.train)) == 38
    assert "held out" in first.info["validation_note"]
    held_out = {r["source"] for r in records(first.validation)}
    assert not held_out & {r["source"] for r in records(first.train)}


def test_validation_fraction_sets_the_held_out_share(tmp_path):
    path = write(tmp_path / "train.tsv", "".join(f"s {i}\tt {i}\n" for i in range(40)))
    splits = load_splits("summarization", "files", train_file=path, validation_fraction=0.25)
    assert len(records(splits.validation)) == 10 and len(records(splits.train)) == 30
    assert "(25%," in splits.info["validation_note"]
    for bad in (0.0, 1.0):
        with pytest.raises(UsageError, match="--validation_fraction"):
            load_splits("summarization", "files", train_file=path, validation_fraction=bad)


def test_classification_tsv_maps_labels_to_sorted_ids(tmp_path):
    splits = load_splits("classification", "files",
                         train_file=write(tmp_path / "t.tsv", "spam\tWin now\nham\tHi\n"),
                         eval_file=write(tmp_path / "e.tsv", "ham\tHello there\n"))
    assert splits.info["label_names"] == ["ham", "spam"]
    assert records(splits.train) == [{"text": "Win now", "label": 1}, {"text": "Hi", "label": 0}]
    assert records(splits.validation) == [{"text": "Hello there", "label": 0}]


def test_qa_json_lines_with_and_without_answer_start(tmp_path):
    lines = [{"question": "Where is Mary?", "context": "Mary went to the park. Mary went "
              "to the park.", "answer": "park"},
             {"question": "Who?", "context": "Bob ran.", "answer": "Bob", "answer_start": 0},
             {"question": "Why?", "context": "No reason.", "answer": "unknown"}]
    path = write(tmp_path / "qa.jsonl", "\n".join(map(json.dumps, lines)) + "\n\n")
    splits = load_splits("qa", "files", train_file=path, eval_file=path)
    starts = [record["answer_start"] for record in records(splits.train)]
    assert starts == [17, 0, -1]  # the first whole-word occurrence without answer_start


def test_line_count_mismatch_names_both_counts(tmp_path):
    with pytest.raises(UsageError, match=r"has 3 lines but --train_tgt .* has 2"):
        load_splits("nmt", "files", train_src=write(tmp_path / "s", "a\nb\nc\n"),
                    train_tgt=write(tmp_path / "t", "A\nB\n"))


def test_empty_line_pair_names_its_line(tmp_path):
    with pytest.raises(UsageError, match=r"Line 2 of --train_src .*source and target line"):
        load_splits("nmt", "files", train_src=write(tmp_path / "s", "a\n\nc\n"),
                    train_tgt=write(tmp_path / "t", "A\n \nC\n"))


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path / "latin1.tsv", "a\tb\ncaf\xe9\tcafe\n".encode("latin-1"), "wb")
    with pytest.raises(UsageError, match=r"latin1.tsv, line 2: invalid UTF-8.*iconv"):
        load_splits("nmt", "files", train_file=path)


def test_malformed_tsv_line_names_its_line(tmp_path):
    path = write(tmp_path / "bad.tsv", "a\tb\nno tab here\n")
    with pytest.raises(UsageError, match=r"bad.tsv, line 2: expected `source<TAB>target`"):
        load_splits("nmt", "files", train_file=path)


def test_bad_json_lines(tmp_path):
    with pytest.raises(UsageError, match=r"line 1: invalid JSON"):
        load_splits("qa", "files", train_file=write(tmp_path / "a.jsonl", "{oops\n"))
    with pytest.raises(UsageError, match=r"line 1: missing or non-string field\(s\) answer"):
        load_splits("qa", "files",
                    train_file=write(tmp_path / "b.jsonl", '{"question": "q", "context": "c"}'))
    bad_start = {"question": "q", "context": "abc", "answer": "b", "answer_start": 0}
    with pytest.raises(UsageError, match=r"answer_start 0 does not point at the answer"):
        load_splits("qa", "files", train_file=write(tmp_path / "c.jsonl", json.dumps(bad_start)))


def test_eval_label_unknown_to_train(tmp_path):
    with pytest.raises(UsageError, match=r"line 1: label 'x' does not occur"):
        load_splits("classification", "files", train_file=write(tmp_path / "t", "a\tA\nb\tB\n"),
                    eval_file=write(tmp_path / "e", "x\tX\n"))


def test_missing_file_names_flag_and_path(tmp_path):
    with pytest.raises(UsageError, match=r"--train_file: file .*nope.tsv does not exist"):
        load_splits("nmt", "files", train_file=str(tmp_path / "nope.tsv"))


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "files"}, "needs training data"),
    ({"dataset": "files", "train_src": "a"}, "--train_src is given without --train_tgt"),
    ({"dataset": "files", "train_src": "a", "train_tgt": "b", "train_file": "c"},
     "either --train_file or --train_src"),
    ({"dataset": "demo", "train_file": "a"}, "only apply to --dataset=files"),
    ({"dataset": "demo", "data_dir": "/tmp"}, "--data_dir only applies"),
    ({"dataset": "wmt"}, "Unknown dataset 'wmt'"),
    ({"dataset": "files", "task": "qa", "train_src": "a", "train_tgt": "b"},
     "parallel text files are for nmt and summarization"),
    ({"task": "translation"}, "Unknown task 'translation'"),
])
def test_incompatible_flags(kwargs, message):
    kwargs = {"task": "nmt", **kwargs}
    with pytest.raises(UsageError, match=message):
        load_splits(**kwargs)
