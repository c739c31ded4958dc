"""Flags and driver shared by every recipe (`python -m recipes.<task>`).

A recipe defines its task-specific steps (data, tokenizers, metric, export) and hands them
to `main`; this module owns the flags, the strategy and precision set-up, the run
directory, the training call, error reporting and the closing summary.
"""

import json
import pathlib
import sys
import textwrap

from zoo import _quiet  # noqa: F401  (before TensorFlow loads)

from absl import app, flags, logging

from zoo.errors import UsageError

FLAGS = flags.FLAGS

MODES = ("all", "train", "evaluate", "predict", "export")

flags.DEFINE_string("model", None, "Registry name of the model (zoo.models.names()).")
flags.DEFINE_string(
    "hparams", "",
    "Comma-separated model hyper-parameter overrides, e.g. 'd_model=128,num_layers=2'.")
flags.DEFINE_string(
    "dataset", "demo",
    "'demo' (built-in, offline), 'tfds:NAME[/CONFIG]', or 'files' (given by the file flags).")
flags.DEFINE_string("data_dir", None, "TFDS data directory holding prepared datasets.")
flags.DEFINE_string("train_src", None, "Training source text, one sentence a line.")
flags.DEFINE_string("train_tgt", None, "Training target text, line-aligned with --train_src.")
flags.DEFINE_string("eval_src", None, "Evaluation source text, one sentence a line.")
flags.DEFINE_string("eval_tgt", None, "Evaluation target text, line-aligned with --eval_src.")
flags.DEFINE_string("train_file", None, "Training data file (TSV, or JSON Lines for QA).")
flags.DEFINE_string("eval_file", None, "Evaluation data file (TSV, or JSON Lines for QA).")
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
flags.DEFINE_boolean("shared_vocab", False,
                     "Seq2seq: one subword vocabulary for source and target (train it on both).")
flags.DEFINE_integer("max_source_length", None, "Longest input in tokens; longer is truncated.")
flags.DEFINE_integer("max_target_length", None, "Longest output in tokens; longer is truncated.")
flags.DEFINE_integer("beam_size", 4, "Beam size of decoding (1: greedy).")
flags.DEFINE_float("length_penalty", 0.6, "GNMT length penalty alpha of beam search.")
flags.DEFINE_boolean("lowercase", False, "Lowercase all text before tokenization.")
flags.DEFINE_integer("seed", 0, "Random seed of data generation, shuffling and weights.")
flags.DEFINE_string("input", None, "--mode=predict: a file of inputs, one a line (default stdin).")
flags.DEFINE_integer("eval_examples", 500, "Validation examples decoded after each epoch.")


class RecipeError(Exception):
    """Raised by a recipe for an expected failure that needs no traceback."""


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


def dataset_spec():
    """Returns the dataset spec, switching to 'files' when file flags are given.

    Raises a `UsageError` when file flags are combined with an explicit other dataset.
    """
    file_flags = [name for name in ("train_src", "train_tgt", "eval_src", "eval_tgt",
                                    "train_file", "eval_file") if FLAGS[name].value]
    if not file_flags:
        return FLAGS.dataset
    if FLAGS["dataset"].present and FLAGS.dataset != "files":
        raise UsageError(
            f"--dataset={FLAGS.dataset} cannot be combined with "
            f"{', '.join('--' + f for f in file_flags)}: give either a dataset name or "
            "local files (--dataset=files is implied by the file flags).")
    return "files"


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


def read_inputs():
    """Lines to predict from `--input` or stdin, without trailing newlines or blanks."""
    if FLAGS.input:
        path = pathlib.Path(FLAGS.input)
        if not path.is_file():
            raise UsageError(f"--input file {path} does not exist.")
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        if sys.stdin.isatty():
            print("Reading inputs from stdin, one a line; end with Ctrl-D.", file=sys.stderr)
        text = sys.stdin.read()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UsageError("--mode=predict got no input: give --input=FILE or pipe lines "
                           "into stdin.")
    return lines


def setup(default_model_dir):
    """Configures logging, precision and the strategy; returns `(strategy, run_dir)`."""
    from zoo import training

    logging.set_verbosity(logging.ERROR)
    strategy = training.get_strategy(FLAGS.strategy)
    training.set_precision(FLAGS.mixed_precision)
    run_dir = RunDirectory(FLAGS.model_dir or default_model_dir)
    if FLAGS.mode in ("all", "train"):
        run_dir.path.mkdir(parents=True, exist_ok=True)
    return strategy, run_dir


def export_dir(run_dir):
    return pathlib.Path(FLAGS.export_dir) if FLAGS.export_dir else run_dir.file("export")


def rule(title=""):
    """A section heading for the console, e.g. `── Evaluation ─────`."""
    return f"\n── {title} " + "─" * max(4, 72 - len(title))


def print_summary(rows):
    """Prints `(label, value)` rows as an aligned block."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        lines = str(value).splitlines() or [""]
        print(f"  {label:<{width}}  {lines[0]}")
        for line in lines[1:]:
            print(f"  {'':<{width}}  {line}")


def serving_hint(export_path, model_name):
    """How to serve an export with the official TF Serving container, as console text."""
    base = pathlib.Path(export_path).resolve().parent
    return textwrap.dedent(f"""\
        docker run -p 8501:8501 -v {base}:/models/{model_name} \\
            -e MODEL_NAME={model_name} tensorflow/serving
        curl -d '{{"instances": ["..."]}}' \\
            localhost:8501/v1/models/{model_name}:predict""")


def main(run):
    """Runs `run()` as an absl program with one-paragraph errors for user mistakes.

    Args:
        run: a no-argument callable holding the recipe; it reads `FLAGS`.
    """

    def _main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
        from zoo.training import TrainingDiverged

        try:
            run()
        except (UsageError, RecipeError, TrainingDiverged) as error:
            print("\n" + textwrap.fill(f"error: {error}", width=100), file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("\nInterrupted. Run the same command again to resume training from "
                  "its last backup.", file=sys.stderr)
            sys.exit(130)

    app.run(_main)


def training_options(steps_per_epoch):
    """Keyword arguments of `build_optimizer` and `train` that come from shared flags."""
    optimizer = dict(learning_rate=FLAGS.learning_rate, warmup_steps=FLAGS.warmup_steps,
                     clipnorm=FLAGS.clipnorm or None, schedule=FLAGS.lr_schedule,
                     total_steps=FLAGS.epochs * steps_per_epoch)
    engine = dict(backup_freq=FLAGS.backup_steps or "epoch",
                  keep_snapshots=FLAGS.average_last_epochs if FLAGS.average_last_epochs > 1
                  else 0)
    return optimizer, engine


def average_last_epochs(model, run_dir, evaluate_fn, metric_name, strategy):
    """Averages the last `--average_last_epochs` epochs' weights into `model`.

    The average replaces `best.weights.h5` when `evaluate_fn` scores it at least as high
    as the best single epoch; otherwise the model gets the best epoch's weights back.
    Returns a line for the console.
    """
    from zoo import training

    paths = training.snapshot_paths(run_dir.file("snapshots"))[-FLAGS.average_last_epochs:]
    if FLAGS.average_last_epochs < 2 or len(paths) < 2:
        return None
    training.average_checkpoints(model, paths)
    value = evaluate_fn(model)[metric_name]
    best_path = run_dir.file("best.weights.h5")
    state_path = run_dir.file("best.weights.h5.json")
    best = json.loads(state_path.read_text())["value"] if state_path.exists() else None
    first, last = (int(pathlib.Path(path).name.split(".")[0].removeprefix("epoch-"))
                   for path in (paths[0], paths[-1]))
    epochs = f"epochs {first}-{last}"
    line = (f"  average of {epochs}: validation {metric_name} {value:.1f}"
            + (f" (best single epoch {best:.1f})" if best is not None else ""))
    if best is None or value >= best:
        if training.is_chief(strategy):
            model.save_weights(str(best_path), overwrite=True)
            state_path.write_text(json.dumps(
                {"metric": metric_name, "value": value, "epoch": f"average of {epochs}"}))
        return line + ": the average is kept as the best checkpoint"
    model.load_weights(str(best_path))
    return line + ": the best single epoch is kept"


class Seq2SeqPredictor:
    """Strings in, strings out: tokenize, decode with a compiled beam search, detokenize.

    Shared by the sequence-to-sequence recipes (translation, summarization) for per-epoch
    validation, evaluation, `--mode=predict` and attention plots.

    Args:
        model: a `zoo.models` seq2seq model.
        source_tokenizer: `zoo.text.SubwordTokenizer` of the inputs.
        target_tokenizer: `zoo.text.SubwordTokenizer` of the outputs.
        max_source_length: inputs are truncated to this many tokens.
        max_target_length: most tokens generated.
        beam_size: 1 decodes greedily.
        length_penalty: GNMT alpha of beam search.
        jit_compile: compile the decoding loop with XLA.
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, max_source_length,
                 max_target_length, beam_size=4, length_penalty=0.6, jit_compile=False):
        import tensorflow as tf

        from zoo import decoding

        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.beam_size = beam_size

        def decode(source_ids):
            if beam_size == 1:
                return decoding.greedy_search(model, source_ids, max_target_length), None
            return decoding.beam_search(model, source_ids, max_target_length,
                                        beam_size=beam_size, length_penalty=length_penalty)

        def align(source_ids):
            return decoding.beam_search(model, source_ids, max_target_length,
                                        beam_size=max(beam_size, 1),
                                        length_penalty=length_penalty,
                                        return_alignment=True)

        spec = [tf.TensorSpec([None, None], tf.int32)]
        self._decode = tf.function(decode, input_signature=spec, jit_compile=jit_compile)
        self._align = tf.function(align, input_signature=spec)

    def source_ids(self, texts):
        """`(ids (batch, T), empty (batch,))` prepared exactly as the exported graph does.

        Invalid UTF-8 is replaced, inputs are truncated to `max_source_length` tokens and
        an input with no tokens becomes a lone EOS (its output is then "").
        """
        import tensorflow as tf

        from zoo.export.archive import pad_token_ids
        from zoo.text import EOS_ID
        from zoo.text.graph_wordpiece import sanitize_text

        ragged = self.source_tokenizer.tokenize(sanitize_text(tf.constant(texts, tf.string)))
        return pad_token_ids(ragged, self.max_source_length, EOS_ID)

    def __call__(self, texts, batch_size=64, progress=False):
        """Returns the list of output strings for the list of input strings `texts`."""
        from tqdm.auto import tqdm

        outputs = []
        batches = range(0, len(texts), batch_size)
        for start in tqdm(batches, desc="decoding", unit="batch", disable=not progress,
                          leave=False):
            source_ids, empty = self.source_ids(texts[start:start + batch_size])
            ids, _ = self._decode(source_ids)
            strings = self.target_tokenizer.detokenize(ids).numpy()
            outputs.extend("" if blank else s.decode("utf-8", errors="replace")
                           for s, blank in zip(strings, empty.numpy()))
        return outputs

    def alignment(self, text):
        """Returns `(source_tokens, output_tokens, weights (T_out, T_src))` for one input."""
        import numpy as np

        source_ids, _ = self.source_ids([text])
        ids, _, weights = self._align(source_ids)
        source = [self.source_tokenizer.vocabulary[i] for i in source_ids.numpy()[0] if i]
        output = []
        for i in ids.numpy()[0]:
            if i == 0:
                break
            output.append(self.target_tokenizer.vocabulary[i])
        return source, output, np.asarray(weights)[0][: len(output), : len(source)]
