"""Classification files as users hold them: CSV/TSV, JSON Lines, lines, fastText, TREC;
several files per flag; the test split; and every promised UsageError."""

import json
import os

import pytest

from zoo.data import load_splits
from zoo.data.classification_files import detect_format, read_classification_file
from zoo.data.classification_files import read_classification_files
from zoo.data.files import expand_paths, read_lines
from zoo.data.splits import READER_OPTIONS
from zoo.errors import UsageError

TREC_SAMPLE = ("DESC:manner How did serfdom develop in and then leave Russia ?\n"
               "LOC:city Which city has the oldest relationship as a sister\xf0city ?\n"
               "HUM:ind Who was Galileo ?\n"
               "LOC:other Where is the Café de Flore ?\n")


def write(path, text, encoding="utf-8"):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode(encoding))
    return str(path)


def read(path, **options):
    return [(r["label_text"], r["text"]) for r in read_classification_file(path, **options)]


def records(dataset):
    return [{key: value.decode() if isinstance(value, bytes) else int(value)
             for key, value in record.items()} for record in dataset.as_numpy_iterator()]


# --- CSV and TSV -------------------------------------------------------------------------

def test_csv_without_header_is_label_then_text(tmp_path):
    path = write(tmp_path / "train.csv", "2,Great food\n1,Cold soup\n")
    assert read(path) == [("2", "Great food"), ("1", "Cold soup")]


def test_ag_news_layout_joins_title_and_description(tmp_path):
    path = write(tmp_path / "train.csv",
                 '"3","Wall St. Bears Claw Back","Reuters - Short-sellers, Wall Street\'s"\n'
                 '"4","Cheap phones",""\n')
    assert read(path, text_column="1,2") == [
        ("3", "Wall St. Bears Claw Back Reuters - Short-sellers, Wall Street's"),
        ("4", "Cheap phones")]
    assert read(path, text_column=[1, 2], label_column=0) == read(path, text_column="1,2")


def test_quoted_fields_with_commas_and_newlines_keep_line_numbers(tmp_path):
    text = ('label,text\n'
            'pos,"Fine, really.\nTwo lines, ""quoted"" too"\n'
            'neg,"Bad"\n'
            'neg,one,too many\n')
    path = write(tmp_path / "train.csv", text)
    with pytest.raises(UsageError, match=r"train.csv, line 5: 3 field\(s\), but the header "
                                         r"\(line 1\) has 2"):
        read(path)
    write(tmp_path / "train.csv", text.rsplit("neg,one", 1)[0])
    assert read(path) == [("pos", 'Fine, really.\nTwo lines, "quoted" too'), ("neg", "Bad")]
    long = write(tmp_path / "long.csv", f'1,"{"word, " * 40_000}"\n')  # > csv's 131,072
    assert len(read(long)[0][1]) == 240_000


def test_header_with_the_default_names_in_any_order_and_case(tmp_path):
    path = write(tmp_path / "train.csv", "id,Text,LABEL\n7,Hello there,greeting\n")
    assert read(path) == [("greeting", "Hello there")]
    # Columns given by index: the header is still recognised by its default names.
    assert read(path, text_column=1, label_column=2) == [("greeting", "Hello there")]


def test_columns_by_name(tmp_path):
    path = write(tmp_path / "train.csv",
                 "class,title,description\nSports,Win,Team wins\nWorld,Vote,\n")
    assert read(path, text_column="title,description", label_column="class") == [
        ("Sports", "Win Team wins"), ("World", "Vote")]
    assert read(path, text_column="Description", label_column=0) == [
        ("Sports", "Team wins"), ("World", "")]  # an empty text is allowed


def test_columns_by_index_without_header(tmp_path):
    path = write(tmp_path / "train.tsv", "x\tHello\tgreeting\ny\tBye\tfarewell\n")
    assert read(path, text_column=1, label_column=2) == [("greeting", "Hello"),
                                                         ("farewell", "Bye")]
    assert read(path, label_column="-1", text_column="1") == read(path, text_column=1,
                                                                  label_column=2)
    # Only the text given: the label is the lowest column the text does not use.
    assert read(path, text_column=1)[0] == ("x", "Hello")
    # Only the label given: likewise for the text.
    assert read(path, label_column=2)[0] == ("greeting", "x")


def test_missing_named_column_lists_the_header(tmp_path):
    path = write(tmp_path / "train.csv", "review,sentiment\nGood,pos\n")
    with pytest.raises(UsageError, match=r"--text_column: .*train.csv has no column named "
                                         r"'body'.*'review', 'sentiment'"):
        read(path, text_column="body", label_column="sentiment")
    sst = write(tmp_path / "sst.tsv", "sentence\tlabel\nit 's fine\t1\n")
    with pytest.raises(UsageError, match=r"no column named 'text' \(the default of "
                                         r"--text_column\).*'sentence', 'label'"):
        read(sst)
    assert read(sst, text_column="sentence") == [("1", "it 's fine")]


def test_bad_column_flags(tmp_path):
    path = write(tmp_path / "train.csv", "a,b\nc,d\n")
    with pytest.raises(UsageError, match=r"--text_column=5: .* has 2 column\(s\)"):
        read(path, text_column=5)
    with pytest.raises(UsageError, match=r"--label_column=0,1: give one column; multi-label"):
        read(path, label_column="0,1")
    with pytest.raises(UsageError, match=r"column 0 is also a --text_column"):
        read(path, text_column=0, label_column=0)
    with pytest.raises(UsageError, match=r"an empty name"):
        read(path, text_column="1,")


def test_tsv_runaway_quote_is_an_error_with_its_line(tmp_path):
    path = write(tmp_path / "train.tsv", 'pos\tfine\nneg\t"oops\npos\tfine\n')
    with pytest.raises(UsageError, match=r"train.tsv, line 2: malformed TSV record "
                                         r".*--format=lines"):
        read(path)
    # The same file as lines: quotes are plain text.
    assert read(path, format="lines")[1] == ("neg", '"oops')


def test_tsv_line_without_a_tab_names_its_line(tmp_path):
    path = write(tmp_path / "train.tsv", "pos\tgood film\nneg\tbad film\nno tab on this line\n")
    with pytest.raises(UsageError, match=r"--train_file: file .*train.tsv, line 3: 1 field\(s\), "
                                         r"but the first record \(line 1\) has 2\. Separate"):
        read(path)


def test_header_only_and_empty_files(tmp_path):
    with pytest.raises(UsageError, match=r"header.csv has no examples"):
        read(write(tmp_path / "header.csv", "text,label\n\n"))
    with pytest.raises(UsageError, match=r"--eval_file: file .*empty.csv is empty"):
        read(write(tmp_path / "empty.csv", "\n \n"), flag="--eval_file")


def test_empty_label_is_an_error(tmp_path):
    with pytest.raises(UsageError, match=r"train.csv, line 3: the label \(column 'label'\) is "
                                         r"empty"):
        read(write(tmp_path / "train.csv", "label,text\na,x\n  ,y\n"))


# --- JSON Lines ----------------------------------------------------------------------------

def test_json_lines_with_string_and_integer_labels(tmp_path):
    lines = [{"text": "Great", "label": 1}, {"text": "Dull", "label": "0"}, {"text": "",
                                                                             "label": 0}]
    path = write(tmp_path / "train.jsonl", "\n".join(map(json.dumps, lines)) + "\n\n")
    assert read(path) == [("1", "Great"), ("0", "Dull"), ("0", "")]
    other = write(tmp_path / "train.json",
                  json.dumps({"title": "Win", "body": "Team wins", "topic": "sports"}))
    assert read(other, text_field="title,body", label_field="topic") == [
        ("sports", "Win Team wins")]


def test_json_lines_errors_name_the_line(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "x", "label": "a"}\n\n{"text": "y"}\n')
    with pytest.raises(UsageError, match=r"a.jsonl, line 3: no field 'label' \(set with "
                                         r"--label_field\); the object has fields: 'text'"):
        read(path)
    with pytest.raises(UsageError, match=r"line 1: no field 'review' \(set with --text_field"):
        read(path, text_field="review")
    with pytest.raises(UsageError, match=r"line 1: the label 'label' must be a string or an "
                                         r"integer, found 0.5"):
        read(write(tmp_path / "b.jsonl", '{"text": "x", "label": 0.5}'))
    with pytest.raises(UsageError, match=r"line 2: invalid JSON"):
        read(write(tmp_path / "c.jsonl", '{"text": "x", "label": "a"}\n{oops\n'))
    with pytest.raises(UsageError, match=r"line 1: expected a JSON object, found list"):
        read(write(tmp_path / "d.json", '[{"text": "x", "label": "a"}]'))


# --- One example a line and fastText -----------------------------------------------------

def test_lines_split_at_the_first_separator(tmp_path):
    path = write(tmp_path / "train.txt", "spam\tWin\tnow\nham\t\n\n")
    assert read(path) == [("spam", "Win\tnow"), ("ham", "")]
    assert read(path, label_separator="\\t") == read(path)
    spaced = write(tmp_path / "spaced.txt", "pos a fine film\nneg  dull\n")
    assert read(spaced, label_separator=" ") == [("pos", "a fine film"), ("neg", " dull")]


def test_lines_without_the_separator_name_the_line_and_hint(tmp_path):
    path = write(tmp_path / "train.txt", "pos\tgood\nneg dull film\n")
    with pytest.raises(UsageError, match=r"train.txt, line 2: no tab between the label and "
                                         r"the text.*--label_separator=' '"):
        read(path)
    with pytest.raises(UsageError, match=r"line 1: the label .* is empty"):
        read(write(tmp_path / "b.txt", " x y\n"), label_separator=" ")
    with pytest.raises(UsageError, match=r"--label_separator must not be empty"):
        read(path, label_separator="")


def test_fasttext_explicit_and_detected(tmp_path):
    text = "__label__positive great movie\n\n__label__negative  boring\n__label__neutral\n"
    path = write(tmp_path / "train.ft", text)
    expected = [("positive", "great movie"), ("negative", "boring"), ("neutral", "")]
    assert detect_format(path, read_lines(path, "--train_file")) == "fasttext"
    assert read(path) == expected
    assert read(write(tmp_path / "x.csv", text), format="fasttext") == expected
    # One line without the prefix: not detected, read as label<TAB>text lines.
    mixed = write(tmp_path / "mixed.txt", text + "pos\tfine\n")
    with pytest.raises(UsageError, match=r"line 1: no tab"):
        read(mixed)
    with pytest.raises(UsageError, match=r"line 5: expected `__label__NAME text`"):
        read(mixed, format="fasttext")


def test_fasttext_multi_label_is_an_error(tmp_path):
    path = write(tmp_path / "train.txt", "__label__a x\n__label__b __label__c y\n")
    with pytest.raises(UsageError, match=r"train.txt, line 2: 2 labels \(__label__b, "
                                         r"__label__c\); multi-label classification is not "
                                         r"supported"):
        read(path)


def test_format_overrides_the_extension(tmp_path):
    path = write(tmp_path / "train.data", 'label,text\nham,"Hi, you"\n')
    assert detect_format(path) == "lines"
    assert read(path, format="csv") == [("ham", "Hi, you")]
    assert read(path, format="lines", label_separator=",") == [("label", "text"),
                                                               ("ham", '"Hi, you"')]
    with pytest.raises(UsageError, match=r"--format=xml: unknown format; choose one of csv, "
                                         r"tsv, jsonl, lines, fasttext"):
        read(path, format="xml")


# --- TREC and encodings --------------------------------------------------------------------

TREC_OPTIONS = {"label_separator": " ", "coarse_label_separator": ":"}


def test_trec_coarse_labels_from_latin1(tmp_path):
    path = write(tmp_path / "TREC.train.raw", TREC_SAMPLE, encoding="latin-1")
    with pytest.raises(UsageError, match=r"--train_file: file .*TREC.train.raw, line 2: "
                                         r"invalid UTF-8 \(byte 0xf0 at column 60\).*"
                                         r"--encoding=latin-1"):
        read(path, **TREC_OPTIONS)
    assert read(path, encoding="latin-1", **TREC_OPTIONS) == [
        ("DESC", "How did serfdom develop in and then leave Russia ?"),
        ("LOC", "Which city has the oldest relationship as a sister\xf0city ?"),
        ("HUM", "Who was Galileo ?"),
        ("LOC", "Where is the Café de Flore ?")]
    fine = read(path, encoding="latin-1", label_separator=" ")
    assert [label for label, _ in fine] == ["DESC:manner", "LOC:city", "HUM:ind", "LOC:other"]
    with pytest.raises(UsageError, match=r"--coarse_label_separator must not be empty"):
        read(path, encoding="latin-1", label_separator=" ", coarse_label_separator="")
    with pytest.raises(UsageError, match=r"line 1: the label .* is empty before "
                                         r"--coarse_label_separator"):
        read(write(tmp_path / "t.txt", ":fine What ?\n"), **TREC_OPTIONS)


def test_unknown_and_other_encodings(tmp_path):
    path = write(tmp_path / "train.tsv", "caf\xe9\tb\n", encoding="cp1252")
    with pytest.raises(UsageError, match=r"--encoding=klingon: unknown encoding"):
        read(path, encoding="klingon")
    assert read(path, encoding="cp1252") == [("café", "b")]
    utf16 = write(tmp_path / "train16.tsv", "\ufeffcafé\tb\r\n", encoding="utf-16-le")
    assert read(utf16, encoding="utf-16") == [("café", "b")]


def test_real_trec_train_file(shared_data):
    path = shared_data / "trec" / "TREC.train.raw"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with pytest.raises(UsageError, match=r"line \d+: invalid UTF-8.*--encoding=latin-1"):
        read_classification_file(path, **TREC_OPTIONS)
    splits = load_splits("classification", "files", train_file=str(path),
                         eval_file=str(path.with_name("TREC.test.raw")),
                         encoding="latin-1", **TREC_OPTIONS)
    assert splits.info["label_names"] == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert splits.info["sizes"] == {"train": 5452, "validation": 500}
    first = next(splits.train.as_numpy_iterator())
    assert first["text"] == b"How did serfdom develop in and then leave Russia ?"
    assert first["label"] == 1  # DESC


# --- Several files per flag ----------------------------------------------------------------

def test_expand_paths_comma_lists_globs_and_duplicates(tmp_path):
    for name in ("b.csv", "a.csv", "c.tsv"):
        write(tmp_path / name, "x,y\n")
    os.mkdir(tmp_path / "sub")
    write(tmp_path / "sub" / "d.csv", "x,y\n")
    names = lambda paths: [os.path.relpath(path, tmp_path) for path in paths]  # noqa: E731
    assert names(expand_paths(f"{tmp_path}/c.tsv, {tmp_path}/*.csv,{tmp_path}/a.csv,",
                              "--train_file")) == ["c.tsv", "a.csv", "b.csv"]
    assert names(expand_paths([f"{tmp_path}/**/*.csv"], "--train_file")) == [
        "a.csv", "b.csv", os.path.join("sub", "d.csv")]
    with pytest.raises(UsageError, match=r"--eval_file: the pattern .*/\*.json matches no "
                                         r"file"):
        expand_paths(f"{tmp_path}/a.csv,{tmp_path}/*.json", "--eval_file")
    with pytest.raises(UsageError, match=r"--train_file: file .*nope.csv does not exist"):
        expand_paths(f"{tmp_path}/a.csv,{tmp_path}/nope.csv", "--train_file")
    with pytest.raises(UsageError, match=r"--train_file: .*sub is a folder"):
        expand_paths(str(tmp_path / "sub"), "--train_file")
    with pytest.raises(UsageError, match=r"--train_file names no file"):
        expand_paths(" , ", "--train_file")


def test_several_files_are_concatenated_in_order(tmp_path):
    write(tmp_path / "part-2.csv", "label,text\n10,ten\n")
    write(tmp_path / "part-1.csv", "label,text\n9,nine\n2,two\n")
    write(tmp_path / "extra.jsonl", '{"text": "one", "label": 1}\n')
    value = f"{tmp_path}/part-*.csv,{tmp_path}/extra.jsonl"
    assert [r["text"] for r in read_classification_files(value)] == ["nine", "two", "ten",
                                                                     "one"]
    splits = load_splits("classification", "files", train_file=value, eval_file=value)
    assert splits.info["label_names"] == ["1", "2", "9", "10"]  # numeric names numerically
    assert records(splits.train) == [{"text": "nine", "label": 2}, {"text": "two", "label": 1},
                                     {"text": "ten", "label": 3}, {"text": "one", "label": 0}]
    assert splits.info["sources"]["train"].startswith("--train_file (")


def test_parallel_files_are_paired_in_order(tmp_path):
    for name, text in (("a.de", "Hallo\n"), ("b.de", "Danke\n"), ("a.en", "Hello\n"),
                       ("b.en", "Thanks\n"), ("t.de", "Ja\n"), ("t.en", "Yes\n")):
        write(tmp_path / name, text)
    splits = load_splits("nmt", "files", train_src=f"{tmp_path}/[ab].de",
                         train_tgt=f"{tmp_path}/a.en,{tmp_path}/b.en",
                         eval_src=f"{tmp_path}/t.de", eval_tgt=f"{tmp_path}/t.en",
                         test_src=f"{tmp_path}/t.de", test_tgt=f"{tmp_path}/t.en")
    assert records(splits.train) == [{"source": "Hallo", "target": "Hello"},
                                     {"source": "Danke", "target": "Thanks"}]
    assert records(splits.test) == [{"source": "Ja", "target": "Yes"}]
    assert splits.info["sizes"] == {"train": 2, "validation": 1, "test": 1}
    with pytest.raises(UsageError,
                       match=r"--eval_src names 3 file\(s\) but --eval_tgt names 1"):
        load_splits("nmt", "files", train_src=f"{tmp_path}/a.de", train_tgt=f"{tmp_path}/a.en",
                    eval_src=f"{tmp_path}/*.de", eval_tgt=f"{tmp_path}/t.en")


def test_encoding_applies_to_parallel_text(tmp_path):
    source = write(tmp_path / "s.fr", "café\nthé\n", encoding="latin-1")
    target = write(tmp_path / "t.en", "coffee\ntea\n")
    with pytest.raises(UsageError, match=r"--train_src: file .*s.fr, line 1: invalid UTF-8"):
        load_splits("nmt", "files", train_src=source, train_tgt=target)
    splits = load_splits("nmt", "files", train_src=source, train_tgt=target,
                         eval_src=source, eval_tgt=target, encoding="latin-1")
    assert records(splits.train)[0] == {"source": "café", "target": "coffee"}


# --- Splits: evaluation and test labels, the test split -------------------------------------

def test_test_split_from_files(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\nhi,ham\nwin,spam\nhello,ham\n")
    test = write(tmp_path / "test.jsonl", '{"text": "free", "label": "spam"}\n')
    splits = load_splits("classification", "files", train_file=train, eval_file=train,
                         test_file=test, sizes={"train": 2})
    assert records(splits.test) == [{"text": "free", "label": 1}]
    assert splits.info["sizes"] == {"train": 2, "validation": 3, "test": 1}
    assert splits.info["sources"]["test"] == f"--test_file ({test})"


def test_unseen_eval_or_test_label_names_it_the_file_and_line(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\nhi,ham\nwin,spam\n")
    bad = write(tmp_path / "bad.csv", "text,label\nok,ham\n\nodd,eggs\n")
    with pytest.raises(UsageError, match=r"--eval_file: file .*bad.csv, line 4: label 'eggs' "
                                         r"does not occur in the training data \(labels: ham, "
                                         r"spam\)"):
        load_splits("classification", "files", train_file=train, eval_file=bad)
    with pytest.raises(UsageError, match=r"--test_file: file .*bad.csv, line 4: label 'eggs'"):
        load_splits("classification", "files", train_file=train, test_file=bad)


def test_held_out_validation_keeps_every_training_label(tmp_path):
    lines = "".join(f"common\texample {i}\n" for i in range(39)) + "rare\tthe only one\n"
    path = write(tmp_path / "train.txt", lines)
    for seed in range(10):
        splits = load_splits("classification", "files", train_file=path, seed=seed)
        assert splits.info["label_names"] == ["common", "rare"]
        assert "held out" in splits.info["validation_note"]


def test_reader_options_pass_through_and_bad_keys(tmp_path):
    path = write(tmp_path / "train.data", "a|x\nb|y\n")
    # As a recipe passes its flags: every option, None where the flag is not set.
    options = dict.fromkeys(READER_OPTIONS, None) | {"label_separator": "|"}
    splits = load_splits("classification", "files", train_file=path, eval_file=path,
                         **options)
    assert splits.info["label_names"] == ["a", "b"]
    assert load_splits("classification", sizes={"train": 5}, **options).info["sizes"][
        "train"] == 5  # unused by the demo corpus
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) separator"):
        load_splits("classification", "files", train_file=path, separator="|")


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "demo", "test_file": "a"}, "--test_file only apply to --dataset=files"),
    ({"dataset": "files", "train_file": "a", "test_src": "b"},
     "--test_src is given without --test_tgt"),
    ({"dataset": "files", "train_file": "a", "test_file": "a", "test_src": "b",
      "test_tgt": "c"}, "either --test_file or --test_src/--test_tgt"),
    ({"dataset": "files", "task": "classification", "train_src": "a", "train_tgt": "b"},
     r"for classification, pass a --train_file \(CSV, TSV, JSON Lines"),
])
def test_incompatible_test_flags(kwargs, message):
    with pytest.raises(UsageError, match=message):
        load_splits(**{"task": "nmt", **kwargs})
