"""`load_splits`: one entry point from `--dataset` and the file flags to record datasets."""

import collections
import random

import tensorflow as tf

from zoo.data import demo, files
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
    "qa": {"question": tf.string, "context": tf.string, "answer": tf.string,
           "answer_start": tf.int64},
}


def records_to_dataset(records, task):
    """A `tf.data.Dataset` of scalar-tensor dicts from a list of record dicts."""
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


def _hold_out(records, seed, source):
    """Splits off a deterministic `HOLD_OUT_FRACTION` of `records` for validation."""
    if len(records) < 2:
        raise UsageError(f"{source} has {len(records)} example(s); give at least 2, or an "
                         "evaluation file.")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    count = max(1, round(len(records) * HOLD_OUT_FRACTION))
    held_out = set(order[:count])
    validation = [record for index, record in enumerate(records) if index in held_out]
    train = [record for index, record in enumerate(records) if index not in held_out]
    note = (f"No evaluation data was given: {count} of the {len(records)} training examples "
            f"({HOLD_OUT_FRACTION:.0%}, chosen with seed {seed}) are held out for validation.")
    return train, validation, note


def _label_ids(train, validation, eval_source):
    names = sorted({record["label_text"] for record in train})
    if all(name.lstrip("-").isdigit() for name in names):
        names = sorted(names, key=int)
    ids = {name: index for index, name in enumerate(names)}
    for record in train:
        record["label"] = ids[record["label_text"]]
    for number, record in enumerate(validation, start=1):
        if record["label_text"] not in ids:
            raise UsageError(
                f"{eval_source}, line {number}: label {record['label_text']!r} does not occur "
                f"in the training data (labels: {', '.join(names)})."
            )
        record["label"] = ids[record["label_text"]]
    return names


def _check_file_flags(task, train_src, train_tgt, eval_src, eval_tgt, train_file, eval_file):
    parallel = {"--train_src": train_src, "--train_tgt": train_tgt, "--eval_src": eval_src,
                "--eval_tgt": eval_tgt}
    if task not in ("nmt", "summarization") and any(parallel.values()):
        given = ", ".join(flag for flag, value in parallel.items() if value)
        expected = "a JSON Lines --train_file" if task == "qa" else "a TSV --train_file"
        raise UsageError(f"{given}: parallel text files are for nmt and summarization; "
                         f"for {task}, pass {expected} (and optionally --eval_file).")
    for first, second in (("--train_src", "--train_tgt"), ("--eval_src", "--eval_tgt")):
        if bool(parallel[first]) != bool(parallel[second]):
            given, missing = (first, second) if parallel[first] else (second, first)
            raise UsageError(f"{given} is given without {missing}; pass both (line-aligned "
                             "source and target files).")
    if train_file and train_src:
        raise UsageError("Pass either --train_file or --train_src/--train_tgt, not both.")
    if eval_file and eval_src:
        raise UsageError("Pass either --eval_file or --eval_src/--eval_tgt, not both.")
    if not (train_file or train_src):
        needed = ("--train_src and --train_tgt (or a TSV --train_file)"
                  if task in ("nmt", "summarization") else "--train_file")
        raise UsageError(f"--dataset=files needs training data: pass {needed}.")


def _read_file_splits(task, train_src, train_tgt, eval_src, eval_tgt, train_file, eval_file,
                      seed):
    def read(src, tgt, file, which):
        if src:
            return files.read_parallel(src, tgt, f"--{which}_src", f"--{which}_tgt"), (
                f"--{which}_src/--{which}_tgt")
        if task == "qa":
            return files.read_jsonl(file, f"--{which}_file"), f"--{which}_file ({file})"
        return files.read_tsv(file, f"--{which}_file", task), f"--{which}_file ({file})"

    train, train_source = read(train_src, train_tgt, train_file, "train")
    info = {}
    if eval_src or eval_file:
        validation, eval_source = read(eval_src, eval_tgt, eval_file, "eval")
    else:
        train, validation, info["validation_note"] = _hold_out(train, seed, train_source)
        eval_source = train_source
    if task == "classification":
        info["label_names"] = _label_ids(train, validation, eval_source)
    return train, validation, info


def load_splits(task, dataset="demo", data_dir=None, train_src=None, train_tgt=None,
                eval_src=None, eval_tgt=None, train_file=None, eval_file=None, seed=0,
                sizes=None):
    """Record datasets (train, validation, test) for a task, from the demo, TFDS or files.

    Records are dicts of scalar tensors: nmt and summarization `{"source", "target"}`
    strings; classification `{"text": string, "label": int64}`; qa `{"question",
    "context", "answer": string, "answer_start": int64}` (character offset, -1 when the
    answer is not a span of the context). Every user mistake raises `zoo.errors.UsageError`.

    Args:
        task: `"nmt"`, `"summarization"`, `"classification"` or `"qa"`.
        dataset: `"demo"` (generated offline from `seed`), `"tfds:NAME[/CONFIG]"` (prepared
            in `data_dir`), or `"files"` (the file arguments below).
        data_dir: TFDS data directory (only with `tfds:`).
        train_src, train_tgt, eval_src, eval_tgt: line-aligned parallel text files
            (nmt and summarization).
        train_file, eval_file: TSV (`source<TAB>target`, or `label<TAB>text` for
            classification) or JSON Lines for qa. Without evaluation files, a
            deterministic 5% of train is held out for validation (`info` says so).
        seed: int, seeds the demo corpus and the held-out choice.
        sizes: optional dict with `"train"`, `"validation"`, `"test"` counts: the demo
            corpus sizes, or, for TFDS and files, at most that many records per split.

    Returns:
        `Splits(train, validation, test, info)`; `test` may be None. `info` holds `task`,
        `dataset`, `sizes` (records per split, where known), and `label_names` for
        classification.

    Example:

    >>> import zoo.data
    >>> splits = zoo.data.load_splits("nmt", sizes={"train": 100})
    >>> splits.info["sizes"]
    {'train': 100, 'validation': 1000, 'test': 1000}
    >>> next(iter(splits.train))["target"].numpy()
    b'2007-10-24'
    """
    if task not in TASKS:
        raise UsageError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    file_flags = {"--train_src": train_src, "--train_tgt": train_tgt, "--eval_src": eval_src,
                  "--eval_tgt": eval_tgt, "--train_file": train_file, "--eval_file": eval_file}
    given = [flag for flag, value in file_flags.items() if value]
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
        _check_file_flags(task, train_src, train_tgt, eval_src, eval_tgt, train_file,
                          eval_file)
        train, validation, extra = _read_file_splits(
            task, train_src, train_tgt, eval_src, eval_tgt, train_file, eval_file, seed)
        info.update(extra)
        train = train[:sizes.get("train", len(train))]
        validation = validation[:sizes.get("validation", len(validation))]
        info["sizes"] = {"train": len(train), "validation": len(validation)}
        return Splits(records_to_dataset(train, task), records_to_dataset(validation, task),
                      None, info)

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
