"""The run every recipe shares: `python -m recipes.<task>`.

A recipe states what is its own in a `Task` (flags and defaults, tokenizers, model family,
batches and loss, validation, scoring, export, pictures, predictions); `main(task)` runs
set-up → data → train → evaluate → export → examples → summary for it:

    if __name__ == "__main__":
        driver.main(MyTask())

The shared flags are defined here; each recipe's `--help` lists them with its own.
"""

import dataclasses
import inspect
import json
import math
import pathlib
import shutil
import sys
import textwrap
import time

from zoo import _quiet  # noqa: F401  (before TensorFlow loads)

from absl import app, flags, logging

from recipes import console
from zoo.errors import UsageError

FLAGS = flags.FLAGS

MODES = ("all", "train", "evaluate", "predict", "export")
TRAINING_MODES = ("all", "train")

flags.DEFINE_string("model", None, "Registry name of the model (zoo.models.names()).")
flags.DEFINE_string(
    "hparams", "",
    "Comma-separated model hyper-parameter overrides, e.g. 'd_model=128,num_layers=2'.")
flags.DEFINE_string(
    "dataset", "demo",
    "'demo' (built-in, offline), 'tfds:NAME[/CONFIG]', or 'files' (given by the file flags).")
flags.DEFINE_string("data_dir", None, "TFDS data directory holding prepared datasets.")
flags.DEFINE_string("train_file", None,
                    "Training data: files, comma-separated or a glob (implies --dataset=files).")
flags.DEFINE_string("eval_file", None,
                    "Validation data files (default: --validation_fraction of the training "
                    "files, held out).")
flags.DEFINE_float("validation_fraction", 0.05,
                   "Share of the training files held out for validation when no --eval_file "
                   "is given.")
flags.DEFINE_string("test_file", None,
                    "Test data files, scored by --mode=evaluate and at the end of --mode=all.")
flags.DEFINE_string("encoding", "utf-8", "Text encoding of the data files (e.g. latin-1).")
flags.DEFINE_string("model_dir", None, "Where checkpoints, vocabularies and logs go.")
flags.DEFINE_string("export_dir", None, "Where SavedModels go (default: <model_dir>/export).")
flags.DEFINE_enum(
    "mode", "all", MODES,
    "'all' trains, evaluates, exports and shows predictions; the others do one step.")
flags.DEFINE_enum(
    "strategy", "auto", ["auto", "default", "one_device", "mirrored", "multi_worker", "tpu"],
    "tf.distribute strategy ('auto': TPU if configured, several GPUs -> mirrored, "
    "TF_CONFIG -> multi_worker, else default).")
flags.DEFINE_integer("epochs", None, "Training epochs.")
flags.DEFINE_integer("steps_per_epoch", None, "Steps an epoch (default: one pass over train).")
flags.DEFINE_integer("batch_size", None, "Global batch size in examples (split over replicas).")
flags.DEFINE_boolean("mixed_precision", False, "Train in mixed bfloat16/float16.")
flags.DEFINE_boolean("jit_compile", False, "Compile training and decoding steps with XLA.")
flags.DEFINE_float("learning_rate", None, "Peak learning rate (default: the recipe's).")
flags.DEFINE_integer("warmup_steps", None, "Linear warm-up steps of the learning rate.")
flags.DEFINE_enum("lr_schedule", "inverse_sqrt", ["inverse_sqrt", "cosine"],
                  "Decay after the warm-up: 1/sqrt(step), or a cosine to 0 at the last step.")
flags.DEFINE_integer("average_last_epochs", 0,
                     "Average the weights of the last N epochs after training and keep the "
                     "average when it scores better on validation (0 or 1: off).")
flags.DEFINE_integer("backup_steps", 0,
                     "Back up the training state every N steps as well as every epoch: a "
                     "killed run resumes with at most N steps of training lost (Keras then "
                     "runs the interrupted epoch's steps in full). 0: at epoch ends only.")
flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing of the training loss.")
flags.DEFINE_float("clipnorm", 1.0, "Gradient clipping by global norm (0 disables).")
flags.DEFINE_integer("early_stopping_patience", None, "Epochs without improvement to stop.")
flags.DEFINE_integer("vocab_size", None, "Subword vocabulary size to train.")
flags.DEFINE_integer("vocab_min_count", 10,
                     "Fewest occurrences of a word or piece that may enter the learnt "
                     "vocabulary (lower it for small corpora).")
flags.DEFINE_boolean("word_vocab", False,
                     "Learn a vocabulary of whole words (an unseen word becomes [UNK]) instead "
                     "of WordPiece subwords: better for small corpora full of names.")
flags.DEFINE_boolean("lowercase", False, "Lowercase all text before tokenization.")
flags.DEFINE_integer("seed", 0, "Random seed of data generation, shuffling and weights.")
flags.DEFINE_integer("restarts", 1,
                     "Train this many models from different initial weights (seeds --seed, "
                     "--seed+1, ...) on the same data, each in <model_dir>/restart-<k>, and "
                     "keep the one with the best validation score (a restart that diverges "
                     "competes with its best epoch before).")
flags.DEFINE_string("input", None, "--mode=predict: a file of inputs (default stdin).")
flags.DEFINE_integer("eval_examples", 500,
                     "Validation examples scored after each epoch (0: all).")

# Flags that fix a trained run: saved in recipe.json, and a different value later is an error.
RUN_FLAGS = ("model", "hparams", "vocab_size", "lowercase")


class Task:
    """What a recipe states about its task; `main` runs everything else.

    Subclasses set the class attributes and implement the methods below; `run` is the
    `Run` being driven (its `config`, `dir`, `splits`, `assets`, `strategy`).

    Attributes:
        name: the recipe's name (`recipes.<name>`), its export's model name and its default
            run directory `runs/<name>`.
        data_task: the `zoo.data.load_splits` task of its records.
        families: the `zoo.models` families it trains.
        metric: the primary metric's name (picks the best checkpoint).
        metric_label: how the console names it (e.g. "BLEU").
        metric_mode: `"max"` or `"min"`.
        run_flags: flags besides `RUN_FLAGS` that fix a trained run.
        defaults: flag defaults of the recipe.
        example_unit: what one training example is, for the console ("sentence pairs").
        skip_blank_inputs: `--mode=predict` skips blank input lines (else each is an input).
        serving_instance: one REST instance of the export, as JSON, for the summary's
            `curl` line.
    """

    name = None
    data_task = None
    families = ()
    metric = None
    metric_label = None
    metric_mode = "max"
    run_flags = ()
    defaults = {}
    example_unit = "examples"
    skip_blank_inputs = True
    serving_instance = '"..."'

    def define_flags(self):
        """Defines the recipe's own flags (called once, before parsing)."""

    def check_flags(self):
        """Raises `UsageError` for flags that do not fit together."""

    def reader_options(self):
        """Keyword arguments of `zoo.data.load_splits` from the recipe's data flags."""
        return {}

    def data_config(self, splits):
        """Entries the training data adds to the run's config (e.g. label names)."""
        return {}

    def prepare(self, run):
        """Returns the run's assets (tokenizers...), learning vocabularies when absent."""
        raise NotImplementedError

    def model_kwargs(self, run):
        """The builder arguments the data fixes (vocabulary sizes, classes, lengths)."""
        raise NotImplementedError

    def sample_inputs(self):
        """A tiny batch that builds the model's variables before weights are loaded."""
        raise NotImplementedError

    def initialize_weights(self, run, model):
        """Sets weights of a new model before training (e.g. pretrained embeddings); not
        called when the run resumes from its backup."""

    def batches(self, run, records, training):
        """`tf.data` batches `(inputs, targets)` of `records` for training."""
        raise NotImplementedError

    def loss(self, run):
        raise NotImplementedError

    def train_metrics(self, run):
        return []

    def validator(self, run, model, records):
        """`evaluate_fn(model) -> {metric: value}` on validation `records`, called after
        each epoch with the live weights."""
        raise NotImplementedError

    def evaluate(self, run, model, records):
        """Scores `model` on `records`; returns an `Evaluation`."""
        raise NotImplementedError

    def export(self, run, model, export_dir):
        """Writes a SavedModel version under `export_dir`; returns its path."""
        raise NotImplementedError

    def show_examples(self, run, model, evaluation, writer):
        """Prints a few predictions and saves pictures (PNG, and TensorBoard images via
        `writer`); returns `(label, path)` rows for the summary."""
        return []

    def read_inputs(self):
        """The inputs of `--mode=predict`, from `--input` or stdin: by default its lines."""
        return console.read_inputs(FLAGS.input, self.skip_blank_inputs)

    def predict(self, run, model, inputs):
        """Yields one output line for each of `read_inputs()`."""
        raise NotImplementedError

    def summary(self, run):
        """Extra `(label, value)` rows for the closing summary."""
        return []


@dataclasses.dataclass
class Evaluation:
    """A task's scores on one split.

    Args:
        scores: every score, JSON-serialisable; `scores[task.metric]` is the primary one.
        count: how many examples were scored.
        rows: `(label, text)` rows the console shows below the split line.
        examples: whatever `Task.show_examples` needs (e.g. inputs, outputs, references).
    """

    scores: dict
    count: int
    rows: list = dataclasses.field(default_factory=list)
    examples: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Run:
    """The state of one run: its task, directory, config, strategy, data and assets."""

    task: Task
    dir: "RunDirectory"
    config: dict
    strategy: object = None
    splits: object = None
    assets: object = None


class RunDirectory:
    """The files of one run under `--model_dir`: config, vocabularies, checkpoints, logs.

    Args:
        path: the model directory.
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def file(self, name):
        return self.path / name

    @property
    def config_path(self):
        return self.path / "recipe.json"

    def save_config(self, config):
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

    def load_config(self):
        if not self.config_path.exists():
            raise UsageError(
                f"{self.path} holds no trained model (no {self.config_path.name}). "
                "Train one first with --mode=train (or --mode=all), or point --model_dir "
                "at the directory of an earlier run.")
        return json.loads(self.config_path.read_text())

    def weights_path(self):
        """The best checkpoint if there is one, else the last one."""
        for name in ("best.weights.h5", "last.weights.h5"):
            if self.file(name).exists():
                return self.file(name)
        raise UsageError(
            f"{self.path} has no checkpoint yet (best.weights.h5 or last.weights.h5): "
            "train first with --mode=train.")


def one_tokenizer(run, fields, extend=None):
    """The run's subword tokenizer (`vocab.txt`), learnt first on the training split's
    `fields` when the run has none yet; `extend(vocabulary)`, if given, returns tokens to
    append to the learnt vocabulary."""
    import zoo.data
    from zoo import text

    path = run.dir.file("vocab.txt")
    if not path.exists():
        if run.splits is None:
            raise UsageError(f"{run.dir.path} has no vocab.txt: train first.")
        print(console.rule("Vocabulary"))
        tokenizer = text.train_subword_tokenizer(
            zoo.data.record_texts(run.splits.train, fields), run.config["vocab_size"],
            lowercase=run.config["lowercase"], min_count=FLAGS.vocab_min_count,
            whole_words=FLAGS.word_vocab)
        learnt = tokenizer.vocabulary_size
        if extend:
            tokenizer = text.SubwordTokenizer(
                tokenizer.vocabulary + extend(tokenizer.vocabulary),
                lowercase=run.config["lowercase"])
        tokenizer.save(path)
        added = tokenizer.vocabulary_size - learnt
        print(f"  {learnt} subwords" + (f" learnt, {added} added" if extend else "")
              + f", saved as {path}")
    return text.SubwordTokenizer.load(path, lowercase=run.config["lowercase"])


def parse_hparams(text):
    """Parses 'a=1,b=0.5,c=true,d=name' into a dict of Python values."""
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        if "=" not in item:
            raise UsageError(
                f"--hparams item {item!r} is not of the form name=value "
                "(e.g. --hparams=d_model=128,num_layers=2).")
        name, raw = (part.strip() for part in item.split("=", 1))
        try:
            value = json.loads(raw.lower() if raw.lower() in ("true", "false") else raw)
        except json.JSONDecodeError:
            value = raw
        values[name] = value
    return values


# --- configuration ---------------------------------------------------------------------

def _flag_config(task):
    config = {"task": task.name}
    for name in RUN_FLAGS + tuple(task.run_flags):
        value = FLAGS[name].value
        config[name] = parse_hparams(value) if name == "hparams" else value
    return config


def _check_model(task, config):
    """The model exists, is of the task's family, and knows every hyper-parameter."""
    import zoo.models

    preset = zoo.models.get(config["model"])
    if preset.family not in task.families:
        valid = [name for family in task.families for name in zoo.models.names(family)]
        raise UsageError(
            f"--model={config['model']} is a {preset.family} model; recipes.{task.name} "
            f"trains {' or '.join(task.families)} models: {', '.join(valid)}.")
    parameters = inspect.signature(preset.builder).parameters
    known = {name for name, parameter in parameters.items()
             if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)}
    unknown = sorted(set(config["hparams"]) - known)
    if unknown:
        raise UsageError(
            f"--hparams: {config['model']} has no hyper-parameter "
            f"{', '.join(map(repr, unknown))}. Its hyper-parameters: "
            f"{', '.join(sorted(known))}.")


def resolve_config(task, run_dir):
    """The run's configuration, from the flags or its saved `recipe.json`.

    A saved run is resumed or used only with the same run flags: training modes compare
    every run flag, the others the flags given on the command line.
    """
    training = FLAGS.mode in TRAINING_MODES
    if not run_dir.config_path.exists():
        if not training:
            run_dir.load_config()  # raises: nothing trained here
        config = _flag_config(task)
        _check_model(task, config)
        return config
    saved = run_dir.load_config()
    wanted = _flag_config(task)
    changed = [name for name in RUN_FLAGS + tuple(task.run_flags)
               if (training or FLAGS[name].present) and saved.get(name) != wanted[name]]
    if changed:
        before = " ".join(f"--{name}={_flag_text(saved.get(name))}" for name in changed)
        after = " ".join(f"--{name}={_flag_text(wanted[name])}" for name in changed)
        raise UsageError(
            f"{run_dir.path} holds a run trained with {before} but this command gives "
            f"{after}: use another --model_dir, or the run's own flags to resume or use it.")
    return saved


def _flag_text(value):
    if isinstance(value, dict):
        return ",".join(f"{key}={json.dumps(item)}" for key, item in value.items()) or "''"
    return value


# --- the run ---------------------------------------------------------------------------

def load_data(task):
    """Train, validation and test records of the task, from `--dataset` and the file flags."""
    import zoo.data

    return zoo.data.load_splits(
        task.data_task, dataset=_dataset_spec(task), data_dir=FLAGS.data_dir,
        seed=FLAGS.seed, validation_fraction=FLAGS.validation_fraction, **_file_flags(task),
        **task.reader_options())


def _file_flags(task):
    names = ["train_file", "eval_file", "test_file"] + [
        name for name in ("train_src", "train_tgt", "eval_src", "eval_tgt", "test_src",
                          "test_tgt") if name in FLAGS]
    return {name: FLAGS[name].value for name in names if FLAGS[name].value}


def _dataset_spec(task):
    given = list(_file_flags(task))
    if not given:
        return FLAGS.dataset
    if FLAGS["dataset"].present and FLAGS.dataset != "files":
        raise UsageError(
            f"--dataset={FLAGS.dataset} cannot be combined with "
            f"{', '.join('--' + name for name in given)}: give either a dataset name or "
            "local files (--dataset=files is implied by the file flags).")
    return "files"


def build_model(task, run):
    import zoo.models

    return zoo.models.build(run.config["model"], **task.model_kwargs(run),
                            **run.config["hparams"])


def is_tpu(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.TPUStrategy)


def _steps_per_epoch(run):
    if FLAGS.steps_per_epoch:
        return FLAGS.steps_per_epoch
    train_size = run.splits.info.get("sizes", {}).get("train")
    if not train_size:
        raise UsageError("The size of the training split is unknown; give --steps_per_epoch.")
    return math.ceil(train_size / FLAGS.batch_size)


def train(task, run):
    """Trains the run (`--restarts` times if asked), resumably; returns the training time in
    seconds."""
    import keras

    from zoo import training

    if FLAGS.restarts == 1:
        keras.utils.set_random_seed(FLAGS.seed)
        return train_once(task, run)
    if training.num_workers(run.strategy) > 1:
        raise UsageError("--restarts works on one machine (one or several devices), not "
                         "under multi-worker training: leave it at 1 there.")
    seconds, records = 0.0, []
    for k in range(FLAGS.restarts):
        restart = dataclasses.replace(run, dir=RunDirectory(run.dir.file(f"restart-{k}")))
        done = restart.dir.file("trained.json")
        if not done.exists():
            print(console.rule(f"Restart {k + 1} of {FLAGS.restarts} (seed {FLAGS.seed + k})"))
            keras.utils.set_random_seed(FLAGS.seed + k)
            record, restart_seconds = train_restart(task, restart)
            done.write_text(json.dumps(record))
            seconds += restart_seconds
        records.append(json.loads(done.read_text()))
    keep_best_restart(task, run, records)
    return seconds


def train_restart(task, restart):
    """Trains one restart; returns its best validation record (`best.weights.h5.json`) and
    its training time in seconds.

    A restart that diverges is one failed candidate, not the end of the run: it keeps the
    best epoch it scored before (its record gets the error under "diverged"), or has no
    score ("value" None) when it diverged before its first validation.
    """
    from zoo.training import TrainingDiverged

    best = restart.dir.file("best.weights.h5.json")
    started = time.time()
    try:
        seconds = train_once(task, restart)
    except TrainingDiverged as error:
        print(textwrap.fill(f"{error} This restart ends here; its best epoch before the "
                            "divergence, if it has one, stays a candidate.", width=100,
                            initial_indent="  ", subsequent_indent="  "))
        record = json.loads(best.read_text()) if best.exists() else {"value": None}
        return dict(record, diverged=str(error)), time.time() - started
    if not best.exists():
        raise UsageError("--restarts needs a validation score to choose by; this "
                         "run has none (give validation data or --eval_examples).")
    return json.loads(best.read_text()), seconds


def keep_best_restart(task, run, records):
    """Copies the best restart's best checkpoint (by validation score) into the run
    directory; raises `TrainingDiverged` when no restart has a score."""
    from zoo.training import TrainingDiverged

    scored = [k for k, record in enumerate(records) if record["value"] is not None]
    if not scored:
        raise TrainingDiverged(f"Every restart diverged before its first validation; the "
                               f"last: {records[-1]['diverged']}")
    pick = max if task.metric_mode == "max" else min
    best = pick(scored, key=lambda k: records[k]["value"])
    print(console.rule("Restarts"))
    rows = []
    for k, record in enumerate(records):
        if record["value"] is None:
            line = "diverged before its first validation"
        else:
            line = f"validation {task.metric} {record['value']:.1f}"
            line += "  (then diverged)" if "diverged" in record else ""
        rows.append((f"restart {k + 1}", line + ("  (kept)" if k == best else "")))
    console.print_rows(rows)
    source = run.dir.file(f"restart-{best}")
    for name in ("best.weights.h5", "best.weights.h5.json"):
        shutil.copyfile(source / name, run.dir.file(name))


def train_once(task, run):
    """Trains under the run's strategy, resumably; returns the training time in seconds."""
    import zoo.data
    from zoo import training

    print(console.rule("Training"))
    batches = task.batches(run, run.splits.train, training=True)
    steps = _steps_per_epoch(run)
    print(f"  {steps} steps an epoch of {FLAGS.batch_size} {task.example_unit}; padding is "
          f"{zoo.data.padding_fraction(batches):.1%} of the batched tokens")
    optimizer_options = dict(
        learning_rate=FLAGS.learning_rate, warmup_steps=FLAGS.warmup_steps,
        clipnorm=FLAGS.clipnorm or None, schedule=FLAGS.lr_schedule,
        total_steps=FLAGS.epochs * steps)
    with run.strategy.scope():
        model = build_model(task, run)
        if not run.dir.file("backup").exists():  # a resumed run takes its backup's weights
            task.initialize_weights(run, model)
        optimizer = training.build_optimizer(**optimizer_options)
    run.dir.save_config(run.config)

    validation = run.splits.validation
    if FLAGS.eval_examples:
        validation = validation.take(FLAGS.eval_examples)
    evaluate_fn = task.validator(run, model, validation)

    started = time.time()
    training.train(
        model, batches, steps_per_epoch=steps, epochs=FLAGS.epochs,
        model_dir=str(run.dir.path), strategy=run.strategy, optimizer=optimizer,
        loss=task.loss(run), metrics=task.train_metrics(run), jit_compile=FLAGS.jit_compile,
        batch_size=FLAGS.batch_size, evaluate_fn=evaluate_fn, metric_name=task.metric,
        metric_mode=task.metric_mode, early_stopping_patience=FLAGS.early_stopping_patience,
        backup_freq=FLAGS.backup_steps or "epoch",
        keep_snapshots=FLAGS.average_last_epochs if FLAGS.average_last_epochs > 1 else 0)
    seconds = time.time() - started
    averaged = average_last_epochs(task, run, model, evaluate_fn)
    if averaged:
        print(averaged)
    return seconds


def average_last_epochs(task, run, model, evaluate_fn):
    """Averages the last `--average_last_epochs` epochs' weights into `model`.

    The average replaces `best.weights.h5` when `evaluate_fn` scores it at least as well
    as the best single epoch; otherwise the model gets the best epoch's weights back.
    Returns a line for the console, or None.
    """
    from zoo import training

    paths = training.snapshot_paths(run.dir.file("snapshots"))[-FLAGS.average_last_epochs:]
    if FLAGS.average_last_epochs < 2 or len(paths) < 2:
        return None
    training.average_checkpoints(model, paths)
    metric = task.metric
    value = evaluate_fn(model)[metric]
    best_path = run.dir.file("best.weights.h5")
    state_path = run.dir.file("best.weights.h5.json")
    best = json.loads(state_path.read_text())["value"] if state_path.exists() else None
    first, last = (int(pathlib.Path(path).name.split(".")[0].removeprefix("epoch-"))
                   for path in (paths[0], paths[-1]))
    epochs = f"epochs {first}-{last}"
    line = (f"  average of {epochs}: validation {metric} {value:.1f}"
            + (f" (best single epoch {best:.1f})" if best is not None else ""))
    better = best is None or (value >= best if task.metric_mode == "max" else value <= best)
    if better:
        if training.is_chief(run.strategy):
            model.save_weights(str(best_path), overwrite=True)
            state_path.write_text(json.dumps(
                {"metric": metric, "value": value, "epoch": f"average of {epochs}"}))
        return line + ": the average is kept as the best checkpoint"
    model.load_weights(str(best_path))
    return line + ": the best single epoch is kept"


def restore(task, run):
    """The model with the run's best (else last) checkpoint loaded."""
    with run.strategy.scope():
        model = build_model(task, run)
        model(task.sample_inputs())
        model.load_weights(str(run.dir.weights_path()))
    return model


def evaluate(task, run, model):
    """Scores the test split (else validation), prints it and writes `metrics.<split>.json`."""
    print(console.rule("Evaluation"))
    split = "test" if run.splits.test is not None else "validation"
    evaluation = task.evaluate(run, model, getattr(run.splits, split))
    console.print_rows([(f"{split} split", f"{evaluation.count} examples")]
                       + evaluation.rows)
    path = run.dir.file(f"metrics.{split}.json")
    path.write_text(json.dumps({"split": split, "examples": evaluation.count,
                                **evaluation.scores}, indent=2) + "\n")
    return split, evaluation, path


def export_dir(run):
    return pathlib.Path(FLAGS.export_dir) if FLAGS.export_dir else run.dir.file("export")


def _summary_writer(run):
    import tensorflow as tf

    return tf.summary.create_file_writer(str(run.dir.file("logs") / "examples"))


def run_task(task):
    """Runs `task` as the flags say; see the module docstring."""
    from zoo import training

    logging.set_verbosity(logging.ERROR)
    task.check_flags()
    if FLAGS.restarts < 1:
        raise UsageError(f"--restarts={FLAGS.restarts}: give 1 or more.")
    run_dir = RunDirectory(FLAGS.model_dir or f"runs/{task.name}")
    run = Run(task, run_dir, resolve_config(task, run_dir))
    run.strategy = training.get_strategy(FLAGS.strategy)
    training.set_precision(FLAGS.mixed_precision)
    if FLAGS.mode in TRAINING_MODES + ("evaluate",):
        run.splits = load_data(task)
    if FLAGS.mode in TRAINING_MODES:
        data_config = task.data_config(run.splits)
        _check_data_config(run, data_config)
        run.config.update(data_config)
        run_dir.path.mkdir(parents=True, exist_ok=True)
    run.assets = task.prepare(run)
    train_seconds = train(task, run) if FLAGS.mode in TRAINING_MODES else None
    if FLAGS.mode == "train":
        return
    model = restore(task, run)
    if FLAGS.mode == "predict":
        for line in task.predict(run, model, task.read_inputs()):
            print(line, flush=True)
        return

    rows = [("model", f"{run.config['model']} in {run_dir.path}"),
            ("checkpoint", run_dir.weights_path())]
    if train_seconds is not None:
        rows.append(("training time", f"{train_seconds / 60:.1f} min"))
    evaluation = None
    if FLAGS.mode in ("all", "evaluate"):
        split, evaluation, metrics_path = evaluate(task, run, model)
        rows += [(task.metric_label, f"{evaluation.scores[task.metric]:.1f}"),
                 ("scored on", f"{split} split, {evaluation.count} examples"),
                 ("scores", metrics_path)]
    if FLAGS.mode in ("all", "export"):
        print(console.rule("Export"))
        path = task.export(run, model, str(export_dir(run)))
        print(f"  SavedModel written to {path}")
        hint = console.serving_hint(path, task.name, task.serving_instance)
        rows += [("SavedModel", path), ("serve with", hint)]
    if FLAGS.mode == "all":
        print(console.rule("Examples"))
        writer = _summary_writer(run)
        rows += task.show_examples(run, model, evaluation, writer)
        writer.close()
    rows += task.summary(run)
    rows.append(("TensorBoard", f"tensorboard --logdir {run_dir.file('logs')}"))
    print(console.rule("Summary"))
    console.print_rows(rows)


def _check_data_config(run, data_config):
    for key, value in data_config.items():
        if key in run.config and run.config[key] != value:
            raise UsageError(
                f"{run.dir.path} holds a run whose training data had {key} "
                f"{run.config[key]}, but this data has {value}: use another --model_dir "
                "for other data.")


def _show_recipe_flags_in_help(task):
    """Makes `--help` list the shared flags and the task's own, not absl's or TensorFlow's."""
    main_module = sys.argv[0]
    for module, module_flags in FLAGS.flags_by_module_dict().items():
        if module.startswith("recipes.") or module.endswith(f"{task.name}.py"):
            for flag in module_flags:
                FLAGS.register_key_flag_for_module(main_module, flag)


def main(task):
    """Runs `task` as an absl program, with one-paragraph errors for user mistakes."""
    task.define_flags()
    for name, value in task.defaults.items():
        FLAGS.set_default(name, value)
    _show_recipe_flags_in_help(task)

    def _main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
        from zoo.training import TrainingDiverged

        try:
            run_task(task)
        except (UsageError, TrainingDiverged) as error:
            print("\n" + textwrap.fill(f"error: {error}", width=100), file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("\nInterrupted. Run the same command again to resume training from "
                  "its last backup.", file=sys.stderr)
            sys.exit(130)

    app.run(_main)
