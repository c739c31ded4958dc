"""`python -m recipes.text_classification` as a user runs it: demo, files, predict, errors."""

import functools
import json

import numpy as np
import pytest
from recipe_runner import assert_one_paragraph_error
from recipe_runner import run_recipe as run_any_recipe

run_recipe = functools.partial(run_any_recipe, "text_classification")
QUICK = ("--epochs=1", "--steps_per_epoch=20", "--vocab_size=300",
         "--hparams=units=32,embedding_dim=32")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """A short run of the default command on the demo corpus: train, evaluate, export."""
    model_dir = tmp_path_factory.mktemp("classifier")
    result = run_recipe(f"--model_dir={model_dir}", "--epochs=2", "--steps_per_epoch=60")
    assert result.returncode == 0, result.stderr[-3000:]
    return model_dir, result


def test_demo_run_scores_exports_and_draws(demo_run):
    model_dir, result = demo_run
    scores = json.loads((model_dir / "metrics.test.json").read_text())
    assert scores["split"] == "test" and scores["examples"] == 500
    assert scores["accuracy"] >= 80, result.stdout[-3000:]
    assert set(scores["per_class"]) == {"billing", "delivery", "technical", "account",
                                        "feedback"}
    assert np.array(scores["confusion"]).sum() == 500
    assert "test split" in result.stdout and "500 examples" in result.stdout
    assert "macro-F1" in result.stdout and "precision" in result.stdout
    for picture in ("confusion_matrix.png", "attention_0.png"):
        assert (model_dir / picture).stat().st_size > 1000
    assert list((model_dir / "logs" / "examples").glob("events.out.tfevents.*"))
    assert (model_dir / "export" / "text_classification" / "1" / "saved_model.pb").exists()
    for noise in ("Traceback", "oneDNN", "W0000", "cuda"):
        assert noise not in result.stderr


def test_predict_prints_one_line_per_input_and_matches_the_export(demo_run):
    import tensorflow as tf

    model_dir, _ = demo_run
    inputs = ["I was charged twice for my subscription this month", "",
              "the parcel never arrived at my address"]
    predicted = run_recipe("--mode=predict", f"--model_dir={model_dir}", "--top_k=2",
                           input_text="\n".join(inputs) + "\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    lines = predicted.stdout.splitlines()
    assert len(lines) == len(inputs)  # the empty text is an input too
    fields = [line.split("\t") for line in lines]
    assert all(len(row) == 4 for row in fields)
    assert all(float(row[1]) >= float(row[3]) for row in fields)

    export = model_dir / "export" / "text_classification" / "1"
    serve = tf.saved_model.load(str(export)).signatures["serving_default"]
    outputs = serve(inputs=tf.constant(inputs))
    assert [label.decode() for label in outputs["outputs"].numpy()] == [
        row[0] for row in fields]
    np.testing.assert_allclose(outputs["scores"].numpy(), [float(row[1]) for row in fields],
                               atol=1e-4)


def test_evaluate_mode_rescores_and_changed_flags_are_refused(demo_run):
    model_dir, _ = demo_run
    result = run_recipe("--mode=evaluate", f"--model_dir={model_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test split" in result.stdout
    changed = run_recipe("--mode=all", f"--model_dir={model_dir}", "--max_length=64")
    assert_one_paragraph_error(changed, "--max_length=128", "--max_length=64")
    other_model = run_recipe("--mode=evaluate", f"--model_dir={model_dir}",
                             "--model=transformer_classifier")
    assert_one_paragraph_error(other_model, "lstm_attention_classifier",
                               "transformer_classifier")


def test_csv_with_header_quotes_and_a_test_file(tmp_path):
    rows = ['"id","review","stars"']
    for index in range(40):
        label = ("good", "bad")[index % 2]
        text = ("great, really great\nloved it" if label == "good" else
                "awful, \"truly\" awful")
        rows.append(f'{index},"{text.replace(chr(34), chr(34) * 2)} {index}",{label}')
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("\n".join(rows[:11]) + "\n", encoding="utf-8")
    result = run_recipe(f"--train_file={tmp_path / 'train.csv'}",
                        f"--test_file={tmp_path / 'test.csv'}", "--text_column=review",
                        "--label_column=stars", f"--model_dir={tmp_path / 'run'}",
                        "--mode=train", *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = run_recipe("--mode=evaluate", f"--model_dir={tmp_path / 'run'}",
                           f"--train_file={tmp_path / 'train.csv'}",
                           f"--test_file={tmp_path / 'test.csv'}", "--text_column=review",
                           "--label_column=stars")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    scores = json.loads((tmp_path / "run" / "metrics.test.json").read_text())
    assert scores["examples"] == 10
    assert json.loads((tmp_path / "run" / "recipe.json").read_text())["label_names"] == [
        "bad", "good"]


def test_trec_style_lines_with_coarse_labels_in_latin1(tmp_path):
    lines = ["DESC:manner How did serfdom develop in and then leave Russia ?",
             "ENTY:cremat What films featured the character Popeye Doyle ?",
             "HUM:ind Who was the caf\xe9 owner ?",
             "NUM:date When did the war end ?"] * 10
    path = tmp_path / "train.label"
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    common = (f"--train_file={path}", "--label_separator= ", "--coarse_label_separator=:",
              f"--model_dir={tmp_path / 'run'}", "--epochs=1", "--steps_per_epoch=20",
              "--word_vocab", "--lowercase", "--vocab_min_count=1",
              "--model=conv_attention_classifier",  # the TREC preset's model
              "--hparams=embedding_dim=16,filters=8")
    undecodable = run_recipe(*common)
    assert_one_paragraph_error(undecodable, "train.label", "line 3", "--encoding")
    result = run_recipe(*common, "--encoding=latin-1")
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert config["label_names"] == ["DESC", "ENTY", "HUM", "NUM"]
    assert (tmp_path / "run" / "attention_0.png").stat().st_size > 1000
    assert (tmp_path / "run" / "export" / "text_classification" / "1").is_dir()


def test_bad_data_and_flags_get_one_paragraph_errors(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("pos\tgood film\nneg\tbad film\nno tab on this line\n", encoding="utf-8")
    malformed = run_recipe(f"--train_file={train}", f"--model_dir={tmp_path / 'a'}")
    assert_one_paragraph_error(malformed, "train.tsv", "line 3")

    train.write_text("pos\tgood film\nneg\tbad film\n" * 5, encoding="utf-8")
    unseen = tmp_path / "eval.tsv"
    unseen.write_text("pos\tfine\nmeh\tso-so\n", encoding="utf-8")
    result = run_recipe(f"--train_file={train}", f"--eval_file={unseen}",
                        f"--model_dir={tmp_path / 'b'}")
    assert_one_paragraph_error(result, "meh", "eval.tsv", "line 2")

    seq2seq_model = run_recipe("--model=transformer_tiny", f"--model_dir={tmp_path / 'c'}")
    assert_one_paragraph_error(seq2seq_model, "transformer_tiny", "lstm_attention_classifier",
                               "transformer_classifier")
    unknown = run_recipe("--hparams=no_such_param=1", f"--model_dir={tmp_path / 'd'}")
    assert_one_paragraph_error(unknown, "no_such_param", "embedding_dim", "units")
    top_k = run_recipe("--top_k=0", f"--model_dir={tmp_path / 'e'}")
    assert_one_paragraph_error(top_k, "--top_k=0")
    missing = run_recipe(f"--train_file={tmp_path / 'none*.csv'}",
                         f"--model_dir={tmp_path / 'f'}")
    assert_one_paragraph_error(missing, "none*.csv")


@pytest.mark.slow  # two training runs: a minute
def test_pretrained_embeddings_carry_words_never_seen_in_training(tmp_path):
    """Test texts use only words absent from training; their pretrained vectors (and
    --pretrained_vocab, which puts them in the vocabulary) are all the model knows of them."""
    random = np.random.default_rng(0)
    direction = random.normal(size=16)
    words = {("animal", "train"): "cat dog cow pig hen", ("vehicle", "train"): "car bus van",
             ("animal", "test"): "owl fox elk yak", ("vehicle", "test"): "tram jeep taxi"}
    vectors = []  # the test words first: the most frequent, which --pretrained_vocab adds
    for (label, _), line in sorted(words.items(), key=lambda item: item[0][1]):
        for word in line.split():
            vector = (1 if label == "animal" else -1) * direction + random.normal(size=16) * 0.3
            vectors.append(" ".join([word, *(f"{value:.4f}" for value in vector)]))
    (tmp_path / "vectors.txt").write_text("\n".join(vectors) + "\n", encoding="utf-8")
    for split in ("train", "test"):
        lines = [f"{label}\t{' '.join(random.choice(words[label, split].split(), size=3))}"
                 for _ in range(200) for label in ("animal", "vehicle")]
        (tmp_path / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = (f"--train_file={tmp_path / 'train.tsv'}", f"--test_file={tmp_path / 'test.tsv'}",
              f"--pretrained_embeddings={tmp_path / 'vectors.txt'}", "--word_vocab",
              "--vocab_min_count=1", "--model=conv_attention_classifier", "--epochs=2",
              "--steps_per_epoch=30")
    wrong_size = run_recipe(*common, f"--model_dir={tmp_path / 'wrong'}")
    assert_one_paragraph_error(wrong_size, "16 dimensions", "--hparams=embedding_dim=16")
    result = run_recipe(*common, "--pretrained_vocab=100", f"--model_dir={tmp_path / 'run'}",
                        "--hparams=embedding_dim=16,filters=8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pretrained embeddings: 15 of the vocabulary's 15 tokens" in result.stdout
    vocabulary = (tmp_path / "run" / "vocab.txt").read_text().split()
    assert {"owl", "taxi"} <= set(vocabulary)
    scores = json.loads((tmp_path / "run" / "metrics.test.json").read_text())
    assert scores["accuracy"] >= 90, result.stdout[-3000:]


def test_pretrained_embedding_flags_are_checked_first(tmp_path):
    alone = run_recipe("--pretrained_vocab=5", f"--model_dir={tmp_path / 'alone'}")
    assert_one_paragraph_error(alone, "--pretrained_vocab", "vectors file")
    missing = run_recipe(f"--pretrained_embeddings={tmp_path / 'none.txt'}",
                         f"--model_dir={tmp_path / 'missing'}")
    assert_one_paragraph_error(missing, "none.txt", "no such file")
