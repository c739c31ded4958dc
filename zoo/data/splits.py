"""`load_splits`: one entry point from `--dataset` and the file flags to record datasets."""

import collections
import random

import tensorflow as tf

from zoo.data import classification_files, demo, files, pair_files, qa_files
from zoo.data.tfds_source import load_tfds_splits
from zoo.errors import UsageError

TASKS = ("nmt", "summarization", "classification", "qa")
HOLD_OUT_FRACTION = 0.05

Splits = collections.namedtuple("Splits", ["train", "validation", "test", "info"])
Splits.__doc__ = """Record datasets of one corpus (`test` may be None) and an `info` dict."""

RECORD_SPECS = {
    "nmt": {"source": tf.string, "target": tf.string},
    "summarization": {"source": tf.string, "target": tf.string},
    "classification": {"text": tf.string, "label": tf.int64},
    # `answers`: every gold answer joined by `qa_files.ANSWER_SEPARATOR` ("" = none);
    # `source`: the file a question came from, for per-file reports.
    "qa": {"id": tf.string, "question": tf.string, "context": tf.string,
           "answer": tf.string, "answer_start": tf.int64, "answers": tf.string,
           "source": tf.string},
}


def records_to_dataset(records, task):
    """A `tf.data.Dataset` of scalar-tensor dicts from a list of record dicts."""
    if task == "qa":
        records = qa_files.qa_records_to_columns(records, RECORD_SPECS[task])
        columns = {key: tf.constant(values, dtype=RECORD_SPECS[task][key])
                   for key, values in records.items()}
    else:
        columns = {key: tf.constant([record[key] for record in records], dtype=dtype)
                   for key, dtype in RECORD_SPECS[task].items()}
    return tf.data.Dataset.from_tensor_slices(columns)


def record_texts(records, fields):
    """One dataset of the strings in `fields` of every record, e.g. to learn a vocabulary.

    Args:
        records: a record dataset.
        fields: field names, e.g. `("source", "target")` for a shared vocabulary.

    Example:

    >>> import zoo.data, zoo.text
    >>> splits = zoo.data.load_splits("nmt", sizes={"train": 100})
    >>> texts = zoo.data.record_texts(splits.train, ("source", "target"))
    >>> int(texts.cardinality())
    200
    >>> tokenizer = zoo.text.train_subword_tokenizer(texts, vocab_size=300, progress=False)
    """
    if isinstance(fields, str):
        fields = (fields,)
    texts = None
    for field in fields:
        column = records.map(lambda record, field=field: record[field])
        texts = column if texts is None else texts.concatenate(column)
    return texts


def _hold_out(records, seed, source, fraction):
    """Splits off a deterministic `fraction` of `records` for validation."""
    if len(records) < 2:
        raise UsageError(f"{source} has {len(records)} example(s); give at least 2, or an "
                         "evaluation file.")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    count = max(1, round(len(records) * fraction))
    held_out = set(order[:count])
    validation = [record for index, record in enumerate(records) if index in held_out]
    train = [record for index, record in enumerate(records) if index not in held_out]
    note = (f"No evaluation data was given: {count} of the {len(records)} training examples "
            f"({fraction:.0%}, chosen with seed {seed}) are held out for validation.")
    return train, validation, note


def _label_names(records):
    """The label names of `records`, sorted by name (numerically when all are integers)."""
    names = sorted({record["label_text"] for record in records})
    if all(name.lstrip("-").isdigit() for name in names):
        names = sorted(names, key=int)
    return names


def _label_ids(names, *splits):
    """Sets each record's `label` to the index of its `label_text` in `names`."""
    ids = {name: index for index, name in enumerate(names)}
    for records, source in splits:
        for number, record in enumerate(records, start=1):
            if record["label_text"] not in ids:  # the readers reject these with the line
                raise UsageError(
                    f"{source}, example {number}: label {record['label_text']!r} does not "
                    f"occur in the training data (labels: {', '.join(names)})."
                )
            record["label"] = ids[record["label_text"]]


PARALLEL_FLAGS = {split: (f"--{which}_src", f"--{which}_tgt")
                  for split, which in (("train", "train"), ("validation", "eval"),
                                       ("test", "test"))}
FILE_FLAGS = {"train": "--train_file", "validation": "--eval_file", "test": "--test_file"}
# The keywords load_splits passes on to the file readers.
READER_OPTIONS = tuple(dict.fromkeys(classification_files.OPTION_NAMES +
                                     pair_files.OPTION_NAMES + qa_files.OPTION_NAMES))


def _check_file_flags(task, files_by_split):
    """`files_by_split`: {split: (file, src, tgt)}; a UsageError for any bad combination."""
    parallel = {flag: value for split, (_, src, tgt) in files_by_split.items()
                for flag, value in zip(PARALLEL_FLAGS[split], (src, tgt))}
    if task not in ("nmt", "summarization") and any(parallel.values()):
        given = ", ".join(flag for flag, value in parallel.items() if value)
        expected = ("a --train_file (SQuAD JSON, JSON Lines or bAbI text)" if task == "qa" else
                    "a --train_file (CSV, TSV, JSON Lines or one example a line)")
        raise UsageError(f"{given}: parallel text files are for nmt and summarization; "
                         f"for {task}, pass {expected} (and optionally --eval_file and "
                         "--test_file).")
    for split, (file, src, tgt) in files_by_split.items():
        src_flag, tgt_flag = PARALLEL_FLAGS[split]
        if bool(src) != bool(tgt):
            given, missing = (src_flag, tgt_flag) if src else (tgt_flag, src_flag)
            raise UsageError(f"{given} is given without {missing}; pass both (line-aligned "
                             "source and target files).")
        if file and src:
            raise UsageError(f"Pass either {FILE_FLAGS[split]} or {src_flag}/{tgt_flag}, "
                             "not both.")
    file, src, _ = files_by_split["train"]
    if not (file or src):
        needed = ("--train_src and --train_tgt (or a --train_file: JSON Lines, CSV, TSV or "
                  "source<TAB>target lines)"
                  if task in ("nmt", "summarization") else "--train_file")
        raise UsageError(f"--dataset=files needs training data: pass {needed}.")


def _reader_options(options):
    """The given (not None) reader options, checked against `READER_OPTIONS`."""
    unknown = sorted(set(options) - set(READER_OPTIONS))
    if unknown:
        raise TypeError(f"load_splits() got unexpected keyword argument(s) "
                        f"{', '.join(unknown)}; its reader options are "
                        f"{', '.join(READER_OPTIONS)}.")
    return {key: value for key, value in options.items() if value is not None}


def _options_of(reader, options):
    """The options of `options` that `reader` (a module with `OPTION_NAMES`) takes."""
    return {key: value for key, value in options.items() if key in reader.OPTION_NAMES}


def _listing(paths, shown=4):
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")


def _read_split(task, split, file, src, tgt, options, labels=None):
    """The records of one split from its flags, and their description for messages."""
    encoding = options.get("encoding")
    if src:
        src_flag, tgt_flag = PARALLEL_FLAGS[split]
        sources, targets = files.expand_paths(src, src_flag), files.expand_paths(tgt, tgt_flag)
        if len(sources) != len(targets):
            raise UsageError(
                f"{src_flag} names {len(sources)} file(s) but {tgt_flag} names "
                f"{len(targets)}; give as many target files as source files (they are "
                f"paired in order: {src_flag} {_listing(sources)}; {tgt_flag} "
                f"{_listing(targets)})."
            )
        records = []
        for source, target in zip(sources, targets):
            records += files.read_parallel(source, target, src_flag, tgt_flag, encoding)
        return records, f"{src_flag}/{tgt_flag} ({_listing(sources)} / {_listing(targets)})"
    flag = FILE_FLAGS[split]
    paths = files.expand_paths(file, flag)
    if task == "classification":
        records = classification_files.read_classification_files(
            paths, flag, labels, **_options_of(classification_files, options))
    elif task == "qa":
        # Training ids are never looked up; evaluation ids key the predictions.
        records = qa_files.read_qa_files(paths, flag, unique_ids=split != "train",
                                         **_options_of(qa_files, options))
    else:
        records = pair_files.read_pair_files(paths, flag, **_options_of(pair_files, options))
    return records, f"{flag} ({_listing(paths)})"


def _read_file_splits(task, files_by_split, seed, options, validation_fraction):
    """`(train, validation, test, info)` record lists (`test` None when not given)."""
    train, train_source = _read_split(task, "train", *files_by_split["train"], options)
    info = {"sources": {"train": train_source}}
    labels = None
    if task == "classification":
        # From every training example, before any is held out: a class whose examples all
        # land in the held-out share is still a class.
        labels = info["label_names"] = _label_names(train)
    file, src, tgt = files_by_split["validation"]
    if file or src:
        validation, info["sources"]["validation"] = _read_split(
            task, "validation", file, src, tgt, options, labels)
    else:
        train, validation, info["validation_note"] = _hold_out(train, seed, train_source,
                                                               validation_fraction)
        info["sources"]["validation"] = f"held out of {train_source}"
    test = None
    file, src, tgt = files_by_split["test"]
    if file or src:
        test, info["sources"]["test"] = _read_split(task, "test", file, src, tgt, options,
                                                    labels)
    if task == "classification":
        _label_ids(labels, *[(records, info["sources"][split]) for split, records in
                             (("train", train), ("validation", validation), ("test", test))
                             if records is not None])
    return train, validation, test, info


def load_splits(task, dataset="demo", data_dir=None, train_src=None, train_tgt=None,
                eval_src=None, eval_tgt=None, train_file=None, eval_file=None, seed=0,
                sizes=None, *, test_file=None, test_src=None, test_tgt=None,
                validation_fraction=HOLD_OUT_FRACTION, **reader_options):
    """Record datasets (train, validation, test) for a task, from the demo, TFDS or files.

    Records are dicts of scalar tensors: nmt and summarization `{"source", "target"}`
    strings; classification `{"text": string, "label": int64}`; qa `{"id", "question",
    "context", "answer", "answers", "source": string, "answer_start": int64}` (`answer`
    the first gold answer, `answers` all of them joined by `qa_files.ANSWER_SEPARATOR`,
    `answer_start` its character offset, -1 when it is not a span of the context;
    `source` the file, for per-file scores). Every user mistake raises `zoo.errors.UsageError`.

    Every file argument takes one file, several comma-separated, and/or glob patterns
    (`zoo.data.files.expand_paths`); the files' records are concatenated in that order.
    Parallel files are paired in order: `train_src` and `train_tgt` name as many files.

    Args:
        task: `"nmt"`, `"summarization"`, `"classification"` or `"qa"`.
        dataset: `"demo"` (generated offline from `seed`), `"tfds:NAME[/CONFIG]"` (prepared
            in `data_dir`), or `"files"` (the file arguments below).
        data_dir: TFDS data directory (only with `tfds:`).
        train_src, train_tgt, eval_src, eval_tgt: line-aligned parallel text files
            (nmt and summarization).
        train_file, eval_file: nmt and summarization: JSON Lines, CSV, TSV, or (any other
            extension) `source<TAB>target` lines, read by `zoo.data.pair_files` with
            `reader_options`; qa: SQuAD JSON, JSON Lines or bAbI text, read by
            `zoo.data.qa_files` (`format`, `encoding`); classification: CSV, TSV, JSON Lines, one
            example a line or fastText, read by `zoo.data.classification_files` with
            `reader_options`. Without evaluation files, a deterministic
            `validation_fraction` of train is held out for validation (`info` says so).
        seed: int, seeds the demo corpus and the held-out choice.
        sizes: optional dict with `"train"`, `"validation"`, `"test"` counts: the demo
            corpus sizes, or, for TFDS and files, at most that many records per split.
        test_file, test_src, test_tgt: the test split from files, as the train and eval
            arguments; without them `test` is None for `dataset="files"`.
        validation_fraction: the share of the training files held out for validation
            when no evaluation files are given, in (0, 1); 5% by default.
        **reader_options: the recipe's reader flags, passed through as keywords
            (`READER_OPTIONS`). None means the default, and options that do not apply are
            unused. `encoding` applies to the files of every task; `format` to the
            `*_file` files of classification (`zoo.data.classification_files`) and of nmt
            and summarization (`zoo.data.pair_files`: `csv`, `tsv` or `jsonl`);
            `text_column`, `label_column`, `text_field`, `label_field`, `label_separator`
            and `coarse_label_separator` to classification; `source_field`,
            `target_field`, `source_column` and `target_column` to nmt and summarization.
            Any other keyword is a TypeError.

    Returns:
        `Splits(train, validation, test, info)`; `test` may be None. `info` holds `task`,
        `dataset`, `sizes` (records per split, where known), and `label_names` for
        classification (the training labels sorted by name, numerically when all are
        integers; an evaluation or test label that training lacks is an error naming its
        file and line). With files, `info["sources"]` describes each split's origin.

    Example:

    >>> import zoo.data
    >>> splits = zoo.data.load_splits("nmt", sizes={"train": 100})
    >>> splits.info["sizes"]
    {'train': 100, 'validation': 1000, 'test': 1000}
    >>> next(iter(splits.train))["target"].numpy()
    b'2007-10-24'

    Classification from a TREC-style file (`COARSE:fine text`, latin-1) and a test file:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name, text in (("train.txt", "LOC:city Où ?\\nNUM:date When ?\\nLOC:other Where ?"),
    ...                    ("test.txt", "NUM:count How many ?")):
    ...     with open(os.path.join(folder, name), "w", encoding="latin-1") as file:
    ...         _ = file.write(text)
    >>> splits = zoo.data.load_splits(
    ...     "classification", "files", train_file=f"{folder}/train.txt",
    ...     eval_file=f"{folder}/train.txt", test_file=f"{folder}/test.txt",
    ...     label_separator=" ", coarse_label_separator=":", encoding="latin-1")
    >>> splits.info["label_names"], splits.info["sizes"]
    (['LOC', 'NUM'], {'train': 3, 'validation': 3, 'test': 1})
    >>> [int(record["label"]) for record in splits.test]
    [1]

    Summarization from JSON Lines with other field names (AESLC's email and subject):

    >>> import json
    >>> with open(os.path.join(folder, "aeslc.jsonl"), "w") as file:
    ...     for index in range(20):
    ...         _ = file.write(json.dumps({"id": str(index), "email": f"Body {index}.",
    ...                                    "subject": f"Subject {index}"}) + "\\n")
    >>> splits = zoo.data.load_splits("summarization", "files",
    ...                               train_file=f"{folder}/aeslc.jsonl",
    ...                               source_field="email", target_field="subject")
    >>> splits.info["sizes"]
    {'train': 19, 'validation': 1}
    >>> sorted(next(iter(splits.train)))
    ['source', 'target']
    """
    if task not in TASKS:
        raise UsageError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    files_by_split = {"train": (train_file, train_src, train_tgt),
                      "validation": (eval_file, eval_src, eval_tgt),
                      "test": (test_file, test_src, test_tgt)}
    given = [flag for split, values in files_by_split.items()
             for flag, value in zip((FILE_FLAGS[split],) + PARALLEL_FLAGS[split], values)
             if value]
    if dataset != "files" and given:
        raise UsageError(f"{', '.join(given)} only apply to --dataset=files (the dataset is "
                         f"{dataset!r}); add --dataset=files or drop them.")
    if data_dir and not (dataset or "").startswith("tfds:"):
        raise UsageError(f"--data_dir only applies to --dataset=tfds:NAME (the dataset is "
                         f"{dataset!r}).")
    if sizes is not None and (not isinstance(sizes, dict) or
                              set(sizes) - {"train", "validation", "test"}):
        raise UsageError(f"sizes must be a dict with keys train, validation, test; got "
                         f"{sizes!r}.")
    options = _reader_options(reader_options)
    sizes = dict(sizes or {})
    info = {"task": task, "dataset": dataset}

    if dataset == "demo":
        records = demo.SPLITS_BY_TASK[task](seed=seed, **{
            f"{split}_size": count for split, count in sizes.items()})
        datasets = [records_to_dataset(records[split], task)
                    for split in ("train", "validation", "test")]
        info["sizes"] = {split: len(records[split]) for split in records}
        info["description"] = demo.DESCRIPTIONS[task]
        if task == "classification":
            info["label_names"] = list(demo.CLASS_NAMES)
        return Splits(*datasets, info)

    if dataset == "files":
        _check_file_flags(task, files_by_split)
        if not 0.0 < validation_fraction < 1.0:
            raise UsageError(f"--validation_fraction={validation_fraction}: give the share "
                             "of the training files to hold out for validation, in (0, 1), "
                             "e.g. 0.1.")
        train, validation, test, extra = _read_file_splits(task, files_by_split, seed,
                                                           options, validation_fraction)
        info.update(extra)
        datasets, info["sizes"] = [], {}
        for split, records in (("train", train), ("validation", validation), ("test", test)):
            if records is None:
                datasets.append(None)
                continue
            records = records[:sizes.get(split, len(records))]
            info["sizes"][split] = len(records)
            datasets.append(records_to_dataset(records, task))
        return Splits(*datasets, info)

    if isinstance(dataset, str) and dataset.startswith("tfds:") and dataset[5:]:
        train, validation, test, extra = load_tfds_splits(task, dataset[5:], data_dir)
        info.update(extra)
        limited = []
        for split, data in (("train", train), ("validation", validation), ("test", test)):
            if data is not None and split in sizes:
                data = data.take(sizes[split])
                info["sizes"][split] = min(sizes[split],
                                           info["sizes"].get(split, sizes[split]))
            limited.append(data)
        return Splits(*limited, info)

    raise UsageError(f"Unknown dataset {dataset!r}; use demo, tfds:NAME[/CONFIG] (e.g. "
                     "tfds:ted_hrlr_translate/pt_to_en) or files (with --train_src/"
                     "--train_tgt or --train_file).")
