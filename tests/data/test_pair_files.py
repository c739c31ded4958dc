"""Summarization and translation files as users hold them: JSON Lines with field flags,
CSV/TSV with column flags, `source<TAB>target` lines; several files per flag; load_splits
end to end; the real AESLC file; and every promised UsageError."""

import json

import pytest
import tensorflow as tf

from zoo.data import load_splits
from zoo.data.pair_files import detect_format, read_pair_file, read_pair_files
from zoo.data.splits import READER_OPTIONS
from zoo.errors import UsageError

AESLC_SAMPLE = [
    {"id": "allen-p_inbox_29", "email": "Hi Phillip,  This message is to confirm our "
     "meeting.\nAttendees will be Monica Brown.\nThanks,",
     "subject": "Confirmation: Risk Management Simulation Meeting 10/30/01"},
    {"id": "allen-p_inbox_7", "email": "Phillip;  Could you please e-mail me the file?",
     "subject": "Bishops Corner"},
    {"id": "arnold-j_inbox_3", "email": "Café at 3 «today»?", "subject": "Café"},
]


def write(path, text, encoding="utf-8"):
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return str(path)


def write_jsonl(path, objects):
    return write(path, "".join(json.dumps(obj) + "\n" for obj in objects))


def pairs(path, **options):
    return [(r["source"], r["target"]) for r in read_pair_file(path, **options)]


def records(dataset):
    return [{key: value.decode() for key, value in record.items()}
            for record in dataset.as_numpy_iterator()]


# --- JSON Lines --------------------------------------------------------------------------

def test_aeslc_jsonl_with_field_flags(tmp_path):
    path = write_jsonl(tmp_path / "dev.jsonl", AESLC_SAMPLE)
    got = read_pair_file(path, source_field="email", target_field="subject")
    assert got == [{"source": obj["email"], "target": obj["subject"]} for obj in AESLC_SAMPLE]
    # email/subject is a known pair: no flags needed; the text is kept as it is.
    assert read_pair_file(path) == got
    assert got[0]["source"].endswith("Monica Brown.\nThanks,")


def test_jsonl_default_fields_and_blank_lines(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"source": "a b", "target": "A", "x": 1}\n\n'
                                       '{"target": "B", "source": "c d"}\n')
    assert pairs(path) == [("a b", "A"), ("c d", "B")]


@pytest.mark.parametrize("keys", [("document", "summary"), ("article", "highlights"),
                                  ("text", "summary"), ("src", "tgt")])
def test_jsonl_known_pairs_read_without_flags(tmp_path, keys):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": 1, keys[0]: "long", keys[1]: "short"}])
    assert pairs(path) == [("long", "short")]


def test_jsonl_one_field_given_the_other_is_its_default(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"body": "long", "target": "short"}])
    assert pairs(path, source_field="body") == [("long", "short")]


def test_jsonl_unknown_fields_name_file_line_keys_and_flags(tmp_path):
    path = write_jsonl(tmp_path / "mail.jsonl", [{"id": "1", "body": "b", "title": "t"}])
    with pytest.raises(UsageError) as error:
        read_pair_file(path, "--eval_file")
    message = str(error.value)
    assert "--eval_file: file " in message and "mail.jsonl, line 1:" in message
    assert "no field 'source', 'target' (set with --source_field and --target_field" in message
    assert "document/summary" in message  # the pairs read without flags
    assert message.endswith("the object has fields: 'id', 'body', 'title'.")
    with pytest.raises(UsageError, match=r"line 1: no field 'subject' \(set with "
                                          r"--target_field\); the object has fields: 'id', "
                                          r"'body', 'title'\."):
        read_pair_file(path, source_field="body", target_field="subject")


def test_jsonl_field_missing_on_a_later_line_says_how_the_pair_was_chosen(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"document": "d", "summary": "s"},
                                              {"document": "d"}])
    with pytest.raises(UsageError, match=r"x.jsonl, line 2: no field 'summary' \(set with "
                                          r"--target_field; 'document' and 'summary' were "
                                          r"chosen from the fields of line 1\)"):
        read_pair_file(path)


def test_jsonl_several_known_pairs_is_an_error_not_a_guess(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"document": "d", "text": "t", "summary": "s"}])
    with pytest.raises(UsageError, match=r"line 1: .*several known pairs \(document/summary, "
                                          r"text/summary\); choose with --source_field"):
        read_pair_file(path)
    assert pairs(path, source_field="text", target_field="summary") == [("t", "s")]


def test_jsonl_nested_fields_with_dots(tmp_path):
    path = write_jsonl(tmp_path / "wmt.jsonl", [{"translation": {"de": "Hallo", "en": "Hi"}}])
    assert pairs(path, source_field="translation.de",
                 target_field="translation.en") == [("Hallo", "Hi")]
    with pytest.raises(UsageError, match=r"no field 'source', 'target' .*e\.g\. translation"
                                          r"\.de\); the object has fields: 'translation'"):
        read_pair_file(path)


@pytest.mark.parametrize("line, message", [
    ('{"source": "a", "target": ""}', r"line 2: the target \(field 'target'\) is empty"),
    ('{"source": " ", "target": "\\t"}',
     r"line 2: the source \(field 'source'\) and the target \(field 'target'\) are empty"),
    ('{"source": "a", "target": ["x"]}', r"line 2: the target 'target' must be a string, "
                                         r"found \[\"x\"\]"),
    ('{"source": "a", "target": null}', r"line 2: the target 'target' must be a string"),
    ('{"source": "a", ', r"line 2: invalid JSON"),
    ('["a", "b"]', r"line 2: expected a JSON object, found list"),
])
def test_jsonl_bad_records_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "bad.jsonl", '{"source": "ok", "target": "ok"}\n' + line + "\n")
    with pytest.raises(UsageError, match=r"--train_file: file .*bad.jsonl, " + message):
        read_pair_file(path)


def test_one_field_or_column_each(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"a": "x", "b": "y", "c": "z"}])
    with pytest.raises(UsageError, match="--source_field=a,b: give one source field"):
        read_pair_file(path, source_field="a,b", target_field="c")
    path = write(tmp_path / "d.csv", "x,y,z\n")
    with pytest.raises(UsageError, match="--target_column=1,2: give one target column"):
        read_pair_file(path, target_column="1,2")


# --- CSV and TSV -------------------------------------------------------------------------

def test_csv_with_header_and_quoted_multiline_fields(tmp_path):
    text = ('id,body,title\n'
            '1,"Stocks rose.\nBonds, too; ""record"" day.",Markets up\n'
            '2,Rain all week.,"Weather, again"\n'
            '3,too,many,fields\n')
    path = write(tmp_path / "news.csv", text)
    with pytest.raises(UsageError, match=r"news.csv, line 5: 4 field\(s\), but the header "
                                          r"\(line 1\) has 3. A CSV field that holds a comma"):
        read_pair_file(path, source_column="body", target_column="title")
    path = write(tmp_path / "news.csv", text.rsplit("3,", 1)[0])
    assert pairs(path, source_column="body", target_column="Title") == [
        ('Stocks rose.\nBonds, too; "record" day.', "Markets up"),
        ("Rain all week.", "Weather, again")]


def test_csv_header_with_the_default_or_known_names(tmp_path):
    path = write(tmp_path / "a.csv", "Target,Source\nshort,long text\n")
    assert pairs(path) == [("long text", "short")]
    path = write(tmp_path / "cnn.csv", "id,article,highlights\n7,The story.,Its gist.\n")
    assert pairs(path) == [("The story.", "Its gist.")]


def test_csv_header_name_missing_lists_the_columns_and_flag(tmp_path):
    path = write(tmp_path / "a.csv", "source,summary\nlong,short\n")
    with pytest.raises(UsageError, match=r"--target_column: .*a.csv has no column named "
                                          r"'target' \(the default of --target_column\); its "
                                          r"header \(line 1\) has the columns 'source', "
                                          r"'summary'"):
        read_pair_file(path)
    with pytest.raises(UsageError, match=r"no column named 'abstract' \(--target_column\)"):
        read_pair_file(path, target_column="abstract")
    assert pairs(path, target_column="summary") == [("long", "short")]


def test_tsv_today_layout_reads_unchanged(tmp_path):
    text = "Guten Morgen\tGood morning\nEr sagte: \"Ja\".\tHe said: \"Yes\".\n\n"
    tsv = write(tmp_path / "train.tsv", text)
    plain = write(tmp_path / "train.txt", text.rstrip("\n") + "\n")
    expected = [("Guten Morgen", "Good morning"), ('Er sagte: "Ja".', 'He said: "Yes".')]
    assert pairs(tsv) == pairs(plain) == expected
    assert detect_format(tsv) == "tsv" and detect_format(plain) == "plain"


def test_tsv_written_by_pandas_quotes_tabs_and_line_breaks(tmp_path):
    path = write(tmp_path / "d.tsv", 'source\ttarget\n"a\tb\nc"\t"say ""hi"""\n')
    assert pairs(path) == [("a\tb\nc", 'say "hi"')]


def test_tsv_line_without_a_tab_names_its_line(tmp_path):
    path = write(tmp_path / "bad.tsv", "a\tb\n\nno tab here\n")
    with pytest.raises(UsageError, match=r"bad.tsv, line 3: expected `source<TAB>target`, "
                                          r"found 1 field\(s\)"):
        read_pair_file(path)


def test_columns_by_index_without_header(tmp_path):
    # Tatoeba / ManyThings: eng<TAB>fra<TAB>attribution, in a .txt file.
    path = write(tmp_path / "fra.txt", "Go.\tVa !\tCC-BY 2.0 #2877272\n"
                                       "Hi.\tSalut !\tCC-BY 2.0 #538123\n")
    assert pairs(path, format="tsv") == [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert pairs(path, format="tsv", source_column=1, target_column="0") == [
        ("Va !", "Go."), ("Salut !", "Hi.")]
    assert pairs(path, format="tsv", source_column=-2) == pairs(path, format="tsv",
                                                                source_column=1)
    assert pairs(path, format="tsv", target_column=0) == pairs(path, format="tsv",
                                                               source_column=1)
    with pytest.raises(UsageError, match=r"--target_column=3: .*fra.txt has 3 column\(s\) "
                                          r"\(line 1\), numbered 0 to 2"):
        read_pair_file(path, format="tsv", target_column=3)
    with pytest.raises(UsageError, match=r"--target_column: column 1 is also a "
                                          r"--source_column"):
        read_pair_file(path, format="tsv", source_column=1, target_column=1)


def test_one_column_file_names_the_flags(tmp_path):
    path = write(tmp_path / "one.csv", "only\nfields\n")
    with pytest.raises(UsageError, match=r"one.csv has 1 column\(s\) \(line 1\): no column 1 "
                                          r"to read; pass --source_column and --target_column"):
        read_pair_file(path)


@pytest.mark.parametrize("name, text, message", [
    ("e.csv", "a,b\nc,\n", r"line 2: the target \(column 1\) is empty"),
    ("e.csv", "source,target\n ,x\n", r"line 2: the source \(column 'source'\) is empty"),
    ("e.tsv", 'a\tb\n"Hi," she said.\tx\n',
     r"line 2: malformed TSV record .*another extension \(e.g. .txt\)"),
    ("e.csv", 'a,"b"x\n', r"line 1: malformed CSV record .*two quotes"),
    ("e.csv", "source,target\n\n", r"has no examples \(only a header or blank lines\)"),
    ("e.jsonl", "\n \n", r"is empty"),
])
def test_bad_delimited_records_name_file_and_line(tmp_path, name, text, message):
    path = write(tmp_path / name, text)
    with pytest.raises(UsageError, match=r"--train_file: file .*" + message):
        read_pair_file(path)


def test_column_flags_with_a_plain_file_point_at_format(tmp_path):
    path = write(tmp_path / "pairs.txt", "a\tb\n")
    with pytest.raises(UsageError, match=r"--source_column: .*pairs.txt is read as "
                                          r"`source<TAB>target` lines.*--format=tsv"):
        read_pair_file(path, source_column=1)
    # Field flags are for JSON Lines: unused here, as with a CSV file.
    assert pairs(path, source_field="x") == [("a", "b")]


@pytest.mark.parametrize("format, message", [
    ("lines", "--format=lines is a classification layout"),
    ("fasttext", "--format=fasttext is a classification layout"),
    ("xml", "--format=xml: unknown format; choose one of csv, tsv, jsonl"),
])
def test_formats_other_than_csv_tsv_jsonl_are_errors(tmp_path, format, message):
    path = write(tmp_path / "a.txt", "a\tb\n")
    with pytest.raises(UsageError, match=message):
        read_pair_file(path, format=format)


def test_format_overrides_the_extension_and_encoding_decodes(tmp_path):
    path = write(tmp_path / "data.txt", '{"source": "Où ?", "target": "Where?"}\n', "latin-1")
    with pytest.raises(UsageError, match=r"data.txt, line 1: invalid UTF-8.*--encoding"):
        read_pair_file(path, format="jsonl")
    assert pairs(path, format="jsonl", encoding="latin-1") == [("Où ?", "Where?")]


# --- Several files, load_splits ----------------------------------------------------------

def test_several_files_of_several_formats_in_order(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", [{"email": "e1", "subject": "s1"}])
    write(tmp_path / "a.csv", "body,title\ne2,s2\n")
    write(tmp_path / "c.tsv", "title\tbody\ns3\te3\n")
    value = f"{tmp_path}/c.tsv,{tmp_path}/*.jsonl,{tmp_path}/a.csv"
    got = read_pair_files(value, source_field="email", target_field="subject",
                          source_column="body", target_column="title")
    assert [(r["source"], r["target"]) for r in got] == [("e3", "s3"), ("e1", "s1"),
                                                          ("e2", "s2")]


def test_load_splits_summarization_from_jsonl_end_to_end(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl",
                        [{"id": str(i), "email": f"Body {i}.", "subject": f"Subj {i}"}
                         for i in range(40)])
    dev = write_jsonl(tmp_path / "dev.jsonl", AESLC_SAMPLE)
    test = write(tmp_path / "test.csv", "email,subject\n\"Long, long\nmail\",Short\n")
    splits = load_splits("summarization", dataset="files", train_file=train, eval_file=dev,
                         test_file=test, source_field="email", target_field="subject",
                         source_column="email", target_column="subject")
    for dataset in (splits.train, splits.validation, splits.test):
        assert dataset.element_spec == {"source": tf.TensorSpec([], tf.string),
                                        "target": tf.TensorSpec([], tf.string)}
    assert splits.info["sizes"] == {"train": 40, "validation": 3, "test": 1}
    assert records(splits.train)[0] == {"source": "Body 0.", "target": "Subj 0"}
    assert records(splits.validation)[2] == {"source": "Café at 3 «today»?", "target": "Café"}
    assert records(splits.test) == [{"source": "Long, long\nmail", "target": "Short"}]
    assert "--test_file" in splits.info["sources"]["test"]


def test_load_splits_nmt_csv_and_held_out_validation(tmp_path):
    rows = "".join(f"Satz {i},sentence {i}\n" for i in range(40))
    path = write(tmp_path / "de-en.csv", "de,en\n" + rows)
    splits = load_splits("nmt", "files", train_file=path, source_column="de",
                         target_column="en", seed=3)
    assert splits.info["sizes"] == {"train": 38, "validation": 2}
    assert all(r["source"].replace("Satz", "sentence") == r["target"]
               for r in records(splits.train) + records(splits.validation))


def test_load_splits_reader_options_and_their_errors(tmp_path):
    assert {"source_field", "target_field", "source_column", "target_column", "format",
            "encoding"} <= set(READER_OPTIONS)
    path = write(tmp_path / "a.tsv", "a\tb\nc\td\n")
    with pytest.raises(UsageError, match="--format=lines is a classification layout"):
        load_splits("summarization", "files", train_file=path, format="lines")
    with pytest.raises(TypeError, match="unexpected keyword argument.*source_fields"):
        load_splits("summarization", "files", train_file=path, source_fields="x")
    # Classification options are unused by pair files, and the other way round.
    splits = load_splits("nmt", "files", train_file=path, eval_file=path, text_column="x")
    assert records(splits.validation) == [{"source": "a", "target": "b"},
                                          {"source": "c", "target": "d"}]
    splits = load_splits("classification", "files", train_file=path, eval_file=path,
                         source_field="x", target_column="y")
    assert splits.info["label_names"] == ["a", "c"]
    with pytest.raises(UsageError, match=r"dev.jsonl, line 1: no field 'source', 'target'"):
        load_splits("summarization", "files", train_file=path,
                    eval_file=write_jsonl(tmp_path / "dev.jsonl", [{"a": "b"}]))


# --- The real AESLC files ----------------------------------------------------------------

def test_real_aeslc_dev_file(shared_data):
    path = shared_data / "aeslc" / "dev.jsonl"
    if not path.is_file():
        pytest.skip("aeslc/dev.jsonl is absent")
    got = read_pair_file(path, source_field="email", target_field="subject")
    assert len(got) == 1960
    first = json.loads(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert got[0] == {"source": first["email"], "target": first["subject"]}
    assert read_pair_file(path) == got  # email/subject, a known pair
    splits = load_splits("summarization", "files", train_file=str(path),
                         eval_file=str(path), source_field="email", target_field="subject",
                         sizes={"train": 10})
    assert splits.info["sizes"] == {"train": 10, "validation": 1960}
    assert records(splits.train)[0]["target"] == first["subject"]
