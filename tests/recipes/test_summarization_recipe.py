"""`python -m recipes.summarization` as a user runs it: demo, JSON Lines fields, predict."""

import functools
import json

import pytest
from recipe_runner import assert_one_paragraph_error
from recipe_runner import run_recipe as run_any_recipe

run_recipe = functools.partial(run_any_recipe, "summarization")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("summarization")
    result = run_recipe(f"--model_dir={model_dir}", "--epochs=1", "--steps_per_epoch=60",
                        "--warmup_steps=30", "--eval_examples=20")
    assert result.returncode == 0, result.stderr[-3000:]
    return model_dir, result


def test_demo_run_scores_rouge_with_intervals_and_exports(demo_run):
    model_dir, result = demo_run
    scores = json.loads((model_dir / "metrics.test.json").read_text())
    assert scores["split"] == "test" and scores["examples"] == 500
    for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        low, mid, high = scores[f"{name}_95"]
        assert 0 <= low <= mid <= high <= 100
        assert 0 <= scores[name] <= 100
    assert scores["rouge1"] > 5, result.stdout[-3000:]  # an untrained model scores 0
    predictions = (model_dir / "predictions.txt").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == 500
    assert "ROUGE-L" in result.stdout and "95% interval" in result.stdout
    assert "no_repeat_ngram_size 3" in result.stdout
    assert (model_dir / "attention.png").stat().st_size > 1000
    assert list((model_dir / "logs" / "examples").glob("events.out.tfevents.*"))
    assert (model_dir / "export" / "summarization" / "1" / "saved_model.pb").exists()
    assert "Traceback" not in result.stderr


def test_predict_prints_one_summary_per_document(demo_run):
    model_dir, _ = demo_run
    documents = ["Heavy rain is expected in the north tonight. Schools will stay open.",
                 "The train drivers' union announced a strike for Monday."]
    predicted = run_recipe("--mode=predict", f"--model_dir={model_dir}",
                           input_text="\n".join(documents) + "\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert len(predicted.stdout.splitlines()) == len(documents)


def test_json_lines_fields_and_their_errors(tmp_path):
    rows = [{"id": i, "body": f"Please review the budget for project {i} by Friday. "
                              "Thanks, Anna", "title": f"budget project {i}"}
            for i in range(30)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    common = (f"--train_file={path}", f"--model_dir={tmp_path / 'run'}", "--mode=train",
              "--epochs=1", "--steps_per_epoch=3", "--eval_examples=2", "--vocab_size=200")
    missing = run_recipe(*common)
    assert_one_paragraph_error(missing, "train.jsonl", "body", "--source_field")
    result = run_recipe(*common, "--source_field=body", "--target_field=title")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "recipe.json").read_text())["model"] == (
        "transformer_pointer_generator_tiny")
