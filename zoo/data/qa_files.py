"""Question-answering files as users hold them: SQuAD JSON, JSON Lines and bAbI text.

Every reader returns a list of dict records, one a question, in file order:

    {"id": str, "question": str, "context": str,
     "answers": [str, ...],       # every gold answer as written; [] = unanswerable
     "answer_starts": [int, ...], # character offset of each answer in the context, -1
                                  # where unknown (the answer is not a span: generative)
     "answer": str,               # answers[0], or "" when there is none
     "answer_start": int,         # answer_starts[0], or -1
     "source": str}               # the file it came from (for per-file reports)

Offsets count characters (Unicode code points, as Python strings and
`tf.strings.substr(..., unit="UTF8_CHAR")` do) from 0; wherever an offset is not -1,
`context[start:start + len(answer)] == answer`. The `answer`/`answer_start` pair is what
span training uses (`zoo.data.span_qa_batches`: an example whose `answer_start` is -1 is
dropped there, so it is generative-only); `answers` is what SQuAD EM/F1 scores
(`gold_answers(records)` gives `zoo.metrics.squad_scores` its `{id: answers}`). Gold
answers are kept as written and in order, repeats included (SQuAD's dev set repeats them).

Formats (`FORMATS`), chosen by `detect_format`: the `format` argument when given, else
`.json` → `squad` (or `jsonl` when its first line is a JSON object by itself that has no
`data`), `.jsonl` → `jsonl`, any other extension → `babi` when the first non-blank line
looks like `ID text` (`jsonl`/`squad` when it starts with `{`).

- `squad`: SQuAD v1.1 and v2.0 JSON, `{"version", "data": [{"title", "paragraphs":
  [{"context", "qas": [{"id", "question", "answers": [{"text", "answer_start"}],
  "is_impossible"?, "plausible_answers"?}]}]}]}`. Every gold answer and the ids are kept.
  A question with `"is_impossible": true` has no answers (its `plausible_answers` are
  ignored: they are not answers, and training on them would teach the model to answer
  the unanswerable). Each answer's `answer_start` must point at its text in the context.
- `jsonl`: one object a line with `question`, `context`, and either `answer` (a string;
  `""` = unanswerable) or `answers`: a list of strings, a list of SQuAD answers
  `{"text", "answer_start"?}`, or the `{"text": [...], "answer_start": [...]}` columns
  that Hugging Face `datasets` writes. Optional: `answer_start` (an integer with `answer`,
  a list of integers with a list of strings; -1 = not a span) and `id` (a string or an
  integer; default `<file stem>-<line number>`). An answer without a start is looked for
  in the context: its first occurrence as a whole word (not inside a longer word), else
  its first occurrence anywhere (scripts written without spaces), else -1, and then the
  example is generative-only (no span to train on; EM/F1 still score it). Blank lines are
  skipped; other fields are ignored.
- `babi`: the bAbI tasks' text format. Lines are `ID sentence`; the ID restarts at 1 for
  each story; question lines are `ID question<TAB>answer<TAB>supporting ids`. A
  question's context is its story's sentences before it, in order, without their IDs and
  without the earlier questions, joined by single spaces. The supporting ids are
  ignored. The answer is kept as written: list answers stay `north,west` (what bAbI
  scores), yes/no, counts and `nothing` too. `answer_start` is the offset of the
  answer's last occurrence as a whole word in the context (the latest fact is the one
  that holds in a story), or -1 when it does not occur there (yes/no, counts, lists:
  generative-only). Ids are `<file stem>-<question number>`, counting the file's
  questions from 1.

Every problem is a `zoo.errors.UsageError` naming the flag and the file, then the line
(JSON Lines, bAbI, JSON syntax) or the question id (SQuAD; the article and paragraph
index where there is no id), and saying the fix. Files are read with
`zoo.data.files.read_lines` (UTF-8 unless `encoding` says otherwise).

Several answers through `tf.data`: a record's `answers` is a list of any length, so
`qa_records_to_columns` joins it into one string with `ANSWER_SEPARATOR` (`"\\x1f"`,
the ASCII unit separator, which text does not hold); `split_answers` undoes it (also on
the bytes a dataset yields). `zoo.data.splits.records_to_dataset(records, "qa")` takes
these records as they are (it keeps the `question`, `context`, `answer`, `answer_start`
columns).

Example (a bAbI story):

>>> import os, tempfile
>>> from zoo.data.qa_files import read_qa_file
>>> path = os.path.join(tempfile.mkdtemp(), "qa1_train.txt")
>>> with open(path, "w") as file:
...     _ = file.write("1 Mary moved to the bathroom.\\n2 John went to the hallway.\\n"
...                    "3 Where is Mary? \\tbathroom\\t1\\n4 Mary went to the garden.\\n"
...                    "5 Is Mary in the garden? \\tyes\\t4\\n")
>>> records = read_qa_file(path)
>>> [(r["id"], r["answer"], r["answer_start"]) for r in records]
[('qa1_train-1', 'bathroom', 18), ('qa1_train-2', 'yes', -1)]
>>> records[1]["context"]
'Mary moved to the bathroom. John went to the hallway. Mary went to the garden.'
"""

import json
import os
import re

from zoo.data.files import expand_paths, json_objects, read_lines
from zoo.errors import UsageError

FORMATS = ("squad", "jsonl", "babi")
# The keywords of `read_qa_files` that `zoo.data.load_splits` passes on.
OPTION_NAMES = ("format", "encoding")
EXTENSIONS = {".json": "squad", ".jsonl": "jsonl"}
ANSWER_SEPARATOR = "\x1f"
COLUMN_KEYS = ("id", "question", "context", "answer", "answer_start", "answers", "source")
_BABI_LINE = re.compile(r"\s*(\d+)\s+(\S.*?)\s*")
_SHOWN = 40


def detect_format(path, lines=None, format=None):
    """The format a QA file is read in (one of `FORMATS`; see the module doc).

    Args:
        path: the file; its extension picks the format when `format` is None.
        lines: the file's lines, to look at its content (needed for extensions other than
            `.json` and `.jsonl`); None decides from the extension alone.
        format: `"squad"`, `"jsonl"` or `"babi"` to override, or None.

    Returns:
        `"squad"`, `"jsonl"` or `"babi"`.

    Raises:
        UsageError: `format` is unknown, or the content fits no format.

    Example:

    >>> from zoo.data.qa_files import detect_format
    >>> detect_format("train-v2.0.json"), detect_format("dev.JSONL")
    ('squad', 'jsonl')
    >>> detect_format("qa1_train.txt", ["1 Mary moved to the bathroom."])
    'babi'
    >>> detect_format("train.json", ['{"question": "Who?", "context": "I", "answer": "I"}'])
    'jsonl'
    >>> detect_format("stories.json", format="babi")
    'babi'
    """
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"--format={format}: unknown QA format; choose one of "
                             f"{', '.join(FORMATS)}.")
        return format
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension == ".jsonl" or lines is None:
        return EXTENSIONS.get(extension, "babi")
    first = next((line.strip() for line in lines if line.strip()), "")
    if extension == ".json" or first.startswith(("{", "[")):
        return "jsonl" if _one_object_a_line(first) else "squad"
    if _BABI_LINE.fullmatch(first):
        return "babi"
    raise UsageError(
        f"File {os.fspath(path)}: cannot tell its QA format from the first line "
        f"{first[:_SHOWN]!r}. QA files are SQuAD JSON (.json), JSON Lines (.jsonl) or bAbI "
        "text (`ID sentence` lines); rename the file or pass --format=squad|jsonl|babi.")


def read_qa_files(paths, flag="--train_file", format=None, encoding="utf-8",
                  unique_ids=True):
    """Records of every file a flag names (comma-separated and/or globs), in order.

    Args:
        paths: the flag's value (a string, comma-separated paths and/or glob patterns;
            see `zoo.data.files.expand_paths`) or a list of paths.
        flag: the flag, for messages.
        format: as in `read_qa_file` (applies to every file).
        encoding: as in `read_qa_file`.
        unique_ids: when True (the default), two questions with the same id, in one file
            or in two, are an error naming both places: SQuAD predictions are keyed by
            id. Pass False for training data, whose ids are not used.

    Returns:
        The records of the files, concatenated; each keeps its `source` file.

    Raises:
        UsageError: as `read_qa_file`, or a repeated id.

    Example:

    >>> import os, tempfile
    >>> from zoo.data.qa_files import read_qa_files
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("b.jsonl", "a.jsonl"):
    ...     with open(os.path.join(folder, name), "w") as file:
    ...         _ = file.write('{"question": "Who?", "context": "Ann ran.", "answer": "Ann"}')
    >>> [(r["id"], os.path.basename(r["source"])) for r in read_qa_files(f"{folder}/*.jsonl")]
    [('a-1', 'a.jsonl'), ('b-1', 'b.jsonl')]
    """
    records = []
    for path in expand_paths(paths, flag):
        records += read_qa_file(path, flag, format=format, encoding=encoding,
                                unique_ids=False)
    if unique_ids:
        _check_unique_ids(records, flag)
    return records


def read_qa_file(path, flag="--train_file", format=None, encoding="utf-8", unique_ids=True):
    """QA records from one SQuAD JSON, JSON Lines or bAbI file (see the module doc).

    Args:
        path: the file.
        flag: the flag that named it, for messages (e.g. `"--eval_file"`).
        format: `"squad"`, `"jsonl"` or `"babi"`, or None to choose from the extension and
            the content (`detect_format`).
        encoding: the file's encoding (None or `"utf-8"` for UTF-8; see
            `zoo.data.files.read_lines`).
        unique_ids: when True, a repeated id is an error (see `read_qa_files`).

    Returns:
        A list of record dicts (`id`, `question`, `context`, `answers`, `answer_starts`,
        `answer`, `answer_start`, `source`), one a question, in file order.

    Raises:
        UsageError: the file is missing, not decodable, empty or holds no question; a
            record is malformed (naming the line or the question id, and the fix).

    Example:

    >>> import json, os, tempfile
    >>> from zoo.data.qa_files import read_qa_file
    >>> path = os.path.join(tempfile.mkdtemp(), "dev-v2.0.json")
    >>> qas = [{"id": "q1", "question": "Who?", "answers": [
    ...            {"text": "Ann", "answer_start": 0}, {"text": "Ann Lee", "answer_start": 0}]},
    ...        {"id": "q2", "question": "Why?", "answers": [], "is_impossible": True}]
    >>> with open(path, "w") as file:
    ...     json.dump({"version": "v2.0", "data": [{"title": "T", "paragraphs": [
    ...         {"context": "Ann Lee ran.", "qas": qas}]}]}, file)
    >>> [(r["id"], r["answers"], r["answer_starts"], r["answer"], r["answer_start"])
    ...  for r in read_qa_file(path, "--eval_file")]
    [('q1', ['Ann', 'Ann Lee'], [0, 0], 'Ann', 0), ('q2', [], [], '', -1)]
    """
    path = os.fspath(path)
    lines = read_lines(path, flag, encoding)
    where = f"{flag}: file {path}"
    if not any(line.strip() for line in lines):
        raise UsageError(f"{where} is empty; it needs questions (SQuAD JSON, JSON Lines or "
                         "bAbI text).")
    format = detect_format(path, lines, format)
    reader = {"squad": _squad_records, "jsonl": _jsonl_records, "babi": _babi_records}
    records = reader[format](lines, path, where)
    if not records:
        raise UsageError(f"{where} holds no question (read as {format}); check the file, "
                         "or pass --format=squad|jsonl|babi if it is in another format.")
    if unique_ids:
        _check_unique_ids(records, flag)
    return records


def join_answers(answers):
    """One string holding every answer, separated by `ANSWER_SEPARATOR` (`"\\x1f"`).

    Args:
        answers: a list of answer strings (may be empty).

    Returns:
        A string; `""` for no answer. `split_answers` gives the list back.

    Raises:
        ValueError: an answer holds the separator, or is empty among several (an empty
            answer alone would read back as no answer).

    Example:

    >>> from zoo.data.qa_files import join_answers, split_answers
    >>> join_answers(["Denver Broncos", "Broncos"])
    'Denver Broncos\\x1fBroncos'
    >>> split_answers(join_answers(["north,west"])), split_answers(join_answers([]))
    (['north,west'], [])
    """
    answers = list(answers)
    for answer in answers:
        if ANSWER_SEPARATOR in answer:
            raise ValueError(f"The answer {answer!r} holds the separator \\x1f; remove it.")
        if not answer:
            raise ValueError(f"An empty answer among {answers!r}; remove it (no answer is "
                             "an empty list).")
    return ANSWER_SEPARATOR.join(answers)


def split_answers(text):
    """The answers `join_answers` joined, from a string or the bytes `tf.data` yields.

    Args:
        text: a string or bytes (decoded as UTF-8), e.g. a record's `answers` column.

    Returns:
        A list of strings; `[]` for `""` (an unanswerable question).

    Example:

    >>> from zoo.data.qa_files import split_answers
    >>> split_answers(b"Denver Broncos\\x1fBroncos")
    ['Denver Broncos', 'Broncos']
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return text.split(ANSWER_SEPARATOR) if text else []


def qa_records_to_columns(records, keys=COLUMN_KEYS):
    """Columns of Python lists, one a key, for `tf.data.Dataset.from_tensor_slices`.

    `answers` becomes one string a record (`join_answers`); `answer_starts` cannot be
    asked for (the span pipeline needs only `answer_start`; keep the records for more).

    Args:
        records: records of this module.
        keys: the keys to keep (default `COLUMN_KEYS`: all but `answer_starts`).

    Returns:
        A dict `{key: list}`; strings stay strings, `answer_start` ints.

    Raises:
        ValueError: `answer_starts` or an unknown key is asked for.

    Example:

    >>> import os, tempfile
    >>> from zoo.data.qa_files import qa_records_to_columns, read_qa_file, split_answers
    >>> path = os.path.join(tempfile.mkdtemp(), "dev.jsonl")
    >>> with open(path, "w") as file:
    ...     _ = file.write('{"question": "Who?", "context": "Ann ran.", '
    ...                    '"answers": ["Ann", "Ann ran"]}')
    >>> columns = qa_records_to_columns(read_qa_file(path), ("id", "answers", "answer_start"))
    >>> columns
    {'id': ['dev-1'], 'answers': ['Ann\\x1fAnn ran'], 'answer_start': [0]}
    >>> import tensorflow as tf
    >>> record = next(iter(tf.data.Dataset.from_tensor_slices(columns)))
    >>> split_answers(record["answers"].numpy())
    ['Ann', 'Ann ran']
    """
    keys = tuple(keys)
    bad = [key for key in keys if key not in COLUMN_KEYS]
    if bad:
        raise ValueError(f"qa_records_to_columns: cannot make column(s) {', '.join(bad)}; "
                         f"choose among {', '.join(COLUMN_KEYS)}.")
    return {key: [join_answers(record[key]) if key == "answers" else record[key]
                  for record in records] for key in keys}


def gold_answers(records):
    """`{id: answers}` for `zoo.metrics.squad_scores` (`[]` marks an unanswerable question).

    Args:
        records: records of this module, with unique ids (see `read_qa_files`).

    Returns:
        A dict from question id to its list of gold answers, in record order.

    Raises:
        UsageError: two records have the same id.

    Example:

    >>> from zoo.data.qa_files import gold_answers
    >>> gold_answers([{"id": "q1", "answers": ["Ann"], "source": "dev.json"},
    ...               {"id": "q2", "answers": [], "source": "dev.json"}])
    {'q1': ['Ann'], 'q2': []}
    """
    _check_unique_ids(records, "gold_answers")
    return {record["id"]: list(record["answers"]) for record in records}


# --- helpers ---------------------------------------------------------------------------

def _one_object_a_line(line):
    """True when `line` is by itself a JSON object that is not a SQuAD file (no `data`)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and "data" not in value


def _check_unique_ids(records, flag):
    seen = {}
    for record in records:
        first = seen.setdefault(record["id"], record)
        if first is not record:
            same = first["source"] == record["source"]
            places = (f"file {record['source']}" if same else
                      f"files {first['source']} and {record['source']}")
            raise UsageError(
                f"{flag}: the question id {record['id']!r} occurs twice ({places}); ids "
                "must be unique, since predictions and scores are keyed by id. Give each "
                "question its own `id` (JSON Lines' default id is `<file stem>-<line>`, "
                "so rename one of two files with the same name).")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _word_spans(context, answer):
    """The offsets of `answer` in `context` where it is a whole word (not inside a word)."""
    before = r"(?<!\w)" if re.match(r"\w", answer[0]) else ""
    after = r"(?!\w)" if re.match(r"\w", answer[-1]) else ""
    pattern = re.compile(before + "(?=" + re.escape(answer) + after + ")")
    return [match.start() for match in pattern.finditer(context)]


def _find_first(context, answer):
    """The first whole-word occurrence of `answer`, else the first anywhere, else -1."""
    if not answer:
        return -1
    spans = _word_spans(context, answer)
    return spans[0] if spans else context.find(answer)


def _find_last_word(context, answer):
    """The last whole-word occurrence of `answer` in `context`, else -1."""
    spans = _word_spans(context, answer) if answer else []
    return spans[-1] if spans else -1


def _check_start(context, answer, start, where, fix):
    """A UsageError unless `start` (>= 0) points at `answer` in `context`."""
    found = context[start:start + len(answer)]
    if found == answer:
        return
    occurs = _word_spans(context, answer) or (
        [context.find(answer)] if answer in context else [])
    hint = (f"; the answer occurs at offset {occurs[0]}" if len(occurs) == 1 else
            f"; the answer occurs at offsets {', '.join(map(str, occurs[:5]))}"
            if occurs else "; the answer does not occur in the context")
    raise UsageError(
        f"{where}: answer_start {start} does not point at the answer {answer!r}: the "
        f"context has {found!r} there{hint}. {fix}")


def _record(record_id, question, context, answers, starts, source):
    return {"id": record_id, "question": question, "context": context,
            "answers": answers, "answer_starts": starts,
            "answer": answers[0] if answers else "",
            "answer_start": starts[0] if starts else -1, "source": source}


# --- SQuAD JSON ------------------------------------------------------------------------

_SQUAD_FIX = ("Fix answer_start (the answer's offset in the context, in characters from "
              "0) or the answer's text.")


def _squad_records(lines, path, where):
    try:
        data = json.loads("\n".join(lines))
    except json.JSONDecodeError as error:
        raise UsageError(
            f"{where}, line {error.lineno}: invalid JSON ({error.msg} at column "
            f"{error.colno}). A SQuAD file is one JSON document; a file with one JSON "
            "object a line needs the .jsonl extension or --format=jsonl.") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        found = (f"an object with fields {', '.join(map(repr, data)) or 'none'}"
                 if isinstance(data, dict) else f"a JSON {type(data).__name__}")
        raise UsageError(
            f"{where}: expected SQuAD JSON, {{\"version\": ..., \"data\": [{{\"title\": ..., "
            f"\"paragraphs\": [...]}}]}}, found {found}. For one example a line, use "
            "JSON Lines (.jsonl, or --format=jsonl).")
    records = []
    for article_index, article in enumerate(data["data"]):
        title = article.get("title") if isinstance(article, dict) else None
        at_article = f"{where}, article {article_index}" + (
            f" ({title!r})" if isinstance(title, str) else "")
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise UsageError(f"{at_article}: expected an object with a list \"paragraphs\", "
                             f"found {_shown(article)}.")
        for paragraph_index, paragraph in enumerate(article["paragraphs"]):
            at_paragraph = f"{at_article}, paragraph {paragraph_index}"
            if not isinstance(paragraph, dict):
                raise UsageError(f"{at_paragraph}: expected an object with \"context\" and "
                                 f"\"qas\", found {_shown(paragraph)}.")
            missing = [key for key, kind in (("context", str), ("qas", list))
                       if not isinstance(paragraph.get(key), kind)]
            if missing:
                raise UsageError(
                    f"{at_paragraph}: missing or mistyped {' and '.join(missing)} (a string "
                    "\"context\" and a list \"qas\" of questions); found fields "
                    f"{', '.join(map(repr, paragraph)) or 'none'}.")
            context = paragraph["context"]
            for question_index, qa in enumerate(paragraph["qas"]):
                records.append(_squad_record(qa, context, path, where,
                                             f"{at_paragraph}, question {question_index}"))
    return records


def _squad_record(qa, context, path, where, at_question):
    if not isinstance(qa, dict):
        raise UsageError(f"{at_question}: expected an object with \"id\", \"question\" and "
                         f"\"answers\", found {_shown(qa)}.")
    record_id = qa.get("id")
    if not (isinstance(record_id, str) and record_id) and not _is_int(record_id):
        raise UsageError(f"{at_question}: missing \"id\" (a string, unique in the file); "
                         f"found fields {', '.join(map(repr, qa)) or 'none'}.")
    at = f"{where}, question id {record_id!r}"
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise UsageError(f"{at}: \"is_impossible\" must be true or false, found "
                         f"{_shown(impossible)}.")
    if not isinstance(qa.get("question"), str):
        raise UsageError(f"{at}: missing \"question\" (a string); found fields "
                         f"{', '.join(map(repr, qa))}.")
    answers, starts = [], []
    if not impossible:
        if not isinstance(qa.get("answers"), list):
            raise UsageError(
                f"{at}: missing \"answers\" (a list of {{\"text\", \"answer_start\"}}; an "
                "unanswerable question has [] or \"is_impossible\": true).")
        for number, answer in enumerate(qa["answers"], start=1):
            at_answer = f"{at}, answer {number}"
            if not isinstance(answer, dict):
                raise UsageError(f"{at_answer}: expected {{\"text\", \"answer_start\"}}, "
                                 f"found {_shown(answer)}.")
            text, start = answer.get("text"), answer.get("answer_start")
            if not isinstance(text, str) or not text:
                raise UsageError(f"{at_answer}: missing or empty \"text\" (found "
                                 f"{_shown(text)}); remove the answer or fill it.")
            if not _is_int(start) or start < 0:
                raise UsageError(f"{at_answer}: \"answer_start\" must be the answer's "
                                 f"character offset in the context (an integer >= 0), "
                                 f"found {_shown(start)}.")
            if not context.strip():
                raise UsageError(f"{at}: the context is empty but the question has an "
                                 "answer; fill the paragraph's context or remove it.")
            _check_start(context, text, start, at, _SQUAD_FIX)
            answers.append(text)
            starts.append(start)
    return _record(str(record_id), qa["question"], context, answers, starts, path)


# --- JSON Lines ------------------------------------------------------------------------

_JSONL_FIX = "Fix answer_start (in characters from 0; -1 = not a span) or leave it out."


def _jsonl_records(lines, path, where):
    stem = os.path.splitext(os.path.basename(path))[0]
    records = []
    for number, example in json_objects(lines, where):
        at = f"{where}, line {number}"
        missing = [key for key in ("question", "context") if not isinstance(
            example.get(key), str)]
        if "answer" not in example and "answers" not in example:
            missing.append("answer (or answers)")
        if missing:
            raise UsageError(
                f"{at}: missing or non-string field(s) {', '.join(missing)}; each line needs "
                '{"question": ..., "context": ..., "answer": ...} (or "answers": [...]). '
                f"The object has fields: {', '.join(map(repr, example)) or 'none'}.")
        record_id = example.get("id", f"{stem}-{number}")
        if not (isinstance(record_id, str) and record_id) and not _is_int(record_id):
            raise UsageError(f"{at}: \"id\" must be a non-empty string or an integer, found "
                             f"{_shown(record_id)}.")
        context = example["context"]
        answers, starts = _jsonl_answers(example, at)
        if answers and not context.strip():
            raise UsageError(f"{at}: the context is empty but the question has an answer; "
                             "fill the context or remove the line.")
        for index, (answer, start) in enumerate(zip(answers, starts)):
            if start is None:
                starts[index] = _find_first(context, answer)
            elif start >= 0:
                _check_start(context, answer, start, at, _JSONL_FIX)
        records.append(_record(str(record_id), example["question"], context, answers,
                               starts, path))
    return records


def _jsonl_answers(example, at):
    """`(answers, starts)` of one JSON Lines example; a start is None when not given."""
    if "answer" in example and "answers" in example:
        raise UsageError(f"{at}: both \"answer\" and \"answers\"; give one (\"answers\" for "
                         "several gold answers).")
    start = example.get("answer_start")
    if "answer" in example:
        answer = example["answer"]
        if not isinstance(answer, str):
            raise UsageError(f"{at}: \"answer\" must be a string (\"\" = no answer), found "
                             f"{_shown(answer)}; several answers go in \"answers\": [...].")
        if start is not None and not _is_int(start):
            raise UsageError(f"{at}: \"answer_start\" must be an integer, found "
                             f"{_shown(start)}.")
        texts, starts = ([answer], [start]) if answer else ([], [])
    else:
        value = example["answers"]
        if isinstance(value, dict):  # Hugging Face datasets: {"text": [...], ...}
            texts, starts = value.get("text"), value.get("answer_start")
            if not isinstance(texts, list) or not (starts is None or isinstance(starts, list)
                                                   and len(starts) == len(texts)):
                raise UsageError(f"{at}: \"answers\" as an object needs a list \"text\" "
                                 "and, optionally, a list \"answer_start\" as long; found "
                                 f"{_shown(value)}.")
            starts = list(starts) if starts is not None else [None] * len(texts)
            texts = list(texts)
        elif isinstance(value, list):
            texts, starts = [], []
            for item in value:
                if isinstance(item, dict):
                    texts.append(item.get("text"))
                    starts.append(item.get("answer_start"))
                else:
                    texts.append(item)
                    starts.append(None)
            if start is not None:
                if any(isinstance(item, dict) for item in value):
                    raise UsageError(f"{at}: \"answer_start\" beside answers that carry "
                                     "their own; drop one.")
                if not isinstance(start, list) or len(start) != len(value):
                    raise UsageError(
                        f"{at}: with \"answers\", \"answer_start\" must be a list with one "
                        f"offset an answer ({len(value)}), found {_shown(start)}.")
                starts = list(start)
        else:
            raise UsageError(f"{at}: \"answers\" must be a list (of strings or of "
                             f"{{\"text\", \"answer_start\"}}), found {_shown(value)}.")
        for number, (text, offset) in enumerate(zip(texts, starts), start=1):
            if not isinstance(text, str) or not text:
                raise UsageError(f"{at}: answer {number} must be a non-empty string, found "
                                 f"{_shown(text)} (an unanswerable question has "
                                 "\"answers\": []).")
            if offset is not None and not _is_int(offset):
                raise UsageError(f"{at}: the answer_start of answer {number} must be an "
                                 f"integer, found {_shown(offset)}.")
    for offset in starts:
        if offset is not None and offset < -1:
            raise UsageError(f"{at}: answer_start {offset} is negative; give the answer's "
                             "character offset, -1 when it is not a span, or leave it out.")
    return texts, starts


# --- bAbI ------------------------------------------------------------------------------

def _babi_records(lines, path, where):
    stem = os.path.splitext(os.path.basename(path))[0]
    records, story, previous = [], [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        at = f"{where}, line {number}"
        match = _BABI_LINE.fullmatch(line)
        if not match:
            raise UsageError(
                f"{at}: expected a bAbI line `ID sentence` or `ID question<TAB>answer<TAB>"
                f"supporting ids` (ID a number), found {line[:_SHOWN]!r}. Other QA files "
                "need the .json/.jsonl extension or --format=squad|jsonl.")
        line_id, text = int(match.group(1)), match.group(2)
        if line_id == 1:
            story = []
        elif previous is not None and line_id <= previous:
            raise UsageError(
                f"{at}: ID {line_id} after ID {previous}; a story's IDs increase, and each "
                "story starts again at 1. Renumber the lines.")
        previous = line_id
        if "\t" not in text:
            story.append(text)
            continue
        fields = [field.strip() for field in text.split("\t")]
        if len(fields) > 3 or not fields[0] or not fields[1]:
            raise UsageError(
                f"{at}: a question line is `ID question<TAB>answer<TAB>supporting ids` (a "
                f"non-empty question and answer); found {len(fields)} tab-separated "
                f"field(s) {fields[:4]!r}.")
        if not story:
            raise UsageError(f"{at}: the question {fields[0]!r} has no story sentence "
                             "before it; each story starts with `1 sentence`.")
        question, answer = fields[0], fields[1]
        context = " ".join(story)
        start = _find_last_word(context, answer)
        records.append(_record(f"{stem}-{len(records) + 1}", question, context, [answer],
                               [start], path))
    return records
