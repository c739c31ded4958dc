"""Text-classification files as users hold them: CSV/TSV, JSON Lines, lines, fastText.

Every reader returns a list of `{"label_text": str, "text": str}` records, in file order;
`zoo.data.load_splits` turns the label names into ids (sorted by name; numerically when
every name is an integer). Labels are strings in any order: JSON integers are kept as
their decimal string, and surrounding spaces are removed. A label must not be empty; a
text may be. Blank lines are skipped in every format. Every problem is a
`zoo.errors.UsageError` naming the flag, the file and the line, and saying the fix.

The format (`FORMATS`) is the `format` option when given, else the file's extension:
`.csv` → `csv`, `.tsv` → `tsv`, `.jsonl` and `.json` → `jsonl` (one JSON object a line),
any other → `lines`, or `fasttext` when every non-blank line starts with `__label__`.

- `csv`, `tsv`: parsed as Python's `csv` module parses them (a field in double quotes may
  hold the delimiter and line breaks; `""` is a quote inside it), from the decoded text,
  so line numbers are those of the file. Every record has as many fields as the first.
  `text_column` and `label_column` name a column by header name or by 0-based index (an
  integer, or a string of digits; negative counts from the end); `text_column` may list
  several, comma-separated (`title,description` or `1,2`), joined with a single space.
  *Header rule*: the first row is a header when a column is given by name, or when it
  holds one of the default names `text` or `label` (case-insensitive); otherwise it is
  data. With a header, a column not given is looked up by its default name (`text`,
  `label`); a name missing from the header is an error listing the header's columns.
  Without one, a column not given is the lowest-numbered column the other does not use:
  with no column flags the label is column 0 and the text column 1 (the layout of the
  classic AG News, Yelp and DBpedia CSVs). A header with other names is only recognised
  when a column is given by name.
- `jsonl`: `text_field` (default `text`; several comma-separated are joined with a
  space) and `label_field` (default `label`); a label is a string or an integer.
- `lines`: the label, then the text, split at the first `label_separator` (default a
  tab; `"\\t"` written as two characters also means a tab). A space reads many classic
  corpora (`LABEL text ...`).
- `fasttext`: `__label__NAME text ...`; the prefix is removed. A second `__label__`
  token on a line is an error: multi-label classification is not supported.

`coarse_label_separator` (any format) keeps the part of each label before its first
occurrence of that separator: TREC's `LOC:city` is read as `LOC` with `":"`, giving its
6 coarse classes. `encoding` (default UTF-8) decodes the files; see
`zoo.data.files.read_lines`.

Example (TREC's question classification, coarse classes):

>>> import os, tempfile
>>> from zoo.data.classification_files import read_classification_file
>>> path = os.path.join(tempfile.mkdtemp(), "TREC.train.raw")
>>> with open(path, "wb") as file:
...     _ = file.write("LOC:city Where is Köln ?\\nHUM:ind Who won ?\\n".encode("latin-1"))
>>> read_classification_file(path, label_separator=" ", coarse_label_separator=":",
...                          encoding="latin-1")
[{'label_text': 'LOC', 'text': 'Where is Köln ?'}, {'label_text': 'HUM', 'text': 'Who won ?'}]
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
    resolve_columns,
)
from zoo.errors import UsageError

FORMATS = ("csv", "tsv", "jsonl", "lines", "fasttext")
OPTION_NAMES = ("format", "text_column", "label_column", "text_field", "label_field",
                "label_separator", "coarse_label_separator", "encoding")
DEFAULT_NAMES = {"text": "text", "label": "label"}
FASTTEXT_PREFIX = "__label__"
_SHOWN_LABELS = 20
_TSV_FIX = ("If its quotes are plain text, convert the file, or read `label<TAB>text` lines "
            "as they are with --format=lines.")


def detect_format(path, lines=None, format=None):
    """The format a classification file is read in (one of `FORMATS`).

    Args:
        path: the file; its extension picks the format when `format` is None.
        lines: the file's lines, to recognise fastText (`__label__` on every non-blank
            line) among the files of no known extension; None skips that check.
        format: the `--format` value, or None to choose from the extension.

    Returns:
        `"csv"`, `"tsv"`, `"jsonl"`, `"lines"` or `"fasttext"`.

    Example:

    >>> from zoo.data.classification_files import detect_format
    >>> detect_format("ag_news/train.csv"), detect_format("reviews.JSONL")
    ('csv', 'jsonl')
    >>> detect_format("train.txt", ["__label__pos great", "__label__neg dull"])
    'fasttext'
    >>> detect_format("train.txt", ["pos\\tgreat"]), detect_format("x.csv", format="lines")
    ('lines', 'lines')
    """
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"--format={format}: unknown format; choose one of "
                             f"{', '.join(FORMATS)}.")
        return format
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    content = [line for line in lines or () if line.strip()]
    if content and all(line.startswith(FASTTEXT_PREFIX) for line in content):
        return "fasttext"
    return "lines"


def read_classification_files(value, flag="--train_file", labels=None, **options):
    """Records of every file a flag names (comma-separated and/or globs), in order.

    Args:
        value: the flag's value (see `zoo.data.files.expand_paths`).
        flag: the flag, for messages.
        labels: as in `read_classification_file`.
        **options: the reader options of `read_classification_file`.

    Returns:
        The records of the files, concatenated in the order of `expand_paths`.

    Example:

    >>> import os, tempfile
    >>> from zoo.data.classification_files import read_classification_files
    >>> folder = tempfile.mkdtemp()
    >>> for name, text in (("b.tsv", "spam\\tWin!\\n"), ("a.tsv", "ham\\tHi\\n")):
    ...     with open(os.path.join(folder, name), "w") as file:
    ...         _ = file.write(text)
    >>> [r["label_text"] for r in read_classification_files(f"{folder}/*.tsv")]
    ['ham', 'spam']
    """
    records = []
    for path in expand_paths(value, flag):
        records += read_classification_file(path, flag, labels=labels, **options)
    return records


def read_classification_file(path, flag="--train_file", *, format=None, text_column=None,
                             label_column=None, text_field=None, label_field=None,
                             label_separator=None, coarse_label_separator=None,
                             encoding=None, labels=None):
    """`{"label_text", "text"}` records from one classification file (see the module doc).

    Every option may be None, meaning its default; options that do not apply to the
    file's format are unused.

    Args:
        path: the file.
        flag: the flag that named it, for messages (e.g. `"--eval_file"`).
        format: one of `FORMATS`, or None to choose from the extension (`detect_format`).
        text_column: csv/tsv: the text column(s): a header name or a 0-based index, or
            several comma-separated (joined with a space), or a list of them.
        label_column: csv/tsv: the label column: a header name or a 0-based index.
        text_field: jsonl: the text field(s) (default `"text"`; several comma-separated).
        label_field: jsonl: the label field (default `"label"`).
        label_separator: lines: what separates the label from the text (default a tab).
        coarse_label_separator: any format: keep the part of the label before this.
        encoding: the files' encoding (default `"utf-8"`).
        labels: optional collection of the allowed label names (those of the training
            data): a label outside it is an error naming the file and the line.

    Returns:
        A list of `{"label_text": str, "text": str}` dicts, one an example, in file order.

    Raises:
        UsageError: the file is missing, empty or not decodable, a line is malformed, a
            label is empty or unknown, or a named column or field does not exist.

    Example:

    >>> import os, tempfile
    >>> from zoo.data.classification_files import read_classification_file
    >>> path = os.path.join(tempfile.mkdtemp(), "news.csv")
    >>> with open(path, "w") as file:
    ...     _ = file.write('3,"Stocks rise","Shares, bonds\\nand more"\\n1,War,\\n')
    >>> read_classification_file(path, text_column="1,2")
    [{'label_text': '3', 'text': 'Stocks rise Shares, bonds\\nand more'},
     {'label_text': '1', 'text': 'War'}]
    """
    path = os.fspath(path)
    lines = read_lines(path, flag, encoding)
    if not any(line.strip() for line in lines):
        raise UsageError(f"{flag}: file {path} is empty; give a file with one example a "
                         "line (or a CSV/TSV record a row).")
    chosen = detect_format(path, lines, format)
    where = f"{flag}: file {path}"
    if chosen in ("csv", "tsv"):
        examples = _delimited_examples(lines, where, chosen, text_column, label_column)
    elif chosen == "jsonl":
        examples = _json_examples(lines, where, text_field, label_field)
    elif chosen == "lines":
        examples = _line_examples(lines, where, _separator(label_separator))
    else:
        examples = _fasttext_examples(lines, where)
    coarse = coarse_label_separator
    if coarse is not None and not coarse:
        raise UsageError("--coarse_label_separator must not be empty; e.g. "
                         "--coarse_label_separator=: keeps `LOC` of a label `LOC:city`.")
    allowed = None if labels is None else set(labels)
    records = []
    for number, label, text, origin in examples:
        label = label.strip()
        if coarse and label:
            label = label.split(coarse, 1)[0].strip()
        if not label:
            whole = "" if not coarse else f" before --coarse_label_separator={coarse!r}"
            raise UsageError(f"{where}, line {number}: the label ({origin}) is empty{whole}; "
                             "every example needs a label. Fill it in or remove the line.")
        if allowed is not None and label not in allowed:
            raise UsageError(
                f"{where}, line {number}: label {label!r} does not occur in the training "
                f"data (labels: {_shown(labels)}). Fix the label, or add examples of it to "
                "the training files."
            )
        records.append({"label_text": label, "text": text})
    if not records:
        raise UsageError(f"{where} has no examples (only a header or blank lines).")
    return records


def _shown(labels):
    names = list(labels) if isinstance(labels, (list, tuple)) else sorted(labels)
    more = len(names) - _SHOWN_LABELS
    return ", ".join(names[:_SHOWN_LABELS]) + (f" and {more} more" if more > 0 else "")


def _separator(value):
    # Names for the two usual separators, since flagfiles strip a trailing space.
    separator = {None: "\t", "\\t": "\t", "tab": "\t", "space": " "}.get(value, value)
    if not separator:
        raise UsageError("--label_separator must not be empty; the default is a tab, and "
                         "--label_separator=' ' splits at the first space.")
    return separator


def _separator_name(separator):
    return {"\t": "tab", " ": "space"}.get(separator, repr(separator))


def _line_examples(lines, where, separator):
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if separator not in line:
            hint = (" (to split at the first space, pass --label_separator=' ')"
                    if separator == "\t" and " " in line.strip() else "")
            raise UsageError(
                f"{where}, line {number}: no {_separator_name(separator)} between the label "
                f"and the text; each line must be LABEL, --label_separator, TEXT{hint}. A "
                "CSV or JSON Lines file needs the .csv/.tsv/.jsonl extension or --format."
            )
        label, text = line.split(separator, 1)
        yield number, label, text, "before the first --label_separator"


def _fasttext_examples(lines, where):
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if not parts[0].startswith(FASTTEXT_PREFIX):
            raise UsageError(f"{where}, line {number}: expected `{FASTTEXT_PREFIX}NAME text` "
                             f"(fastText), found {line[:40]!r}.")
        text = parts[1] if len(parts) > 1 else ""
        more = [token for token in text.split() if token.startswith(FASTTEXT_PREFIX)]
        if more:
            raise UsageError(
                f"{where}, line {number}: {1 + len(more)} labels ({parts[0]}, "
                f"{', '.join(more)}); multi-label classification is not supported. Keep "
                "one label a line."
            )
        yield number, parts[0][len(FASTTEXT_PREFIX):], text, f"after {FASTTEXT_PREFIX}"


def _json_examples(lines, where, text_field, label_field):
    text_fields = option_names(text_field, "--text_field") or [DEFAULT_NAMES["text"]]
    label_fields = option_names(label_field, "--label_field") or [DEFAULT_NAMES["label"]]
    if len(label_fields) > 1:
        raise UsageError(f"--label_field={label_field}: give one field; multi-label "
                         "classification is not supported.")
    label_key = label_fields[0]
    for number, example in json_objects(lines, where):
        missing = [key for key in text_fields + [label_key] if key not in example]
        if missing:
            flags = [("--label_field" if key == label_key else "--text_field")
                     for key in missing]
            raise missing_fields_error(where, number, missing, flags, example)
        label = example[label_key]
        if isinstance(label, int) and not isinstance(label, bool):
            label = str(label)
        elif not isinstance(label, str):
            raise UsageError(f"{where}, line {number}: the label {label_key!r} must be a "
                             f"string or an integer, found {json.dumps(label)}.")
        texts = []
        for key in text_fields:
            if not isinstance(example[key], str):
                raise UsageError(f"{where}, line {number}: the text {key!r} must be a "
                                 f"string, found {json.dumps(example[key])[:40]}.")
            texts.append(example[key])
        yield number, label, _join(texts), f"field {label_key!r}"


def _join(texts):
    if len(texts) == 1:
        return texts[0]
    return " ".join(text.strip() for text in texts if text.strip())


def _delimited_examples(lines, where, kind, text_column, label_column):
    rows = delimited_rows(lines, where, kind, _TSV_FIX)
    text_spec = column_option(text_column, "--text_column")
    label_spec = column_option(label_column, "--label_column")
    if label_spec is not None and len(label_spec) > 1:
        raise UsageError(f"--label_column={label_column}: give one column; multi-label "
                         "classification is not supported.")
    roles = [ColumnRole("text", "--text_column", text_spec, DEFAULT_NAMES["text"]),
             ColumnRole("label", "--label_column", label_spec, DEFAULT_NAMES["label"])]
    # Without a header and column flags, the label is column 0 and the text column 1.
    header, columns = resolve_columns(rows, where, roles, set(DEFAULT_NAMES.values()),
                                      fill_order=("label", "text"))
    text_columns, (label,) = columns["text"], columns["label"]
    origin = f"column {header[label].strip()!r}" if header is not None else f"column {label}"
    for start, fields in delimited_records(rows, where, kind, header):
        yield start, fields[label], _join([fields[column] for column in text_columns]), origin
