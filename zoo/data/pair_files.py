"""Source/target pairs (summarization, translation) as users hold them: JSON Lines, CSV/TSV.

Every reader returns a list of `{"source": str, "target": str}` records, in file order.
Texts are kept as they are (no stripping), but a source or target that is empty or only
spaces is an error. Blank lines are skipped. Every problem is a `zoo.errors.UsageError`
naming the flag, the file and the line, and saying the fix. (Line-aligned parallel files,
`--train_src`/`--train_tgt`, are read by `zoo.data.files.read_parallel`.)

The format (`FORMATS`) is the `format` option when given, else the file's extension:
`.csv` → `csv`, `.tsv` → `tsv`, `.jsonl` and `.json` → `jsonl` (one JSON object a line),
any other → `source<TAB>target` lines, read as `zoo.data.files.read_tsv` reads them (no
quoting: every line is exactly two non-empty fields split at its tab). The
classification layouts `lines` and `fasttext` are errors here.

- `jsonl`: `source_field` and `target_field` name the fields. A name that is not a key
  of the object but holds dots walks nested objects: Hugging Face's translation exports
  `{"translation": {"de": ..., "en": ...}}` read with `source_field="translation.de"`,
  `target_field="translation.en"`. *Defaults*: when neither is given, the first object
  of the file picks the pair: `source`/`target` when it holds either of them, else the
  one pair of `KNOWN_PAIRS` whose two fields it holds (`document`/`summary` for XSum,
  `article`/`highlights` for CNN/DailyMail, `email`/`subject` for AESLC, ...); it is an
  error when several pairs fit. When only one is given, the other is `source` or
  `target`. A field that is missing names the file, the line, the object's fields and
  the flag to set. Values must be strings.
- `csv`, `tsv`: parsed as Python's `csv` module parses them (a field in double quotes may
  hold the delimiter and line breaks; `""` is a quote inside it; a TSV field that starts
  with a double quote is therefore a quoted field), from the decoded text, so line
  numbers are those of the file. Every record has as many fields as the first.
  `source_column` and `target_column` name one column each, by header name or by 0-based
  index (an integer, or a string of digits; negative counts from the end). *Header rule*
  (as in `zoo.data.classification_files`): the first row is a header when a column is
  given by name, or when it holds one of the default names `source` or `target`
  (case-insensitive); without column flags, also when it holds both names of one pair of
  `KNOWN_PAIRS` (e.g. CNN/DailyMail's `id,article,highlights`), which is then read.
  With a header, a column not given is looked up by its default name. Without one, a
  column not given is the lowest-numbered column the other does not use: with no column
  flags the source is column 0 and the target column 1, so `source<TAB>target` files
  read as before, and further columns are ignored (`--format=tsv` reads a `.txt` file
  such as Tatoeba's `eng<TAB>fra<TAB>attribution`). Column flags with a file of another
  extension (read as plain lines) are an error that points at `--format`.

Options that do not apply to a file's format are unused (column flags with a `.jsonl`
file, field flags with a `.csv` file), so one set serves train, evaluation and test files
of different formats. `encoding` (default UTF-8) decodes the files; see
`zoo.data.files.read_lines`.

Example (AESLC: an email's body, and its subject as the summary):

>>> import json, os, tempfile
>>> from zoo.data.pair_files import read_pair_file
>>> path = os.path.join(tempfile.mkdtemp(), "dev.jsonl")
>>> with open(path, "w") as file:
...     for email, subject in (("Hi Phillip, the meeting is at 9.", "Meeting"),
...                            ("Please send the file.", "File")):
...         _ = file.write(json.dumps({"id": "a", "email": email, "subject": subject}) + "\\n")
>>> read_pair_file(path)  # email/subject is a known pair; or pass the fields:
[{'source': 'Hi Phillip, the meeting is at 9.', 'target': 'Meeting'},
 {'source': 'Please send the file.', 'target': 'File'}]
>>> read_pair_file(path, source_field="email", target_field="subject") == read_pair_file(path)
True
"""

import json
import os

from zoo.data.files import (
    EXTENSIONS,
    ColumnRole,
    column_option,
    delimited_records,
    delimited_rows,
    expand_paths,
    json_objects,
    missing_fields_error,
    option_names,
    read_lines,
    read_tsv,
    resolve_columns,
)
from zoo.errors import UsageError

FORMATS = ("csv", "tsv", "jsonl")
OPTION_NAMES = ("format", "source_column", "target_column", "source_field", "target_field",
                "encoding")
DEFAULT_NAMES = {"source": "source", "target": "target"}
# (source, target) field or column names read without flags; `source`/`target` first.
KNOWN_PAIRS = (("source", "target"), ("src", "tgt"), ("document", "summary"),
               ("article", "highlights"), ("article", "abstract"), ("text", "summary"),
               ("dialogue", "summary"), ("email", "subject"))
PLAIN = "plain"  # `detect_format` of a file of any other extension: `source<TAB>target`
_TSV_FIX = ("If its quotes are plain text, give the file another extension (e.g. .txt): "
            "such a file is read as `source<TAB>target` lines, quotes and all.")
_MISSING = object()


def detect_format(path, format=None):
    """The format a source/target file is read in: one of `FORMATS`, or `PLAIN`.

    Args:
        path: the file; its extension picks the format when `format` is None.
        format: the `--format` value, or None to choose from the extension.

    Returns:
        `"csv"`, `"tsv"`, `"jsonl"`, or `"plain"` (`source<TAB>target` lines) for a file
        of any other extension.

    Raises:
        UsageError: `format` is not one of `FORMATS` (the classification layouts `lines`
            and `fasttext` included).

    Example:

    >>> from zoo.data.pair_files import detect_format
    >>> detect_format("aeslc/dev.jsonl"), detect_format("cnn.CSV"), detect_format("de-en.txt")
    ('jsonl', 'csv', 'plain')
    >>> detect_format("fra.txt", format="tsv")
    'tsv'
    """
    if format is not None:
        if format in ("lines", "fasttext"):
            raise UsageError(
                f"--format={format} is a classification layout; source/target pairs are "
                f"read from {', '.join(FORMATS)} files, or from `source<TAB>target` lines "
                "(a file of another extension, with no --format)."
            )
        if format not in FORMATS:
            raise UsageError(f"--format={format}: unknown format; choose one of "
                             f"{', '.join(FORMATS)}.")
        return format
    extension = os.path.splitext(os.fspath(path))[1].lower()
    return EXTENSIONS.get(extension, PLAIN)


def read_pair_files(value, flag="--train_file", **options):
    """Records of every file a flag names (comma-separated and/or globs), in order.

    Args:
        value: the flag's value (see `zoo.data.files.expand_paths`).
        flag: the flag, for messages.
        **options: the reader options of `read_pair_file` (`OPTION_NAMES`).

    Returns:
        The records of the files, concatenated in the order of `expand_paths`.

    Example:

    >>> import os, tempfile
    >>> from zoo.data.pair_files import read_pair_files
    >>> folder = tempfile.mkdtemp()
    >>> for name, text in (("b.tsv", "Danke\\tThanks\\n"), ("a.tsv", "Hallo\\tHello\\n")):
    ...     with open(os.path.join(folder, name), "w") as file:
    ...         _ = file.write(text)
    >>> [r["target"] for r in read_pair_files(f"{folder}/*.tsv")]
    ['Hello', 'Thanks']
    """
    records = []
    for path in expand_paths(value, flag):
        records += read_pair_file(path, flag, **options)
    return records


def read_pair_file(path, flag="--train_file", *, format=None, source_column=None,
                   target_column=None, source_field=None, target_field=None, encoding=None):
    """`{"source", "target"}` records from one file (see the module doc).

    Every option may be None, meaning its default; options that do not apply to the
    file's format are unused, except that column options with a file read as plain
    `source<TAB>target` lines are an error.

    Args:
        path: the file.
        flag: the flag that named it, for messages (e.g. `"--eval_file"`).
        format: one of `FORMATS`, or None to choose from the extension (`detect_format`).
        source_column: csv/tsv: the source column, a header name or a 0-based index.
        target_column: csv/tsv: the target column, a header name or a 0-based index.
        source_field: jsonl: the source field (dots walk nested objects); see the module
            doc for the default.
        target_field: jsonl: the target field.
        encoding: the file's encoding (default `"utf-8"`).

    Returns:
        A list of `{"source": str, "target": str}` dicts, one an example, in file order.

    Raises:
        UsageError: the file is missing, empty or not decodable, a line is malformed, a
            source or target is empty, or a named column or field does not exist.

    Example (a CSV with a header, and a quoted field across lines):

    >>> import os, tempfile
    >>> from zoo.data.pair_files import read_pair_file
    >>> path = os.path.join(tempfile.mkdtemp(), "news.csv")
    >>> with open(path, "w") as file:
    ...     _ = file.write('id,body,title\\n1,"Stocks rose.\\nBonds, too.",Markets up\\n')
    >>> read_pair_file(path, source_column="body", target_column="title")
    [{'source': 'Stocks rose.\\nBonds, too.', 'target': 'Markets up'}]
    >>> read_pair_file(path, source_column="1", target_column=-1)[0]  # no name: no header
    {'source': 'body', 'target': 'title'}
    """
    path = os.fspath(path)
    chosen = detect_format(path, format)
    where = f"{flag}: file {path}"
    if chosen == PLAIN:
        given = [name for name, value in (("--source_column", source_column),
                                          ("--target_column", target_column))
                 if value is not None]
        if given:
            raise UsageError(
                f"{' and '.join(given)}: {where} is read as `source<TAB>target` lines (its "
                "extension is not .csv, .tsv, .jsonl or .json), which have no columns to "
                "choose; pass --format=tsv (or csv) to read it with column flags."
            )
        return read_tsv(path, flag, "summarization", encoding)
    lines = read_lines(path, flag, encoding)
    if not any(line.strip() for line in lines):
        raise UsageError(f"{where} is empty; give a file with one example a line (or a "
                         "CSV/TSV record a row).")
    if chosen == "jsonl":
        examples = _json_pairs(lines, where, source_field, target_field)
    else:
        examples = _delimited_pairs(lines, where, chosen, source_column, target_column)
    records = []
    for number, source, target, origins in examples:
        empty = [name for name, text in (("source", source), ("target", target))
                 if not text.strip()]
        if empty:
            named = " and the ".join(f"{name} ({origins[name]})" for name in empty)
            raise UsageError(f"{where}, line {number}: the {named} "
                             f"{'is' if len(empty) == 1 else 'are'} empty; every example "
                             "needs a source and a target. Fill it in or remove the line.")
        records.append({"source": source, "target": target})
    if not records:
        raise UsageError(f"{where} has no examples (only a header or blank lines).")
    return records


def _one(value, flag, default):
    names = option_names(value, flag)
    if names is None:
        return None
    if len(names) != 1:
        raise UsageError(f"{flag}={value}: give one {default} {flag.split('_')[-1]}; "
                         "several cannot be joined.")
    return str(names[0])  # JSON keys are strings


def _known_pairs(names):
    return [pair for pair in KNOWN_PAIRS[1:] if set(pair) <= set(names)]


def _pair_names(pairs):
    return ", ".join("/".join(pair) for pair in pairs)


def _lookup(example, key):
    if key in example:
        return example[key]
    value = example
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _nested_hint(example):
    for key, value in example.items():
        if isinstance(value, dict) and value:
            return (f"; a nested field is named with dots, e.g. "
                    f"{key}.{next(iter(value))}")
    return ""


def _json_keys(example, number, where, source_key, target_key):
    """`(source_key, target_key, note)` of a file, from its first object when not given."""
    if source_key is not None or target_key is not None:
        return source_key or DEFAULT_NAMES["source"], target_key or DEFAULT_NAMES["target"], ""
    if not {"source", "target"} & set(example):
        known = _known_pairs(example)
        if len(known) > 1:
            raise UsageError(
                f"{where}, line {number}: the object has the fields of several known pairs "
                f"({_pair_names(known)}); choose with --source_field and --target_field."
            )
        if known:
            return (*known[0], f"; {known[0][0]!r} and {known[0][1]!r} were chosen from the "
                    f"fields of line {number}")
        return (DEFAULT_NAMES["source"], DEFAULT_NAMES["target"],
                f"; pairs read without flags: {_pair_names(KNOWN_PAIRS)}")
    return DEFAULT_NAMES["source"], DEFAULT_NAMES["target"], ""


def _json_pairs(lines, where, source_field, target_field):
    source_key = _one(source_field, "--source_field", "source")
    target_key = _one(target_field, "--target_field", "target")
    keys = None
    for number, example in json_objects(lines, where):
        if keys is None:
            keys = _json_keys(example, number, where, source_key, target_key)
        values, missing, flags = {}, [], []
        for name, key in zip(("source", "target"), keys[:2]):
            values[name] = _lookup(example, key)
            if values[name] is _MISSING:
                missing.append(key)
                flags.append(f"--{name}_field")
        if missing:
            raise missing_fields_error(where, number, missing, flags, example,
                                       keys[2] + _nested_hint(example))
        for name, key in zip(("source", "target"), keys[:2]):
            if not isinstance(values[name], str):
                raise UsageError(f"{where}, line {number}: the {name} {key!r} must be a "
                                 f"string, found {json.dumps(values[name])[:40]}.")
        yield (number, values["source"], values["target"],
               {"source": f"field {keys[0]!r}", "target": f"field {keys[1]!r}"})


def _delimited_pairs(lines, where, kind, source_column, target_column):
    rows = delimited_rows(lines, where, kind, _TSV_FIX)
    specs = {}
    for name, value in (("source", source_column), ("target", target_column)):
        flag = f"--{name}_column"
        specs[name] = column_option(value, flag)
        if specs[name] is not None and len(specs[name]) != 1:
            raise UsageError(f"{flag}={value}: give one {name} column; several cannot be "
                             "joined.")
    flags_given = specs["source"] is not None or specs["target"] is not None
    first_line, _, first = rows[0]
    if not flags_given:
        cells = [cell.strip().lower() for cell in first]
        if not set(DEFAULT_NAMES.values()) & set(cells):
            known = _known_pairs(cells)
            if len(known) > 1:
                raise UsageError(
                    f"{where}: the header (line {first_line}) has the columns of several "
                    f"known pairs ({_pair_names(known)}); choose with --source_column and "
                    "--target_column."
                )
            if known:
                specs = {"source": [known[0][0]], "target": [known[0][1]]}
    roles = [ColumnRole(name, f"--{name}_column", specs[name], DEFAULT_NAMES[name])
             for name in ("source", "target")]
    header, columns = resolve_columns(rows, where, roles, set(DEFAULT_NAMES.values()))
    (source,), (target,) = columns["source"], columns["target"]
    layout = None
    if header is None and not flags_given and len(first) == 2:
        layout = "`source<TAB>target`" if kind == "tsv" else "`source,target`"
    origins = {name: (f"column {header[index].strip()!r}" if header is not None else
                      f"column {index}")
               for name, index in (("source", source), ("target", target))}
    for number, fields in delimited_records(rows, where, kind, header, layout):
        yield number, fields[source], fields[target], origins
