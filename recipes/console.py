"""What the recipes print and read on the console: headings, aligned rows, inputs."""

import pathlib
import sys
import textwrap

from zoo.errors import UsageError


def rule(title=""):
    """A section heading for the console, e.g. `── Evaluation ─────`."""
    return f"\n── {title} " + "─" * max(4, 72 - len(title))


def print_rows(rows):
    """Prints `(label, value)` rows as an aligned block; multi-line values stay aligned."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        lines = str(value).splitlines() or [""]
        print(f"  {label:<{width}}  {lines[0]}")
        for line in lines[1:]:
            print(f"  {'':<{width}}  {line}")


def serving_hint(export_path, model_name, instance='"..."'):
    """How to serve an export with the official TF Serving container, as console text.

    `instance` is one REST instance as JSON: a string, or an object for multi-input exports.
    """
    base = pathlib.Path(export_path).resolve().parent
    return textwrap.dedent(f"""\
        docker run -p 8501:8501 -v {base}:/models/{model_name} \\
            -e MODEL_NAME={model_name} tensorflow/serving
        curl -d '{{"instances": [{instance}]}}' \\
            localhost:8501/v1/models/{model_name}:predict""")


def read_inputs(path=None, skip_blank=True):
    """Input lines for `--mode=predict` from the file `path` or stdin, without line ends.

    Args:
        path: a file of inputs, one a line; None reads stdin.
        skip_blank: drop lines with no text (a blank line is no input).
    """
    if path:
        path = pathlib.Path(path)
        if not path.is_file():
            raise UsageError(f"--input file {path} does not exist.")
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        if sys.stdin.isatty():
            print("Reading inputs from stdin, one a line; end with Ctrl-D.", file=sys.stderr)
        text = sys.stdin.read()
    lines = [line.rstrip("\r") for line in text.splitlines()]
    if skip_blank:
        lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        raise UsageError("--mode=predict got no input: give --input=FILE or pipe lines "
                         "into stdin.")
    return lines
