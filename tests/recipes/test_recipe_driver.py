"""What every recipe shares through `recipes.driver`: help, run flags, model checks."""

import json

import pytest
from recipe_runner import assert_one_paragraph_error, run_recipe

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
