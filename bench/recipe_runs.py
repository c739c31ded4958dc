"""Runs a recipe as a user does, for the quality benchmarks (aeslc.py, babi.py, trec.py)."""

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_recipe(recipe, model_dir, *flags):
    """Runs `python -m recipes.<recipe> FLAGS... --model_dir=MODEL_DIR --mode=all` from the
    repository root; exits with its error on failure. MODEL_DIR and the mode come last, so
    they win over a `--flagfile`'s (absl keeps a flag's last value).

    Returns:
        `(scores, minutes)`: the run's `metrics.<split>.json` and its training minutes.
    """
    command = [sys.executable, "-m", f"recipes.{recipe}", *flags, f"--model_dir={model_dir}",
               "--mode=all"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    scores = json.loads(next(pathlib.Path(model_dir).glob("metrics.*.json")).read_text())
    minutes = float(re.search(r"training time\s+([\d.]+) min", result.stdout).group(1))
    return scores, minutes
