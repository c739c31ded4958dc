"""TensorFlow Datasets as record splits, checked to be prepared offline first.

`tfds.load` of a dataset that is not prepared tries to download it, and without network
it retries for minutes. `load_tfds_splits` instead asks the builder whether the prepared
version directory exists (`builder.is_prepared()`) and fails at once with the commands
that prepare it.

Features are mapped to the record layout of `zoo.data` by task:

- nmt: translation datasets (`ted_hrlr_translate/pt_to_en`, `wmt14_translate/de-en`, ...):
  the source and target languages come from the config name (`pt_to_en` → pt→en,
  `de-en` → de→en), else from the dataset's supervised keys.
- summarization: `SUMMARIZATION_FEATURES` (`cnn_dailymail`, `xsum`, `aeslc`, `gigaword`...),
  else the supervised keys when both are text.
- classification: `CLASSIFICATION_FEATURES` (`imdb_reviews`, `ag_news_subset`...), else
  the supervised keys `(text, ClassLabel)`; `info["label_names"]` from the ClassLabel.
- qa: SQuAD-like features (`question`, `context`, `answers/{text, answer_start}`); the
  first answer is used, and an unanswerable question (no answers) gets `answer=""`,
  `answer_start=-1`.
"""

import tensorflow as tf

from zoo.data.qa_files import ANSWER_SEPARATOR
from zoo.errors import UsageError

SUMMARIZATION_FEATURES = {
    "aeslc": ("email_body", "subject_line"),
    "big_patent": ("description", "abstract"),
    "billsum": ("text", "summary"),
    "cnn_dailymail": ("article", "highlights"),
    "gigaword": ("document", "summary"),
    "multi_news": ("document", "summary"),
    "newsroom": ("text", "summary"),
    "reddit_tifu": ("documents", "title"),
    "samsum": ("dialogue", "summary"),
    "scientific_papers": ("article", "abstract"),
    "wikihow": ("text", "headline"),
    "xsum": ("document", "summary"),
}
CLASSIFICATION_FEATURES = {
    "ag_news_subset": ("description", "label"),
    "imdb_reviews": ("text", "label"),
    "yelp_polarity_reviews": ("text", "label"),
    "glue/sst2": ("sentence", "label"),
    "glue/cola": ("sentence", "label"),
    "amazon_polarity": ("content", "label"),
}
VALIDATION_SPLIT_NAMES = ("validation", "valid", "dev")
HOLD_OUT_PERCENT = 5


def _prepare_hint(name, data_dir):
    where = f"--data_dir={data_dir}" if data_dir else "--data_dir=DIR"
    return (
        f"Prepare it on a machine with network access with `tfds build {name} {where}` "
        f"(or `python -c \"import tensorflow_datasets as tfds; tfds.load('{name}', "
        f"data_dir='{data_dir or 'DIR'}')\"`), copy that directory here and pass it with "
        "--data_dir."
    )


def get_prepared_builder(name, data_dir=None):
    """The `tfds` builder of `name` (`NAME[/CONFIG][:VERSION]`), or a `UsageError` at once
    when it is unknown or not prepared in `data_dir` (default: the TFDS data dir)."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UsageError(
            f"Unknown TFDS dataset {name!r}. Use --dataset=tfds:NAME[/CONFIG] with a name "
            "from https://www.tensorflow.org/datasets/catalog (e.g. "
            "tfds:ted_hrlr_translate/pt_to_en), or --dataset=demo or --dataset=files."
        ) from None
    except (ValueError, AssertionError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UsageError(f"Cannot use TFDS dataset {name!r}: {first_line}") from None
    if not builder.is_prepared():
        location = data_dir or "the default TFDS data directory"
        raise UsageError(
            f"TFDS dataset {name!r} is not prepared in {location} (looked for "
            f"{builder.data_dir}), and there is no network here to download it. "
            + _prepare_hint(name, data_dir)
        )
    return builder


def _text_keys(builder):
    import tensorflow_datasets as tfds

    features = builder.info.features
    return [key for key, feature in features.items()
            if isinstance(feature, tfds.features.Text)] if hasattr(features, "items") else []


def _translation_keys(builder, name):
    features = builder.info.features
    languages = list(getattr(features, "languages", None) or [])
    if not languages:
        languages = _text_keys(builder)
    config = builder.builder_config.name if builder.builder_config else ""
    for separator in ("_to_", "-", "_"):
        pair = config.split(separator)
        if len(pair) == 2 and all(language in languages for language in pair):
            return pair[0], pair[1]
    supervised = builder.info.supervised_keys
    if isinstance(supervised, tuple) and len(supervised) == 2 and all(
        isinstance(key, str) and key in languages for key in supervised
    ):
        return supervised
    raise UsageError(
        f"TFDS dataset {name!r} is not a translation dataset with two languages "
        f"(features: {sorted(languages) or 'none that are text'}); for --task nmt use e.g. "
        "tfds:ted_hrlr_translate/pt_to_en or tfds:wmt14_translate/de-en."
    )


def _pair_keys(builder, name, table, task, example):
    base = name.split(":")[0]
    for key in (base, base.split("/")[0]):
        if key in table:
            return table[key]
    supervised = builder.info.supervised_keys
    if isinstance(supervised, tuple) and len(supervised) == 2 and all(
        isinstance(key, str) for key in supervised
    ):
        return supervised
    raise UsageError(
        f"Do not know which features of TFDS dataset {name!r} to use for {task} (it has "
        f"no supervised keys). Known {task} datasets: {', '.join(sorted(table))}; "
        f"e.g. --dataset=tfds:{example}, or convert the data to a TSV file."
    )


def _record_fn(builder, name, task):
    """A function from a TFDS example to a record, and extra `info` entries."""
    import tensorflow_datasets as tfds

    features = builder.info.features
    if task == "nmt":
        source, target = _translation_keys(builder, name)
        return (lambda ex: {"source": ex[source], "target": ex[target]},
                {"source_language": source, "target_language": target})
    if task == "summarization":
        source, target = _pair_keys(builder, name, SUMMARIZATION_FEATURES, task, "xsum")
        text_keys = _text_keys(builder)
        if source not in text_keys or target not in text_keys:
            raise UsageError(f"TFDS dataset {name!r}: features {source!r} and {target!r} are "
                             "not both text, so it cannot be used for summarization.")
        return lambda ex: {"source": ex[source], "target": ex[target]}, {}
    if task == "classification":
        text, label = _pair_keys(builder, name, CLASSIFICATION_FEATURES, task, "imdb_reviews")
        label_feature = features[label] if label in features else None
        if not isinstance(label_feature, tfds.features.ClassLabel) or (
            text not in _text_keys(builder)
        ):
            raise UsageError(f"TFDS dataset {name!r}: expected a text feature and a class "
                             f"label, found {text!r} and {label!r}.")
        return (lambda ex: {"text": ex[text], "label": tf.cast(ex[label], tf.int64)},
                {"label_names": list(label_feature.names)})
    if task == "qa":
        if not {"question", "context", "answers"} <= set(features.keys()):
            raise UsageError(
                f"TFDS dataset {name!r} has no SQuAD-like features (question, context, "
                f"answers); found {sorted(features.keys())}. Use e.g. --dataset=tfds:squad."
            )

        def to_record(ex):
            answers = ex["answers"]
            has_answer = tf.size(answers["text"]) > 0
            answer = tf.cond(has_answer, lambda: answers["text"][0], lambda: tf.constant(""))
            start = tf.cond(has_answer,
                            lambda: tf.cast(answers["answer_start"][0], tf.int64),
                            lambda: tf.constant(-1, tf.int64))
            question_id = ex["id"] if "id" in ex else tf.strings.as_string(
                tf.strings.to_hash_bucket_fast(ex["question"] + ex["context"], 2**62))
            return {"id": question_id, "question": ex["question"], "context": ex["context"],
                    "answer": answer, "answer_start": start, "source": f"tfds:{name}",
                    "answers": tf.strings.reduce_join(answers["text"],
                                                      separator=ANSWER_SEPARATOR)}

        return to_record, {}
    raise ValueError(f"unknown task {task!r}")


def load_tfds_splits(task, name, data_dir=None):
    """`(train, validation, test, info)` record datasets of a prepared TFDS dataset.

    Without a validation split, the last `HOLD_OUT_PERCENT`% of train is held out (and
    `info["validation_note"]` says so); `test` is None when the dataset has no test split.
    """
    builder = get_prepared_builder(name, data_dir)
    to_record, info = _record_fn(builder, name, task)
    # Mocked or metadata-less builders list no splits; assume the usual names then.
    available = list(builder.info.splits.keys()) or ["train", "validation", "test"]
    if "train" not in available:
        raise UsageError(f"TFDS dataset {name!r} has no train split (splits: {available}).")
    validation = next((split for split in VALIDATION_SPLIT_NAMES if split in available), None)
    train = "train"
    if validation is None:
        train = f"train[:{100 - HOLD_OUT_PERCENT}%]"
        validation = f"train[{100 - HOLD_OUT_PERCENT}%:]"
        info["validation_note"] = (f"{name} has no validation split: the last "
                                   f"{HOLD_OUT_PERCENT}% of train is held out for it.")
    test = "test" if "test" in available else None

    def read(split):
        if split is None:
            return None
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        return dataset.map(to_record, num_parallel_calls=tf.data.AUTOTUNE)

    sizes = {}
    for key, split in (("train", train), ("validation", validation), ("test", test)):
        base = split.split("[")[0] if split else None
        if base in builder.info.splits and "[" not in split:
            sizes[key] = builder.info.splits[base].num_examples
    info.update({"tfds_name": name, "tfds_data_dir": builder.data_dir, "sizes": sizes,
                 "splits": {"train": train, "validation": validation, "test": test}})
    return read(train), read(validation), read(test), info
