"""`python -m recipes.qa` as a user runs it: demo, SQuAD 2.0, bAbI files, predict, errors."""

import functools
import json

import pytest
from recipe_runner import assert_one_paragraph_error
from recipe_runner import run_recipe as run_any_recipe

run_recipe = functools.partial(run_any_recipe, "qa")
TINY_SPAN = "--hparams=embedding_dim=32,units=16"  # the default model, bidaf_span_qa
TINY_SEQ2SEQ = "--hparams=num_layers=1,d_model=32,num_heads=2,intermediate_dim=64"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """A short run of the default command on the demo corpus: train, evaluate, export."""
    model_dir = tmp_path_factory.mktemp("qa")
    result = run_recipe(f"--model_dir={model_dir}", "--epochs=2", "--steps_per_epoch=80")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return model_dir, result


@pytest.mark.slow
def test_demo_run_scores_exports_and_draws(demo_run):
    model_dir, result = demo_run
    scores = json.loads((model_dir / "metrics.test.json").read_text())
    assert scores["split"] == "test" and scores["examples"] == 500
    assert scores["f1"] >= 35, result.stdout[-3000:]  # 2 short epochs: ~53 (the last place)
    predictions = json.loads((model_dir / "predictions.json").read_text())
    assert len(predictions) == 500 and "demo-test-1" in predictions
    assert "exact match" in result.stdout and "500 examples" in result.stdout
    assert (model_dir / "answer_0.png").stat().st_size > 1000
    assert list((model_dir / "logs" / "examples").glob("events.out.tfevents.*"))
    assert (model_dir / "export" / "qa" / "1" / "saved_model.pb").exists()
    assert "extractive" in result.stdout
    # The summary's curl line sends what the export takes: a question and a context.
    assert '{"instances": [{"question": "...", "context": "..."}]}' in result.stdout
    for noise in ("Traceback", "oneDNN", "W0000", "cuda"):
        assert noise not in result.stderr


@pytest.mark.slow
def test_predict_reads_json_lines_and_answers_as_the_export(demo_run):
    import tensorflow as tf

    model_dir, _ = demo_run
    questions = [{"question": "Where is Mary?",
                  "context": "Mary went to the kitchen. John moved to the garden."},
                 {"question": "Where is John?", "context": ""},
                 {"question": "", "context": "Sandra journeyed to the office."}]
    lines = [json.dumps(q) for q in questions]
    predicted = run_recipe("--mode=predict", f"--model_dir={model_dir}",
                           input_text="\n".join(lines[:1] + [""] + lines[1:]) + "\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    answers = predicted.stdout.splitlines()
    assert len(answers) == 3 and answers[1] == ""  # an empty context has no answer

    serve = tf.saved_model.load(str(model_dir / "export" / "qa" / "1"))
    outputs = serve.signatures["serving_default"](
        question=tf.constant([q["question"] for q in questions]),
        context=tf.constant([q["context"] for q in questions]))["outputs"]
    assert [answer.decode() for answer in outputs.numpy()] == answers

    bad = run_recipe("--mode=predict", f"--model_dir={model_dir}",
                     input_text=lines[0] + "\n{not json\n")
    assert_one_paragraph_error(bad, "input, line 2", "invalid JSON")
    missing = run_recipe("--mode=predict", f"--model_dir={model_dir}",
                         input_text='{"question": "Where?"}\n')
    assert_one_paragraph_error(missing, "input, line 1", '"context"')


def write_babi(path, stories):
    """Writes bAbI lines: each story a list of sentences and (question, answer) pairs."""
    lines = []
    for story in stories:
        for number, item in enumerate(story, start=1):
            lines.append(f"{number} {item}" if isinstance(item, str) else
                         f"{number} {item[0]}\t{item[1]}\t1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def babi_tasks(folder, count=40):
    """Two bAbI-style tasks: a span answer (where) and a yes/no answer (not a span)."""
    places = ["kitchen", "garden", "office", "hallway"]
    where, yes_no = [], []
    for index in range(count):
        place, other = places[index % 4], places[(index + 1) % 4]
        where.append([f"Mary went to the {other}.", f"Mary moved to the {place}.",
                      ("Where is Mary?", place)])
        yes_no.append([f"John went to the {place}.",
                       (f"Is John in the {place if index % 2 else other}?",
                        "yes" if index % 2 else "no")])
    for split, part in (("train", slice(0, count - 10)), ("test", slice(count - 10, None))):
        write_babi(folder / f"qa1_where_{split}.txt", where[part])
        write_babi(folder / f"qa6_yes-no_{split}.txt", yes_no[part])


@pytest.mark.slow
def test_generative_model_on_babi_files_reports_per_file(tmp_path):
    babi_tasks(tmp_path)
    model_dir = tmp_path / "run"
    result = run_recipe(f"--train_file={tmp_path}/qa*_train.txt",
                        f"--test_file={tmp_path}/qa1_where_test.txt,"
                        f"{tmp_path}/qa6_yes-no_test.txt", "--model=transformer_tiny",
                        TINY_SEQ2SEQ, "--word_vocab", "--vocab_min_count=1", "--epochs=1",
                        "--steps_per_epoch=10", "--beam_size=2", f"--model_dir={model_dir}",
                        # Shorter than the default --doc_stride, which only windows use.
                        "--max_context_length=64")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    scores = json.loads((model_dir / "metrics.test.json").read_text())
    assert scores["examples"] == 20
    assert set(scores["per_file"]) == {"qa1_where_test.txt", "qa6_yes-no_test.txt"}
    assert all(file["total"] == 10 for file in scores["per_file"].values())
    assert "error %" in result.stdout and "qa6_yes-no_test.txt" in result.stdout
    predictions = json.loads((model_dir / "predictions.json").read_text())
    assert set(predictions) == {f"qa{task}_test-{n}" for task in ("1_where", "6_yes-no")
                                for n in range(1, 11)}
    assert "generative" in result.stdout
    assert (model_dir / "answer_0.png").stat().st_size > 1000
    assert (model_dir / "export" / "qa" / "1" / "saved_model.pb").exists()

    predicted = run_recipe("--mode=predict", f"--model_dir={model_dir}", input_text=json.dumps(
        {"question": "Is John in the garden?", "context": "John went to the garden."}) + "\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert len(predicted.stdout.splitlines()) == 1


@pytest.mark.slow
def test_memory_network_reads_the_stories_sentences(tmp_path):
    babi_tasks(tmp_path, count=120)
    model_dir = tmp_path / "run"
    result = run_recipe(f"--train_file={tmp_path}/qa*_train.txt",
                        f"--test_file={tmp_path}/qa1_where_test.txt", "--model=memory_network",
                        "--hparams=embedding_dim=32", "--word_vocab", "--vocab_min_count=1",
                        "--epochs=20", "--learning_rate=1e-2", "--clipnorm=40",
                        "--label_smoothing=0", "--beam_size=1", "--max_context_length=64",
                        f"--model_dir={model_dir}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads((model_dir / "metrics.test.json").read_text())["f1"] > 90
    assert "generative (memory_network)" in result.stdout
    assert (model_dir / "answer_0.png").stat().st_size > 1000
    predicted = run_recipe("--mode=predict", f"--model_dir={model_dir}", input_text=json.dumps(
        {"question": "Where is Mary?", "context": "Mary went to the hallway. Mary moved to the "
         "office."}) + "\n")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert predicted.stdout.split() == ["office"]


def squad_v2(path, count=30):
    """A SQuAD 2.0 file: answerable questions and unanswerable ones."""
    paragraphs = []
    for index in range(count):
        context = f"Ada Lovelace wrote note {index} in {1840 + index}. It was long."
        qas = [{"id": f"a{index}", "question": "Who wrote the note?",
                "answers": [{"text": "Ada Lovelace", "answer_start": 0}]},
               {"id": f"u{index}", "question": "Who read the note?", "answers": [],
                "is_impossible": True,
                "plausible_answers": [{"text": "Ada Lovelace", "answer_start": 0}]}]
        paragraphs.append({"context": context, "qas": qas})
    path.write_text(json.dumps({"version": "v2.0", "data": [
        {"title": "Notes", "paragraphs": paragraphs}]}), encoding="utf-8")
    return path


@pytest.mark.slow
def test_squad_v2_trains_with_unanswerable_questions(tmp_path):
    data = squad_v2(tmp_path / "train-v2.0.json")
    model_dir = tmp_path / "run"
    result = run_recipe(f"--train_file={data}", f"--test_file={data}", TINY_SPAN,
                        "--vocab_min_count=1", "--epochs=1", "--steps_per_epoch=5",
                        "--mode=train", f"--model_dir={model_dir}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads((model_dir / "recipe.json").read_text())["unanswerable"] is True
    evaluated = run_recipe("--mode=evaluate", f"--train_file={data}", f"--test_file={data}",
                           "--null_threshold=-1000", f"--model_dir={model_dir}")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    scores = json.loads((model_dir / "metrics.test.json").read_text())
    assert scores["no_answer_total"] == 30 and scores["has_answer_total"] == 30
    # A threshold far below any score difference answers "" everywhere.
    predictions = json.loads((model_dir / "predictions.json").read_text())
    assert set(predictions.values()) == {""}
    assert scores["no_answer_exact_match"] == 100.0


def test_bad_data_and_flags_get_one_paragraph_errors(tmp_path):
    bad_start = tmp_path / "bad.jsonl"
    bad_start.write_text(json.dumps({"id": "q7", "question": "Who?", "context": "Ann ran.",
                                     "answer": "Ann", "answer_start": 4}) + "\n")
    result = run_recipe(f"--train_file={bad_start}", f"--model_dir={tmp_path / 'a'}")
    assert_one_paragraph_error(result, "bad.jsonl", "line 1", "answer_start 4")

    classifier = run_recipe("--model=lstm_attention_classifier",
                            f"--model_dir={tmp_path / 'b'}")
    assert_one_paragraph_error(classifier, "lstm_attention_classifier", "bidaf_span_qa",
                               "transformer_tiny")
    stride = run_recipe("--doc_stride=0", f"--model_dir={tmp_path / 'c'}")
    assert_one_paragraph_error(stride, "--doc_stride=0")
    parallel = run_recipe(f"--train_src={bad_start}", f"--model_dir={tmp_path / 'd'}")
    assert parallel.returncode != 0 and "Traceback" not in parallel.stderr


def test_help_lists_the_qa_flags():
    result = run_recipe("--help")
    for flag in ("--doc_stride", "--null_threshold", "--max_context_length", "--train_file",
                 "--model"):
        assert flag in result.stdout
    assert "--train_src" not in result.stdout


def test_per_file_table_lists_files_in_natural_order():
    from recipes.qa import per_file_table

    scores = {"total": 10, "exact_match": 90.0, "f1": 91.0}
    table = per_file_table({name: scores for name in ("qa10_x.txt", "qa2_y.txt", "qa1_z.txt")})
    names = [line.split()[0] for line in table.splitlines()[1:]]
    assert names == ["qa1_z.txt", "qa2_y.txt", "qa10_x.txt"]
