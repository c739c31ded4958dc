"""Every preset in recipes/configs parses with its recipe's flags and names a valid model."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "recipes" / "configs").glob("*.flags"))
RECIPES = ("text_classification", "summarization", "nmt", "qa")
SHARED = ROOT.parent / "shared" / "data"

# Parses the preset as the recipe's absl program would, then runs the recipe's own checks
# of the run flags, the model's family and its hyper-parameters, and of the file flags.
CHECK = """
import sys
from recipes import driver
from recipes.{recipe} import {task_class}
from zoo.data.files import expand_paths

task = {task_class}()
task.define_flags()
driver.FLAGS(["recipe", "--flagfile=" + sys.argv[1]])
driver._check_model(task, driver._flag_config(task))
task.check_flags()
if {check_files}:
    for name in ("train_file", "eval_file", "test_file", "train_src", "train_tgt",
                 "eval_src", "eval_tgt", "test_src", "test_tgt"):
        if name in driver.FLAGS and driver.FLAGS[name].value:
            expand_paths(driver.FLAGS[name].value, "--" + name)
print("ok")
"""


def recipe_of(preset):
    return next(name for name in RECIPES if preset.name.startswith(name + "_"))


def task_class(recipe):
    source = (ROOT / "recipes" / f"{recipe}.py").read_text()
    return source.split("driver.main(")[-1].split("(")[0]


def test_there_are_presets_for_every_task():
    assert {recipe_of(preset) for preset in PRESETS} == set(RECIPES)


@pytest.mark.slow  # a TensorFlow start a preset: a minute in all
@pytest.mark.parametrize("preset", PRESETS, ids=lambda path: path.stem)
def test_preset_parses_and_names_a_valid_model(preset):
    recipe = recipe_of(preset)
    code = CHECK.format(recipe=recipe, task_class=task_class(recipe),
                        check_files=SHARED.is_dir())
    result = subprocess.run([sys.executable, "-c", code, str(preset)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
