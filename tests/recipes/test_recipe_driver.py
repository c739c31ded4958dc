"""What every recipe shares through `recipes.driver`: help, run flags, model checks."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from recipe_runner import assert_one_paragraph_error, run_recipe
from weights_files import h5_arrays

SEQ2SEQ_FLAGS = ["--beam_size", "--shared_vocab", "--train_src", "--test_tgt",
                 "--length_penalty", "--min_length", "--no_repeat_ngram_size",
                 "--source_field", "--target_column"]
OWN_FLAGS = {
    "nmt": SEQ2SEQ_FLAGS,
    "summarization": SEQ2SEQ_FLAGS,
    "text_classification": ["--label_column", "--text_field", "--label_separator",
                            "--coarse_label_separator", "--top_k", "--max_length"],
}
SHARED_FLAGS = ["--model", "--hparams", "--train_file", "--test_file", "--mode",
                "--model_dir", "--export_dir", "--strategy", "--encoding"]


@pytest.mark.parametrize("recipe", sorted(OWN_FLAGS))
def test_help_lists_the_recipes_own_flags_and_no_others(recipe):
    result = run_recipe(recipe, "--help", timeout=120)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # absl exits 1 after --help
    for flag in SHARED_FLAGS + OWN_FLAGS[recipe]:
        assert f"  {flag}:" in result.stdout or f"  --[no]{flag[2:]}:" in result.stdout, flag
    others = [flag for name, flags in OWN_FLAGS.items() if name != recipe for flag in flags
              if flag not in OWN_FLAGS[recipe]]
    for flag in others + ["--logtostderr", "--tfds_data_dir"]:
        assert f"  {flag}:" not in result.stdout, flag


def test_a_saved_run_refuses_other_run_flags_in_every_training_mode(tmp_path):
    config = {"task": "nmt", "model": "transformer_tiny", "hparams": {}, "vocab_size": 600,
              "lowercase": False, "shared_vocab": False, "max_source_length": 48,
              "max_target_length": 24}
    (tmp_path / "recipe.json").write_text(json.dumps(config))
    for mode in ("all", "train"):
        for flag, saved in (("--model=lstm_bahdanau", "--model=transformer_tiny"),
                            ("--hparams=d_model=32", "--hparams=''"),
                            ("--vocab_size=800", "--vocab_size=600"),
                            ("--max_source_length=20", "--max_source_length=48")):
            result = run_recipe("nmt", f"--mode={mode}", f"--model_dir={tmp_path}", flag,
                                timeout=120)
            assert_one_paragraph_error(result, saved, flag, str(tmp_path))


def test_a_model_of_another_family_or_an_unknown_hyper_parameter(tmp_path):
    family = run_recipe("nmt", "--model=transformer_classifier", f"--model_dir={tmp_path}",
                        timeout=120)
    assert_one_paragraph_error(family, "transformer_classifier is a classifier model",
                               "transformer_tiny", "lstm_bahdanau")
    assert "lstm_attention_classifier" not in family.stderr
    unknown = run_recipe("nmt", "--hparams=no_such_param=1", f"--model_dir={tmp_path}",
                         timeout=120)
    assert_one_paragraph_error(unknown, "no_such_param", "d_model", "num_layers")


def test_restarts_keep_the_best_validation_score_and_resume(tmp_path):
    quick = ("--epochs=1", "--steps_per_epoch=5", "--vocab_size=300",
             "--hparams=units=16,embedding_dim=16", f"--model_dir={tmp_path}")
    first = run_recipe("text_classification", "--mode=train", "--restarts=2", *quick,
                       timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Restart 2 of 2 (seed 1)" in first.stdout
    scores = [json.loads((tmp_path / f"restart-{k}" / "trained.json").read_text())["value"]
              for k in range(2)]
    kept = json.loads((tmp_path / "best.weights.h5.json").read_text())["value"]
    assert kept == max(scores)
    best = scores.index(kept)
    assert (tmp_path / "best.weights.h5").read_bytes() == \
        (tmp_path / f"restart-{best}" / "best.weights.h5").read_bytes()
    # Initial weights differ between restarts (else they would be one run twice).
    first_weights, second_weights = (h5_arrays(tmp_path / f"restart-{k}" / "last.weights.h5")
                                     for k in range(2))
    assert first_weights.keys() == second_weights.keys()
    assert not all(np.array_equal(first_weights[name], second_weights[name])
                   for name in first_weights)

    # A third restart later: the two finished ones are kept, only the new one trains.
    more = run_recipe("text_classification", "--mode=train", "--restarts=3", *quick,
                      timeout=300)
    assert more.returncode == 0, more.stderr[-3000:]
    assert "Restart 3 of 3" in more.stdout and "Restart 1 of 3" not in more.stdout
    assert more.stdout.count("validation accuracy") == 3
    bad = run_recipe("text_classification", "--restarts=0", f"--model_dir={tmp_path}/x",
                     timeout=120)
    assert_one_paragraph_error(bad, "--restarts=0")


# Restart k "trains" as the fakes in OUTCOMES say: a validation score, then (maybe) a
# divergence; the driver's restart loop is real.
DIVERGING_RESTARTS = """
import json, sys
from recipes import driver
from recipes.text_classification import TextClassification
from zoo.training import TrainingDiverged

OUTCOMES = json.loads(sys.argv[2])
task = TextClassification()
task.define_flags()
driver.FLAGS(["recipe", f"--restarts={len(OUTCOMES)}"])

def fake_train_once(task, restart):
    score, diverges = OUTCOMES[int(restart.dir.path.name.split("-")[1])]
    restart.dir.path.mkdir(parents=True)
    if score is not None:
        restart.dir.file("best.weights.h5").write_text(f"weights {score}")
        restart.dir.file("best.weights.h5.json").write_text(json.dumps({"value": score}))
    if diverges:
        raise TrainingDiverged("the loss rose to 9")
    return 1.0

driver.train_once = fake_train_once
run = driver.Run(task, driver.RunDirectory(sys.argv[1]), {})
try:
    driver.train(task, run)
except TrainingDiverged as error:
    print("raised:", error)
"""


def train_fake_restarts(model_dir, outcomes):
    result = subprocess.run(
        [sys.executable, "-c", DIVERGING_RESTARTS, str(model_dir), json.dumps(outcomes)],
        capture_output=True, text=True, timeout=120,
        cwd=pathlib.Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_diverged_restart_is_a_failed_candidate_not_the_end_of_the_run(tmp_path):
    out = train_fake_restarts(tmp_path / "a", [[60.0, False], [80.0, True], [None, True]])
    assert "Restart 3 of 3" in out and "raised" not in out
    assert "validation accuracy 80.0  (then diverged)  (kept)" in out
    assert "diverged before its first validation" in out
    assert (tmp_path / "a" / "best.weights.h5").read_text() == "weights 80.0"
    assert json.loads((tmp_path / "a" / "restart-2" / "trained.json").read_text()) == \
        {"value": None, "diverged": "the loss rose to 9"}

    out = train_fake_restarts(tmp_path / "b", [[None, True], [None, True]])
    assert "raised: Every restart diverged before its first validation" in out
    assert not (tmp_path / "b" / "best.weights.h5").exists()
