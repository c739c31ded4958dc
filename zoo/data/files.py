"""Readers for local data files: line-aligned parallel text, TSV and JSON Lines.

Every problem is a `zoo.errors.UsageError` naming the file (and the flag it came from),
the line number and the fix. `expand_paths` turns a file flag's value (comma-separated
paths and/or glob patterns) into files; `read_lines` decodes every file read here and in
`zoo.data.classification_files` (which reads classification data in CSV, TSV, JSON Lines,
one-example-a-line and fastText layouts).

- Parallel text (the OpenNMT / fairseq convention): `source` and `target` files with one
  example a line, line i of one aligned with line i of the other.
- TSV: `source<TAB>target` (nmt, summarization) or `label<TAB>text` (classification).
- JSON Lines (qa): one object a line with `question`, `context`, `answer` and optionally
  `answer_start` (character offset of the answer in the context; when absent, the last
  occurrence of the answer is used, and -1 when it does not occur). Blank lines are skipped.

Files are UTF-8 unless an `encoding` is given; a trailing `\\r` (Windows line ends) and a
leading byte-order mark are removed.
"""

import codecs
import glob
import json
import os

from zoo.errors import UsageError


def expand_paths(value, flag):
    """The files named by a file flag: a comma-separated list of paths and/or glob patterns.

    Items keep the order given; the files a pattern matches (`*`, `?`, `[...]`, and `**`
    for any depth) come in sorted order; a file named twice is read once (its first
    place counts). A path with a comma cannot be named (rename the file, or use a glob).

    Args:
        value: the flag's value: a string such as `"train.csv"`, `"a.csv,b.csv"` or
            `"data/train-*.jsonl"`, or a list of such strings.
        flag: the flag, for messages (e.g. `"--train_file"`).

    Returns:
        A list of paths (strings).

    Raises:
        UsageError: an item names a file that does not exist (or a folder), or a pattern
            matches no file, or the value names no file at all.

    Example:

    >>> import os, tempfile
    >>> from zoo.data.files import expand_paths
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("b.txt", "a.txt", "c.csv"):
    ...     open(os.path.join(folder, name), "w").close()
    >>> paths = expand_paths(f"{folder}/c.csv,{folder}/*.txt,{folder}/a.txt", "--train_file")
    >>> [os.path.basename(path) for path in paths]
    ['c.csv', 'a.txt', 'b.txt']
    """
    items = [value] if isinstance(value, (str, os.PathLike)) else list(value or ())
    paths, seen = [], set()
    for item in items:
        for part in os.fspath(item).split(","):
            part = part.strip()
            if not part:
                continue
            if os.path.isfile(part):
                matches = [part]
            elif glob.has_magic(part):
                matches = sorted(path for path in glob.glob(part, recursive=True)
                                 if os.path.isfile(path))
                if not matches:
                    raise UsageError(
                        f"{flag}: the pattern {part} matches no file. Check the folder and "
                        "the pattern (quote it, so that the shell does not expand it).")
            elif os.path.isdir(part):
                raise UsageError(f"{flag}: {part} is a folder; name its files, e.g. "
                                 f"{flag}='{os.path.join(part, '*')}'.")
            else:
                raise UsageError(f"{flag}: file {part} does not exist. Check the path.")
            for path in matches:
                key = os.path.normcase(os.path.abspath(path))
                if key not in seen:
                    seen.add(key)
                    paths.append(path)
    if not paths:
        raise UsageError(f"{flag} names no file; give a path, several separated by commas, "
                         "or a glob pattern.")
    return paths


def read_lines(path, flag, encoding="utf-8"):
    """The lines of a text file (without line ends), decoded with `encoding`.

    A trailing `\\r` (Windows line ends) and a leading byte-order mark are removed. Lines
    are split at `\\n` only, so other Unicode line breaks stay inside their line.

    Args:
        path: the file.
        flag: the flag or argument that named it, for messages (e.g. `"--train_src"`).
        encoding: a Python codec name (`"utf-8"`, `"latin-1"`, `"cp1252"`, ...); None
            means UTF-8.

    Returns:
        A list of strings, one a line (a final line end adds no empty line).

    Raises:
        UsageError: the file does not exist, the encoding is unknown, or the bytes are not
            valid in the encoding (naming the line and the `--encoding` fix).

    Example:

    >>> import os, tempfile
    >>> from zoo.data.files import read_lines
    >>> path = os.path.join(tempfile.mkdtemp(), "q.txt")
    >>> with open(path, "wb") as file:
    ...     _ = file.write("LOC:city Où ?\\r\\nNUM:date When ?\\n".encode("latin-1"))
    >>> read_lines(path, "--train_file", encoding="latin-1")
    ['LOC:city Où ?', 'NUM:date When ?']
    """
    path = os.fspath(path)
    encoding = encoding or "utf-8"
    if not os.path.isfile(path):
        raise UsageError(f"{flag}: file {path} does not exist. Check the path.")
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"--encoding={encoding}: unknown encoding; use a Python codec name "
                         "such as utf-8, latin-1, cp1252 or utf-16.") from None
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        if codec.startswith("utf-8"):
            name, fix = "UTF-8", (
                "Pass the file's encoding, e.g. --encoding=latin-1 (or cp1252), or convert "
                "the file to UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`.")
        else:
            name, fix = encoding, ("Pass the file's actual encoding with --encoding (UTF-8 "
                                   "is the default).")
        raise UsageError(
            f"{flag}: file {path}, line {line}: invalid {name} (byte "
            f"0x{data[error.start]:02x} at column {error.start - line_start + 1}). {fix}"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_parallel(source_path, target_path, source_flag, target_flag, encoding="utf-8"):
    """`{"source", "target"}` records from two line-aligned files (see `read_lines`)."""
    sources = read_lines(source_path, source_flag, encoding)
    targets = read_lines(target_path, target_flag, encoding)
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


def read_tsv(path, flag, task, encoding="utf-8"):
    """Records from a TSV file: `source<TAB>target`, or `label<TAB>text` for classification.

    Classification labels are kept as strings here (`label_text`); `zoo.data.load_splits`
    turns them into ids. (`load_splits` reads classification files with
    `zoo.data.classification_files`, which also reads CSV, JSON Lines and other layouts.)
    """
    lines = read_lines(path, flag, encoding)
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


def read_jsonl(path, flag, encoding="utf-8"):
    """`{"question", "context", "answer", "answer_start"}` records from a JSON Lines file."""
    records = []
    for number, line in enumerate(read_lines(path, flag, encoding), start=1):
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
