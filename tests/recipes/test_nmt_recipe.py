"""`python -m recipes.nmt` as a user runs it: end to end, and its answers to bad input."""

import functools
import re

import pytest
from recipe_runner import assert_one_paragraph_error
from recipe_runner import run_recipe as run_any_recipe

run_recipe = functools.partial(run_any_recipe, "nmt")


def test_unknown_dataset(tmp_path):
    result = run_recipe("--dataset=nope", f"--model_dir={tmp_path}")
    assert_one_paragraph_error(result, "nope")


def test_unknown_model_lists_the_valid_names(tmp_path):
    result = run_recipe("--model=transformer_huge", f"--model_dir={tmp_path}",
                        "--epochs=1", "--steps_per_epoch=1")
    assert_one_paragraph_error(result, "transformer_huge", "transformer_tiny",
                               "lstm_bahdanau")


def test_parallel_files_of_different_lengths(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    result = run_recipe(f"--train_src={tmp_path / 'a.de'}", f"--train_tgt={tmp_path / 'a.en'}",
                        f"--model_dir={tmp_path / 'run'}")
    assert_one_paragraph_error(result, "3", "2", "a.de", "a.en")


def test_missing_file(tmp_path):
    result = run_recipe(f"--train_src={tmp_path / 'none.de'}",
                        f"--train_tgt={tmp_path / 'none.en'}", f"--model_dir={tmp_path}")
    assert_one_paragraph_error(result, "none.de")


def test_dataset_and_file_flags_together(tmp_path):
    (tmp_path / "a.de").write_text("eins\n", encoding="utf-8")
    result = run_recipe("--dataset=tfds:wmt14_translate/de-en",
                        f"--train_src={tmp_path / 'a.de'}", f"--model_dir={tmp_path}")
    assert_one_paragraph_error(result, "--dataset=tfds:wmt14_translate/de-en", "--train_src")


def test_unprepared_tfds_dataset_fails_at_once(tmp_path):
    result = run_recipe("--dataset=tfds:ted_hrlr_translate/pt_to_en",
                        f"--data_dir={tmp_path / 'tfds'}", f"--model_dir={tmp_path}",
                        timeout=120)
    assert_one_paragraph_error(result, "ted_hrlr_translate", "--data_dir")


def test_predict_without_a_trained_model(tmp_path):
    result = run_recipe("--mode=predict", f"--model_dir={tmp_path}", input_text="3 mars 2021\n")
    assert_one_paragraph_error(result, "--mode=train")


@pytest.mark.slow
def test_default_run_trains_evaluates_exports_and_predicts(tmp_path):
    """The README's first command (with its own model directory), then predict and export."""
    model_dir = tmp_path / "nmt"
    result = run_recipe(f"--model_dir={model_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    bleu = float(re.search(r"BLEU\s+([\d.]+)\n", result.stdout).group(1))
    assert bleu >= 90, result.stdout
    assert (model_dir / "attention.png").stat().st_size > 0
    assert (model_dir / "export" / "nmt" / "1" / "saved_model.pb").exists()
    for text in ("W/s:", "Traceback", "oneDNN", "cuda"):
        assert text not in result.stderr

    inputs = ["8 January 2030", "am 30. Juli 1970", "", "le 3 mars 2021"]
    predicted = run_recipe("--mode=predict", f"--model_dir={model_dir}",
                           input_text="\n".join(inputs) + "\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    lines = predicted.stdout.splitlines()
    assert lines[:2] == ["2030-01-08", "1970-07-30"]
    assert lines[2] == "2021-03-03"  # the blank line is skipped

    # The exported graph answers exactly what --mode=predict printed.
    import tensorflow as tf

    serve = tf.saved_model.load(str(model_dir / "export" / "nmt" / "1"))
    outputs = serve.signatures["serving_default"](inputs=tf.constant(inputs))["outputs"]
    served = [o.decode("utf-8") for o in outputs.numpy()]
    assert [served[0], served[1], served[3]] == lines
    assert served[2] == ""

    exported = run_recipe("--mode=export", f"--model_dir={model_dir}")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (model_dir / "export" / "nmt" / "2" / "saved_model.pb").exists()


def test_cosine_schedule_and_checkpoint_averaging(tmp_path):
    result = run_recipe(
        f"--model_dir={tmp_path}", "--mode=train", "--epochs=3", "--steps_per_epoch=15",
        "--warmup_steps=10", "--lr_schedule=cosine", "--average_last_epochs=2",
        "--backup_steps=5", "--eval_examples=20")
    assert result.returncode == 0, result.stderr[-3000:]
    line = re.search(r"average of epochs 2-3: validation bleu [\d.]+ .*kept", result.stdout)
    assert line, result.stdout[-2000:]
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [
        "epoch-002.weights.h5", "epoch-003.weights.h5"]
    assert (tmp_path / "best.weights.h5").exists()

    too_short = run_recipe(f"--model_dir={tmp_path / 'short'}", "--mode=train", "--epochs=1",
                           "--steps_per_epoch=5", "--lr_schedule=cosine")
    assert_one_paragraph_error(too_short, "cosine schedule needs total_steps")


def test_lstm_run_prints_no_tensorflow_log_lines(tmp_path):
    """TensorFlow's runtime notices (oneDNN falling back on an LSTM's boolean mask) stay hidden."""
    result = run_recipe(f"--model_dir={tmp_path}", "--model=lstm_bahdanau", "--mode=train",
                        "--epochs=1", "--steps_per_epoch=2", "--eval_examples=4")
    assert result.returncode == 0, result.stderr[-3000:]
    for text in ("E0000", "W0000", "oneDNN", "Traceback"):
        assert text not in result.stderr, result.stderr[-3000:]


def test_shared_vocabulary_with_shared_embeddings(tmp_path):
    flags = (f"--model_dir={tmp_path}", "--shared_vocab", "--hparams=share_embeddings=true")
    result = run_recipe(*flags, "--mode=train", "--epochs=1", "--steps_per_epoch=5",
                        "--warmup_steps=2", "--eval_examples=4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("vocab.*")) == ["vocab.shared.txt"]
    assert "shared vocabulary:" in result.stdout
    predicted = run_recipe(f"--model_dir={tmp_path}", "--mode=predict",
                           input_text="March 3rd, 2021\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert predicted.stdout.count("\n") == 1  # one translation (maybe empty, 5 steps in)
    resumed = run_recipe(f"--model_dir={tmp_path}", "--mode=train")
    assert_one_paragraph_error(resumed, "shared_vocab=True", "--shared_vocab=False")

    unshared = run_recipe(f"--model_dir={tmp_path / 'unshared'}", "--mode=train",
                          "--hparams=share_embeddings=true")
    assert_one_paragraph_error(unshared, "share_embeddings=true", "--shared_vocab")
