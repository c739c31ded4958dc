"""Recipes run as a user runs them: `python -m recipes.<name>` in a subprocess.

Imported by the recipe tests (`from recipe_runner import ...`).
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_recipe(recipe, *flags, input_text=None, timeout=900, cwd=ROOT):
    """Runs `python -m recipes.<recipe> FLAGS...`; returns the `CompletedProcess`."""
    return subprocess.run(
        [sys.executable, "-m", f"recipes.{recipe}", *flags], cwd=cwd, input=input_text,
        capture_output=True, text=True, timeout=timeout)


def assert_one_paragraph_error(result, *fragments):
    """Exit status 2, no traceback, and an `error:` paragraph holding every fragment."""
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert "error:" in message
    for fragment in fragments:
        assert fragment in message, message
