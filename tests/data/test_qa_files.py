"""QA files as users hold them: SQuAD v1.1/v2.0 JSON, JSON Lines, bAbI text (samples and
the real task files), several files per flag, and every promised UsageError."""

import json

import pytest

from zoo.data.qa_files import (
    ANSWER_SEPARATOR,
    detect_format,
    gold_answers,
    join_answers,
    qa_records_to_columns,
    read_qa_file,
    read_qa_files,
    split_answers,
)
from zoo.errors import UsageError

KEYS = {"id", "question", "context", "answers", "answer_starts", "answer", "answer_start",
        "source"}


def write(path, text, encoding="utf-8"):
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return str(path)


def write_json(path, value):
    return write(path, json.dumps(value, indent=1))


def write_jsonl(path, *objects):
    return write(path, "".join((obj if isinstance(obj, str) else json.dumps(obj)) + "\n"
                               for obj in objects))


def squad(*paragraphs, version="1.1"):
    return {"version": version, "data": [{"title": "Super_Bowl_50", "paragraphs": [
        {"context": context, "qas": qas} for context, qas in paragraphs]}]}


def spans_hold(records):
    for record in records:
        assert set(record) == KEYS
        assert record["answer"] == (record["answers"][0] if record["answers"] else "")
        assert record["answer_start"] == (record["answer_starts"][0]
                                          if record["answer_starts"] else -1)
        assert len(record["answers"]) == len(record["answer_starts"])
        for answer, start in zip(record["answers"], record["answer_starts"]):
            if start >= 0:
                assert record["context"][start:start + len(answer)] == answer


CONTEXT = "The Denver Broncos defeated the Carolina Panthers 24-10 to earn their title."


# --- SQuAD JSON --------------------------------------------------------------------------

def test_squad_v1_keeps_every_gold_answer_and_the_ids(tmp_path):
    path = write_json(tmp_path / "dev-v1.1.json", squad((CONTEXT, [
        {"id": "56be4db0acb8001400a502ec", "question": "Who won?", "answers": [
            {"text": "Denver Broncos", "answer_start": 4},
            {"text": "Broncos", "answer_start": 11},
            {"text": "Denver Broncos", "answer_start": 4}]},
        {"id": "56be4db0acb8001400a502ed", "question": "Who lost?", "answers": [
            {"text": "Carolina Panthers", "answer_start": 32}]}])))
    records = read_qa_file(path, "--eval_file")
    spans_hold(records)
    assert records[0] == {
        "id": "56be4db0acb8001400a502ec", "question": "Who won?", "context": CONTEXT,
        "answers": ["Denver Broncos", "Broncos", "Denver Broncos"],
        "answer_starts": [4, 11, 4], "answer": "Denver Broncos", "answer_start": 4,
        "source": path}
    assert records[1]["answers"] == ["Carolina Panthers"]
    assert gold_answers(records) == {"56be4db0acb8001400a502ec": ["Denver Broncos", "Broncos",
                                                                  "Denver Broncos"],
                                     "56be4db0acb8001400a502ed": ["Carolina Panthers"]}


def test_squad_v2_impossible_questions_have_no_answers(tmp_path):
    path = write_json(tmp_path / "train-v2.0.json", squad((CONTEXT, [
        {"id": "a", "question": "Who won?", "is_impossible": False,
         "answers": [{"text": "Denver Broncos", "answer_start": 4}]},
        {"id": "b", "question": "Who won in 1990?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "Denver Broncos", "answer_start": 4}]},
        {"id": "c", "question": "Who sang?", "is_impossible": True,  # no answers field
         "plausible_answers": [{"text": "Carolina", "answer_start": 32}]}]),
        ("Second paragraph.", [{"id": "d", "question": "What?", "answers": []}]),
        version="v2.0"))
    records = read_qa_file(path)
    spans_hold(records)
    assert [(r["id"], r["answers"], r["answer"], r["answer_start"]) for r in records] == [
        ("a", ["Denver Broncos"], "Denver Broncos", 4), ("b", [], "", -1), ("c", [], "", -1),
        ("d", [], "", -1)]
    assert records[3]["context"] == "Second paragraph."


def test_squad_wrong_answer_start_names_file_id_and_fix(tmp_path):
    path = write_json(tmp_path / "train.json", squad((CONTEXT, [
        {"id": "q-17", "question": "Who won?",
         "answers": [{"text": "Denver Broncos", "answer_start": 5}]}])))
    with pytest.raises(UsageError) as error:
        read_qa_file(path)
    message = str(error.value)
    assert "train.json" in message and "'q-17'" in message
    assert "answer_start 5" in message and "occurs at offset 4" in message
    assert "Fix answer_start" in message


@pytest.mark.parametrize("qa, expected", [
    ({"question": "Who?", "answers": []}, r"article 0 \('Super_Bowl_50'\), paragraph 0, "
                                          r"question 1: missing \"id\""),
    ({"id": "q2", "answers": []}, r"question id 'q2': missing \"question\""),
    ({"id": "q2", "question": "Who?"}, r"question id 'q2': missing \"answers\""),
    ({"id": "q2", "question": "Who?", "answers": [{"text": "Denver"}]},
     r"question id 'q2', answer 1: \"answer_start\" must be"),
    ({"id": "q2", "question": "Who?", "answers": [{"answer_start": 4}]},
     r"question id 'q2', answer 1: missing or empty \"text\""),
    ({"id": "q2", "question": "Who?", "is_impossible": "no", "answers": []},
     r"question id 'q2': \"is_impossible\" must be true or false"),
])
def test_squad_missing_fields_name_the_file_and_the_question(tmp_path, qa, expected):
    path = write_json(tmp_path / "dev.json", squad((CONTEXT, [
        {"id": "q1", "question": "Who won?", "answers": []}, qa])))
    with pytest.raises(UsageError, match=r"--train_file: file .*dev\.json, " + expected):
        read_qa_file(path)


def test_squad_structure_errors(tmp_path):
    path = write_json(tmp_path / "dev.json", {"data": [{"title": "T", "paragraphs": [
        {"context": CONTEXT, "qas": []}, {"qas": []}]}]})
    with pytest.raises(UsageError, match=r"article 0 \('T'\), paragraph 1: missing or "
                                         r"mistyped context"):
        read_qa_file(path)
    write_json(tmp_path / "dev.json", [{"question": "Who?"}])
    with pytest.raises(UsageError, match=r"expected SQuAD JSON.*found a JSON list.*JSON Lines"):
        read_qa_file(path)
    write(tmp_path / "dev.json", '{"version": "1.1",\n "data": [\n  {"title": }]}')
    with pytest.raises(UsageError, match=r"dev\.json, line 3: invalid JSON \(Expecting value "
                                         r"at column 13\)"):
        read_qa_file(path)


def test_squad_empty_context_with_an_answer_is_an_error(tmp_path):
    path = write_json(tmp_path / "dev.json", squad(("", [
        {"id": "q1", "question": "Who?", "answers": [{"text": "Ann", "answer_start": 0}]}])))
    with pytest.raises(UsageError, match=r"question id 'q1': the context is empty but the "
                                         r"question has an answer"):
        read_qa_file(path)
    write_json(tmp_path / "dev.json", squad(("", [{"id": "q1", "question": "Who?",
                                                   "answers": []}])))
    assert read_qa_file(path)[0]["answers"] == []


def test_squad_without_questions_is_an_error(tmp_path):
    path = write_json(tmp_path / "dev.json", {"version": "1.1", "data": []})
    with pytest.raises(UsageError, match=r"dev\.json holds no question \(read as squad\)"):
        read_qa_file(path)


# --- JSON Lines --------------------------------------------------------------------------

def test_jsonl_answer_and_answers_variants(tmp_path):
    context = "Ann went to the start of the art show with Bo."
    path = write_jsonl(
        tmp_path / "train.jsonl",
        {"question": "Who?", "context": context, "answer": "Ann", "answer_start": 0},
        {"question": "What?", "context": context, "answer": "art"},  # whole word: not "start"
        {"question": "Who else?", "context": context, "answers": ["Bo", "Ann"], "id": 7},
        "",
        {"question": "Who?", "context": context,
         "answers": [{"text": "Ann", "answer_start": 0}, {"text": "Bo"}]},
        {"question": "Who?", "context": context,
         "answers": {"text": ["Ann", "Bo"], "answer_start": [0, 43]}},  # Hugging Face layout
        {"question": "How many?", "context": context, "answer": "two"},  # generative-only
        {"question": "Who?", "context": context, "answer": "Ann", "answer_start": -1},
        {"question": "Where?", "context": context, "answer": ""},
        {"question": "Where?", "context": context, "answers": [], "id": "x"},
        {"question": "Who?", "context": context, "answers": ["Bo", "Ann"],
         "answer_start": [43, -1]})
    records = read_qa_file(path)
    spans_hold(records)
    assert [(r["id"], r["answers"], r["answer_starts"]) for r in records] == [
        ("train-1", ["Ann"], [0]),
        ("train-2", ["art"], [29]),
        ("7", ["Bo", "Ann"], [43, 0]),
        ("train-5", ["Ann", "Bo"], [0, 43]),
        ("train-6", ["Ann", "Bo"], [0, 43]),
        ("train-7", ["two"], [-1]),
        ("train-8", ["Ann"], [-1]),
        ("train-9", [], []),
        ("x", [], []),
        ("train-11", ["Bo", "Ann"], [43, -1])]
    assert records[5]["answer"] == "two" and records[5]["answer_start"] == -1
    assert all(r["source"] == path for r in records)


def test_jsonl_search_takes_the_first_occurrence_and_falls_back_for_unspaced_text(tmp_path):
    path = write_jsonl(
        tmp_path / "dev.jsonl",
        {"question": "Q", "context": "Bo met Bo.", "answer": "Bo"},
        {"question": "问", "context": "北京是中国的首都。", "answer": "北京"},
        {"question": "问", "context": "中国的首都是北京。", "answer": "北京"})
    assert [r["answer_start"] for r in read_qa_file(path)] == [0, 0, 6]


@pytest.mark.parametrize("line, expected", [
    ('{"question": "Q", "answer": "A"}', r"missing or non-string field\(s\) context"),
    ('{"question": "Q", "context": "A"}', r"missing .* answer \(or answers\)"),
    ('{"question": "Q", "context": 3, "answer": "A"}', r"missing .*context"),
    ('{"question": "Q", "context": "A b", "answer": "A", "answers": ["A"]}',
     r"both \"answer\" and \"answers\""),
    ('{"question": "Q", "context": "A b", "answer": ["A"]}', r"\"answer\" must be a string"),
    ('{"question": "Q", "context": "A b", "answers": "A"}', r"\"answers\" must be a list"),
    ('{"question": "Q", "context": "A b", "answers": ["A", ""]}',
     r"answer 2 must be a non-empty string"),
    ('{"question": "Q", "context": "A b", "answers": ["A", "b"], "answer_start": [0]}',
     r"with \"answers\", \"answer_start\" must be a list with one offset an answer \(2\)"),
    ('{"question": "Q", "context": "A b", "answers": [{"text": "A"}], "answer_start": [0]}',
     r"\"answer_start\" beside answers that carry their own"),
    ('{"question": "Q", "context": "A b", "answers": {"text": ["A"], "answer_start": []}}',
     r"\"answers\" as an object needs a list \"text\""),
    ('{"question": "Q", "context": "A b", "answer": "A", "answer_start": "0"}',
     r"\"answer_start\" must be an integer"),
    ('{"question": "Q", "context": "A b", "answer": "A", "answer_start": -3}',
     r"answer_start -3 is negative"),
    ('{"question": "Q", "context": "A b", "answer": "b", "answer_start": 0}',
     r"answer_start 0 does not point at the answer 'b': the context has 'A' there; "
     r"the answer occurs at offset 2"),
    ('{"question": "Q", "context": " ", "answer": "b"}', r"the context is empty"),
    ('{"question": "Q", "context": "A b", "answer": "A", "id": ""}', r"\"id\" must be"),
    ('{"question": "Q", "context": "A", "answer": "A",}', r"invalid JSON \(.* at "
                                                          r"column 49\)"),
    ('["Q", "A", "A"]', r"expected a JSON object, found list"),
])
def test_jsonl_errors_name_the_file_and_the_line(tmp_path, line, expected):
    path = write_jsonl(tmp_path / "train.jsonl",
                       {"question": "Q", "context": "A b", "answer": "A"}, line)
    with pytest.raises(UsageError,
                       match=r"--eval_file: file .*train\.jsonl, line 2: " + expected):
        read_qa_file(path, "--eval_file")


def test_jsonl_encoding(tmp_path):
    text = json.dumps({"question": "Où ?", "context": "À Köln.", "answer": "Köln"},
                      ensure_ascii=False)
    path = write(tmp_path / "dev.jsonl", text, encoding="latin-1")
    with pytest.raises(UsageError, match=r"dev\.jsonl, line 1: invalid UTF-8.*--encoding"):
        read_qa_file(path)
    record, = read_qa_file(path, encoding="latin-1")
    assert (record["question"], record["answer_start"]) == ("Où ?", 2)


# --- bAbI --------------------------------------------------------------------------------

BABI = """\
1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Mary went back to the kitchen.
5 Is Mary in the bathroom? \tno\t4
6 Mary travelled to the bathroom.
7 Where is Mary? \tbathroom\t6
1 Daniel went north.
2 Daniel went west.
3 How do you go to the garden? \tnorth,west\t1 2
4 How many things is Daniel carrying? \tnone\t
5 Where did Daniel go first? \tnorth
"""


def test_babi_stories(tmp_path):
    path = write(tmp_path / "qa_sample.txt", BABI)
    records = read_qa_file(path)
    spans_hold(records)
    first, second = ("Mary moved to the bathroom. John went to the hallway.",
                     "Mary moved to the bathroom. John went to the hallway. Mary went back to "
                     "the kitchen. Mary travelled to the bathroom.")
    assert [(r["id"], r["question"], r["context"], r["answers"], r["answer_start"])
            for r in records] == [
        ("qa_sample-1", "Where is Mary?", first, ["bathroom"], 18),
        ("qa_sample-2", "Is Mary in the bathroom?", first + " Mary went back to the kitchen.",
         ["no"], -1),  # yes/no answers are not spans
        ("qa_sample-3", "Where is Mary?", second, ["bathroom"], second.rindex("bathroom")),
        # The numbering restarted at 1: a new story, without the old one's sentences.
        ("qa_sample-4", "How do you go to the garden?", "Daniel went north. Daniel went west.",
         ["north,west"], -1),  # list answers kept as written
        ("qa_sample-5", "How many things is Daniel carrying?",
         "Daniel went north. Daniel went west.", ["none"], -1),
        ("qa_sample-6", "Where did Daniel go first?", "Daniel went north. Daniel went west.",
         ["north"], 12)]
    assert second.rindex("bathroom") > 18 and all(r["source"] == path for r in records)


def test_babi_answer_start_is_a_whole_word(tmp_path):
    path = write(tmp_path / "qa.txt", "1 Bill went to the office.\n2 The nook is big.\n"
                                      "3 Is it? \tno\t1\n4 Where is the office? \toff\t1\n")
    assert [r["answer_start"] for r in read_qa_file(path)] == [-1, -1]


@pytest.mark.parametrize("text, expected", [
    ("1 Mary moved.\nWhere is Mary?\tnowhere\t1\n", r"line 2: expected a bAbI line"),
    ("1 Mary moved.\n3 John moved.\n2 Where is Mary?\tx\t1\n", r"line 3: ID 2 after ID 3"),
    ("1 Where is Mary?\tx\t1\n", r"line 1: the question 'Where is Mary\?' has no story"),
    ("1 Mary moved.\n2 Where is Mary?\t\t1\n", r"line 2: a question line is"),
    ("1 Mary moved.\n2 Where?\tx\t1\textra\n", r"line 2: a question line is .* found 4"),
    ("1 Mary moved.\n2 John moved.\n", r"holds no question \(read as babi\)"),
])
def test_babi_errors_name_the_file_and_the_line(tmp_path, text, expected):
    path = write(tmp_path / "qa1_train.txt", text)
    with pytest.raises(UsageError, match=r"--train_file: file .*qa1_train\.txt" + r".*" +
                                         expected):
        read_qa_file(path, format="babi")


def test_real_babi_task_files(shared_data):
    folder = shared_data / "babi" / "en"
    task1 = folder / "qa1_single-supporting-fact_train.txt"
    if not task1.is_file():
        pytest.skip("the bAbI files are absent")
    records = read_qa_file(task1)
    spans_hold(records)
    assert len(records) == 1000 and len({r["id"] for r in records}) == 1000
    assert records[0] == {
        "id": "qa1_single-supporting-fact_train-1", "question": "Where is Mary?",
        "context": "Mary moved to the bathroom. John went to the hallway.",
        "answers": ["bathroom"], "answer_starts": [18], "answer": "bathroom",
        "answer_start": 18, "source": str(task1)}
    assert all(r["answer_start"] >= 0 for r in records)  # task 1 is extractive
    assert not any(char.isdigit() for r in records[:50] for char in r["context"])
    lists = read_qa_file(folder / "qa8_lists-sets_train.txt")
    assert len(lists) == 1000
    assert any("," in r["answer"] and r["answer_start"] == -1 for r in lists)
    yes_no = read_qa_file(folder / "qa6_yes-no-questions_test.txt")
    assert {r["answer"] for r in yes_no} == {"yes", "no"}
    assert all(r["answer_start"] == -1 for r in yes_no)
    every = read_qa_files(f"{folder}/qa*_train.txt,{folder}/qa*_test.txt", "--train_file")
    assert len(every) == 20000  # tasks 1-10, train and test, ids unique across the files


# --- the dispatcher, several files, columns ----------------------------------------------

def test_detect_format():
    assert detect_format("train-v1.1.json") == "squad"
    assert detect_format("dev.JSONL") == "jsonl"
    assert detect_format("qa.txt", ["", "1 Mary moved."]) == "babi"
    assert detect_format("qa.json", ['{"question": "Q", "context": "C", "answer": ""}']) == \
        "jsonl"
    assert detect_format("qa.json", ['{"version": "1.1", "data": []}']) == "squad"
    assert detect_format("qa.json", ["{", '"data": []', "}"]) == "squad"
    assert detect_format("qa.data", ['{"question": "Q"}']) == "jsonl"
    assert detect_format("qa.jsonl", format="squad") == "squad"
    with pytest.raises(UsageError, match=r"--format=csv: unknown QA format; choose one of "
                                         r"squad, jsonl, babi"):
        detect_format("qa.json", format="csv")
    with pytest.raises(UsageError, match=r"cannot tell its QA format.*--format=squad"):
        detect_format("qa.txt", ["Where is Mary?\tbathroom"])


def test_dispatcher_reads_by_content_and_format(tmp_path):
    jsonl_as_json = write_jsonl(tmp_path / "dev.json",
                                {"question": "Q", "context": "Ann ran.", "answer": "Ann"})
    assert read_qa_file(jsonl_as_json)[0]["id"] == "dev-1"
    babi_as_data = write(tmp_path / "stories.data", BABI)
    assert len(read_qa_file(babi_as_data)) == 6
    squad_as_txt = write_json(tmp_path / "squad.txt", squad((CONTEXT, [
        {"id": "q1", "question": "Who?", "answers": [{"text": "Denver", "answer_start": 4}]}])))
    assert read_qa_file(squad_as_txt)[0]["answers"] == ["Denver"]
    with pytest.raises(UsageError, match=r"line 1: invalid JSON"):
        read_qa_file(babi_as_data, format="jsonl")
    empty = write(tmp_path / "empty.jsonl", "\n\n")
    with pytest.raises(UsageError, match=r"--eval_file: file .*empty\.jsonl is empty"):
        read_qa_file(empty, "--eval_file")
    with pytest.raises(UsageError, match=r"file .*absent\.json does not exist"):
        read_qa_file(tmp_path / "absent.json")


def test_several_files_keep_their_source(tmp_path):
    babi = write(tmp_path / "qa1_train.txt", BABI)
    jsonl = write_jsonl(tmp_path / "extra.jsonl",
                        {"question": "Who?", "context": "Ann ran.", "answer": "Ann"})
    squad_file = write_json(tmp_path / "dev.json", squad((CONTEXT, [
        {"id": "q1", "question": "Who?", "answers": [{"text": "Denver", "answer_start": 4}]}])))
    records = read_qa_files(f"{jsonl},{babi}, {squad_file}", "--train_file")
    assert [r["source"] for r in records] == [jsonl] + [babi] * 6 + [squad_file]
    assert [r["id"] for r in records][:3] == ["extra-1", "qa1_train-1", "qa1_train-2"]
    assert read_qa_files([squad_file, jsonl])[0]["source"] == squad_file
    (tmp_path / "other").mkdir()
    twin = write_jsonl(tmp_path / "other" / "extra.jsonl",
                       {"question": "Who?", "context": "Bo ran.", "answer": "Bo"})
    with pytest.raises(UsageError, match=r"--eval_file: the question id 'extra-1' occurs "
                                         r"twice \(files .*extra\.jsonl and .*extra\.jsonl\)"):
        read_qa_files([jsonl, twin], "--eval_file")
    assert len(read_qa_files([jsonl, twin], unique_ids=False)) == 2
    same = write_jsonl(tmp_path / "same.jsonl", {"id": "a", "question": "Q", "context": "C",
                                                 "answer": ""},
                       {"id": "a", "question": "Q", "context": "C", "answer": ""})
    with pytest.raises(UsageError, match=r"'a' occurs twice \(file .*same\.jsonl\)"):
        read_qa_file(same)
    with pytest.raises(UsageError, match=r"--train_file: the pattern .* matches no file"):
        read_qa_files(f"{tmp_path}/*.missing")


def test_answers_travel_through_tf_data_joined(tmp_path):
    import tensorflow as tf

    from zoo.data.splits import records_to_dataset

    path = write_jsonl(tmp_path / "dev.jsonl",
                       {"question": "Who?", "context": "Ann and Bo ran.",
                        "answers": ["Ann", "Ann and Bo"]},
                       {"question": "Why?", "context": "Ann and Bo ran.", "answers": []})
    records = read_qa_file(path)
    columns = qa_records_to_columns(records)
    assert columns["answers"] == [f"Ann{ANSWER_SEPARATOR}Ann and Bo", ""]
    assert columns["answer_start"] == [0, -1] and columns["source"] == [path, path]
    rows = list(tf.data.Dataset.from_tensor_slices(columns).as_numpy_iterator())
    assert [split_answers(row["answers"]) for row in rows] == [["Ann", "Ann and Bo"], []]
    assert [row["id"] for row in rows] == [b"dev-1", b"dev-2"]
    # The records as they are feed the existing qa record datasets.
    row = next(records_to_dataset(records, "qa").as_numpy_iterator())
    assert (row["answer"], int(row["answer_start"])) == (b"Ann", 0)
    with pytest.raises(ValueError, match="answer_starts"):
        qa_records_to_columns(records, ("answer_starts",))
    with pytest.raises(ValueError, match="separator"):
        join_answers(["a\x1fb"])
    assert split_answers(join_answers(["north,west", "x"])) == ["north,west", "x"]
