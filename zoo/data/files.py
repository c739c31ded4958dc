"""Readers for local data files: line-aligned parallel text, TSV and JSON Lines.

Every problem is a `zoo.errors.UsageError` naming the file (and the flag it came from),
the line number and the fix.

- Parallel text (the OpenNMT / fairseq convention): `source` and `target` files with one
  example a line, line i of one aligned with line i of the other.
- TSV: `source<TAB>target` (nmt, summarization) or `label<TAB>text` (classification).
- JSON Lines (qa): one object a line with `question`, `context`, `answer` and optionally
  `answer_start` (character offset of the answer in the context; when absent, the last
  occurrence of the answer is used, and -1 when it does not occur). Blank lines are skipped.

Lines are UTF-8; a trailing `\\r` (Windows line ends) and a leading byte-order mark are
removed.
"""

import json
import os

from zoo.errors import UsageError


def read_lines(path, flag):
    """The lines of a UTF-8 text file (without line ends).

    Args:
        path: the file.
        flag: the flag or argument that named it, for messages (e.g. `"--train_src"`).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UsageError(f"{flag}: file {path} does not exist. Check the path.")
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        raise UsageError(
            f"{flag}: file {path}, line {line}: invalid UTF-8 (byte "
            f"0x{data[error.start]:02x} at column {error.start - line_start + 1}). "
            "Convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`."
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_parallel(source_path, target_path, source_flag, target_flag):
    """`{"source", "target"}` records from two line-aligned files."""
    sources = read_lines(source_path, source_flag)
    targets = read_lines(target_path, target_flag)
    if len(sources) != len(targets):
        raise UsageError(
            f"{source_flag} ({source_path}) has {len(sources)} lines but {target_flag} "
            f"({target_path}) has {len(targets)}; parallel files must be line-aligned, "
            "one example a line."
        )
    if not sources:
        raise UsageError(f"{source_flag} ({source_path}) and {target_flag} ({target_path}) "
                         "are empty.")
    for number, (source, target) in enumerate(zip(sources, targets), start=1):
        empty = [name for name, text in (("source", source), ("target", target))
                 if not text.strip()]
        if empty:
            raise UsageError(
                f"Line {number} of {source_flag} ({source_path}) / {target_flag} "
                f"({target_path}): the {' and '.join(empty)} line is empty. Remove the "
                "pair from both files, or fill it."
            )
    return [{"source": source, "target": target} for source, target in zip(sources, targets)]


def read_tsv(path, flag, task):
    """Records from a TSV file: `source<TAB>target`, or `label<TAB>text` for classification.

    Classification labels are kept as strings here (`label_text`); `zoo.data.load_splits`
    turns them into ids.
    """
    lines = read_lines(path, flag)
    if not lines:
        raise UsageError(f"{flag}: file {path} is empty.")
    columns = ("label", "text") if task == "classification" else ("source", "target")
    records = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            found = ("an empty line" if not line.strip() else f"{len(fields)} field(s)"
                     if len(fields) != 2 else "an empty field")
            raise UsageError(
                f"{flag}: file {path}, line {number}: expected `{columns[0]}<TAB>"
                f"{columns[1]}` (two non-empty fields separated by one tab), found {found}."
            )
        if task == "classification":
            records.append({"label_text": fields[0].strip(), "text": fields[1]})
        else:
            records.append({"source": fields[0], "target": fields[1]})
    return records


def read_jsonl(path, flag):
    """`{"question", "context", "answer", "answer_start"}` records from a JSON Lines file."""
    records = []
    for number, line in enumerate(read_lines(path, flag), start=1):
        if not line.strip():
            continue
        where = f"{flag}: file {path}, line {number}"
        try:
            example = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{where}: invalid JSON ({error.msg} at column "
                             f"{error.colno}).") from None
        if not isinstance(example, dict):
            raise UsageError(f"{where}: expected a JSON object, found "
                             f"{type(example).__name__}.")
        missing = [key for key in ("question", "context", "answer")
                   if not isinstance(example.get(key), str)]
        if missing:
            raise UsageError(f"{where}: missing string field(s) {', '.join(missing)}; each "
                             'line needs {"question": ..., "context": ..., "answer": ...}.')
        context, answer = example["context"], example["answer"]
        start = example.get("answer_start")
        if start is None:
            start = context.rfind(answer) if answer else -1
        elif not isinstance(start, int) or isinstance(start, bool):
            raise UsageError(f"{where}: answer_start must be an integer, found {start!r}.")
        elif start >= 0 and context[start:start + len(answer)] != answer:
            raise UsageError(
                f"{where}: answer_start {start} does not point at the answer "
                f"{answer!r} in the context (found {context[start:start + len(answer)]!r}); "
                "fix the offset (in characters) or leave answer_start out."
            )
        records.append({"question": example["question"], "context": context,
                        "answer": answer, "answer_start": start})
    if not records:
        raise UsageError(f"{flag}: file {path} has no examples.")
    return records
