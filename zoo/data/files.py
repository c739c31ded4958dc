"""Readers for local data files: line-aligned parallel text, TSV and JSON Lines.

Every problem is a `zoo.errors.UsageError` naming the file (and the flag it came from),
the line number and the fix. `expand_paths` turns a file flag's value (comma-separated
paths and/or glob patterns) into files; `read_lines` decodes every file read here, in
`zoo.data.classification_files` (classification data in CSV, TSV, JSON Lines,
one-example-a-line and fastText layouts) and in `zoo.data.pair_files` (source/target
pairs in CSV, TSV and JSON Lines). The CSV/TSV and JSON Lines parsing those two share
lives here: `delimited_rows`, `resolve_columns` and `delimited_records` (column flags
by header name or 0-based index, with one header rule), and `json_objects`.

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
import collections
import csv
import glob
import json
import os

from zoo.errors import UsageError

# The extensions that pick a structured format; any other extension is the reader's own
# line layout.
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
_FIELD_SIZE_LIMIT = 2**31 - 1


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


def option_names(value, flag):
    """A column or field option as a list of names (and int indices); None when not given.

    Args:
        value: None, a string (several comma-separated), an int, or a list of them.
        flag: the option's flag, for messages (e.g. `"--text_column"`).

    Returns:
        A list of stripped strings and ints, in order; None when `value` is None.

    Raises:
        UsageError: an item is empty (e.g. `"a,,b"`).

    Example:

    >>> from zoo.data.files import option_names
    >>> option_names("title, description", "--text_field"), option_names(2, "--x")
    (['title', 'description'], [2])
    """
    if value is None:
        return None
    items = [value] if isinstance(value, (str, int)) else list(value)
    names = []
    for item in items:
        parts = [item] if isinstance(item, int) else str(item).split(",")
        for part in parts:
            if isinstance(part, str):
                part = part.strip()
                if not part:
                    raise UsageError(f"{flag}={value}: an empty name; give names or 0-based "
                                     "indices separated by commas.")
            names.append(part)
    return names


def column_option(value, flag):
    """A column option as a list of header names and int indices; None when not given.

    Like `option_names`, with strings of digits (and a leading `-`) read as 0-based indices.

    Example:

    >>> from zoo.data.files import column_option
    >>> column_option("1,title,-1", "--text_column")
    [1, 'title', -1]
    """
    names = option_names(value, flag)
    if names is None:
        return None
    return [int(name) if isinstance(name, str) and name.lstrip("-").isdigit() else name
            for name in names]


def json_objects(lines, where):
    """`(line_number, object)` for each non-blank line of a JSON Lines file.

    Args:
        lines: the file's lines (`read_lines`).
        where: the start of every message, e.g. `"--train_file: file a.jsonl"`.

    Yields:
        `(number, dict)`, numbers counting from 1 (blank lines are skipped).

    Raises:
        UsageError: a line is not valid JSON, or not a JSON object.

    Example:

    >>> from zoo.data.files import json_objects
    >>> list(json_objects(['{"a": 1}', "", '{"b": 2}'], "--train_file: file x.jsonl"))
    [(1, {'a': 1}), (3, {'b': 2})]
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{where}, line {number}: invalid JSON ({error.msg} at column "
                             f"{error.colno}); JSON Lines holds one object a line.") from None
        if not isinstance(example, dict):
            raise UsageError(f"{where}, line {number}: expected a JSON object, found "
                             f"{type(example).__name__}; JSON Lines holds one object a line "
                             "(not one JSON array for the whole file).")
        yield number, example


def missing_fields_error(where, number, missing, flags, example, note=""):
    """The UsageError for a JSON object without `missing` fields (set with `flags`).

    It names the file and line, the flag(s) that set the fields, and the object's fields;
    `note` (optional) is added before the list of fields.
    """
    return UsageError(
        f"{where}, line {number}: no field {', '.join(map(repr, missing))} (set with "
        f"{' and '.join(dict.fromkeys(flags))}{note}); the object has fields: "
        f"{', '.join(map(repr, example)) or 'none'}."
    )


def delimited_rows(lines, where, kind, tsv_fix=""):
    """`(first_line, last_line, fields)` of each non-blank record of a CSV/TSV file.

    Parsed as Python's `csv` module parses them (a field in double quotes may hold the
    delimiter and line breaks; `""` is a quote inside it), from the decoded lines, so line
    numbers are those of the file; a record may span several lines. Fields may be as long
    as the file.

    Args:
        lines: the file's lines (`read_lines`).
        where: the start of every message, e.g. `"--train_file: file a.csv"`.
        kind: `"csv"` (comma) or `"tsv"` (tab).
        tsv_fix: what a malformed TSV record's message suggests (the reader's plain-text
            alternative for quotes that are text).

    Returns:
        A list of `(first_line, last_line, fields)`, fields a list of strings.

    Raises:
        UsageError: a quoted field is malformed (naming its line).

    Example:

    >>> from zoo.data.files import delimited_rows
    >>> delimited_rows(['a,"b', 'c"', "", "d,e"], "x.csv", "csv")
    [(1, 2, ['a', 'b\\nc']), (4, 4, ['d', 'e'])]
    """
    delimiter = "," if kind == "csv" else "\t"
    reader = csv.reader((line + "\n" for line in lines), delimiter=delimiter, strict=True)
    rows, last = [], 0
    # The default limit (131,072 characters a field) would reject long documents.
    field_size_limit = csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        for fields in reader:
            first, last = last + 1, reader.line_num
            if fields and not (len(fields) == 1 and not fields[0].strip()):
                rows.append((first, last, fields))
    except csv.Error as error:
        fix = (tsv_fix if kind == "tsv" else
               "Write a quote inside a quoted field as two quotes (\"\").")
        raise UsageError(
            f"{where}, line {last + 1}: malformed {kind.upper()} record ({error}). A field "
            "that starts with a double quote is read up to its closing quote, across "
            f"delimiters and line breaks. {fix}"
        ) from None
    finally:
        csv.field_size_limit(field_size_limit)
    return rows


ColumnRole = collections.namedtuple("ColumnRole", ["name", "flag", "spec", "default"])
ColumnRole.__doc__ = """One thing read from CSV/TSV columns, for `resolve_columns`.

`name`: what it is, for messages (`"text"`); `flag`: its option (`"--text_column"`);
`spec`: the option's `column_option` value, or None when not given; `default`: the header
name looked up when `spec` is None and the file has a header."""


def resolve_columns(rows, where, roles, default_names, fill_order=None):
    """The header (or None) and each role's column indices in a CSV/TSV file.

    *Header rule*: the first row is a header when a role's column is given by name, or
    when one of its cells is one of `default_names` (case-insensitive); otherwise it is
    data. A name is looked up in the header exactly, else case-insensitively when that is
    unambiguous; an index is 0-based, negative counting from the end. With a header, a
    role not given is looked up by its `default`; without one, it takes the lowest-numbered
    column the roles given (then those filled before it, in `fill_order`) do not use.

    Args:
        rows: `delimited_rows` of the file (at least one).
        where: the start of every message.
        roles: `ColumnRole`s in the order names are resolved and flags listed.
        default_names: lowercase cell values that make the first row a header.
        fill_order: the roles' names in the order columns not given are chosen, without a
            header (default: the order of `roles`).

    Returns:
        `(header, columns)`: the header's fields or None, and `{role name: [indices]}`.

    Raises:
        UsageError: a name is not in the header (listing its columns), an index is out of
            range, two roles share a column, or a column past the last is needed.

    Example:

    >>> from zoo.data.files import ColumnRole, delimited_rows, resolve_columns
    >>> rows = delimited_rows(["id,Document,summary", "7,Long text.,Short."], "x.csv", "csv")
    >>> roles = [ColumnRole("source", "--source_column", ["document"], "source"),
    ...          ColumnRole("target", "--target_column", None, "summary")]
    >>> resolve_columns(rows, "x.csv", roles, {"source", "target"})
    (['id', 'Document', 'summary'], {'source': [1], 'target': [2]})
    """
    first_line, _, first = rows[0]
    by_name = any(isinstance(column, str) for role in roles for column in role.spec or [])
    defaults = {cell.strip().lower() for cell in first} & set(default_names)
    header = first if by_name or defaults else None
    count = len(first)

    def index(column, flag, default=False):
        if isinstance(column, int):
            if not -count <= column < count:
                raise UsageError(f"{flag}={column}: {where} has {count} column(s) (line "
                                 f"{first_line}), numbered 0 to {count - 1}.")
            return column % count
        cells = [cell.strip() for cell in header]
        if column in cells:
            return cells.index(column)
        folded = [cell.lower() for cell in cells]
        if folded.count(column.lower()) == 1:
            return folded.index(column.lower())
        given = f"the default of {flag}" if default else flag
        raise UsageError(
            f"{flag}: {where} has no column named {column!r} ({given}); its header (line "
            f"{first_line}) has the columns {', '.join(map(repr, cells))}. Pass {flag} as "
            "one of these names or a 0-based index."
        )

    columns = {}
    if header is not None:
        for role in roles:
            columns[role.name] = [index(column, role.flag, role.spec is None)
                                  for column in role.spec or [role.default]]
    else:
        for role in roles:
            if role.spec is not None:
                columns[role.name] = [index(column, role.flag) for column in role.spec]
        for name in fill_order or [role.name for role in roles]:
            if name not in columns:
                used = {column for chosen in columns.values() for column in chosen}
                columns[name] = [min(set(range(count + 1)) - used)]
    for position, role in enumerate(roles):
        for earlier in roles[:position]:
            shared = [column for column in columns[role.name]
                      if column in columns[earlier.name]]
            if shared:
                raise UsageError(f"{role.flag}: column {shared[0]} is also a {earlier.flag}; "
                                 f"give the {role.name} and the {earlier.name} different "
                                 "columns.")
    needed = max(column for chosen in columns.values() for column in chosen)
    if needed >= count:
        raise UsageError(f"{where} has {count} column(s) (line {first_line}): no column "
                         f"{needed} to read; pass "
                         f"{' and '.join(role.flag for role in roles)}.")
    return header, columns


def delimited_records(rows, where, kind, header, layout=None):
    """`(line, fields)` of each data record of a CSV/TSV file, checking its field count.

    Every record must have as many fields as the first row (the header, when `header` is
    not None: it is then skipped).

    Args:
        rows: `delimited_rows` of the file.
        where: the start of every message.
        kind: `"csv"` or `"tsv"`.
        header: the header's fields (`resolve_columns`), or None.
        layout: optional description of a record, e.g. "`source<TAB>target`", that a
            record with another field count is said to miss.

    Yields:
        `(first_line, fields)`.

    Raises:
        UsageError: a record has another number of fields (naming its line, and the line
            its record runs to when it spans several: an unclosed quote).

    Example:

    >>> from zoo.data.files import delimited_records, delimited_rows
    >>> rows = delimited_rows(["a\\tb", "c\\td"], "x.tsv", "tsv")
    >>> list(delimited_records(rows, "x.tsv", "tsv", None))
    [(1, ['a', 'b']), (2, ['c', 'd'])]
    """
    first_line, _, first = rows[0]
    count = len(first)
    for start, end, fields in rows[1:] if header is not None else rows:
        if len(fields) != count:
            spans = (f" (the record runs to line {end}: check its quotes)" if end > start
                     else "")
            delimiter = "comma" if kind == "csv" else "tab"
            fix = (f"A {kind.upper()} field that holds a {delimiter} or a line break must be "
                   "quoted." if len(fields) > count else
                   f"Separate the {count} fields with a {delimiter} each, or remove the line.")
            found = (f"expected {layout}, found {len(fields)} field(s)" if layout else
                     f"{len(fields)} field(s), but the "
                     f"{'header' if header is not None else 'first record'} (line "
                     f"{first_line}) has {count}")
            raise UsageError(f"{where}, line {start}: {found}{spans}. {fix}")
        yield start, fields


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
    `zoo.data.classification_files`, and nmt and summarization files with
    `zoo.data.pair_files`, which reads files of no known extension with this function.)
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
