"""The scores of `zoo.metrics`, against hand-computed numbers and the reference libraries."""

import ast
import json
import pathlib
import warnings

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from zoo import metrics
from zoo.errors import UsageError

# ------------------------------------------------------------------ classification report

# gold 0 -> predicted 0, 0, 1; gold 1 -> 1, 1; gold 2 -> 2, 0, 2, 2.
GOLD = [0, 0, 0, 1, 1, 2, 2, 2, 2]
PREDICTED = [0, 0, 1, 1, 1, 2, 0, 2, 2]
NAMES = ["neg", "neu", "pos"]


def test_classification_report_hand_computed():
    report = metrics.classification_report(GOLD, PREDICTED, NAMES)
    assert report["confusion"] == [[2, 1, 0], [0, 2, 0], [1, 0, 3]]
    assert report["examples"] == 9
    assert report["label_names"] == NAMES
    assert report["accuracy"] == pytest.approx(700 / 9)
    per_class = report["per_class"]
    # neg: tp 2 of 3 predicted, 2 of 3 gold. neu: 2 of 3 predicted, 2 of 2 gold.
    # pos: 3 of 3 predicted, 3 of 4 gold.
    expected = {"neg": (200 / 3, 200 / 3, 200 / 3, 3),
                "neu": (200 / 3, 100.0, 80.0, 2),
                "pos": (100.0, 75.0, 600 / 7, 4)}
    for name, (precision, recall, f1, support) in expected.items():
        assert per_class[name]["precision"] == pytest.approx(precision)
        assert per_class[name]["recall"] == pytest.approx(recall)
        assert per_class[name]["f1"] == pytest.approx(f1)
        assert per_class[name]["support"] == support
        assert type(per_class[name]["support"]) is int
    assert report["macro_f1"] == pytest.approx((200 / 3 + 80 + 600 / 7) / 3)
    assert report["macro_precision"] == pytest.approx((200 / 3 + 200 / 3 + 100) / 3)
    assert report["macro_recall"] == pytest.approx((200 / 3 + 100 + 75) / 3)
    assert json.loads(json.dumps(report)) == report  # metrics.<split>.json


def test_classification_report_accepts_numpy_ids():
    report = metrics.classification_report(np.array(GOLD), np.array(PREDICTED, "int32"), NAMES)
    assert report == metrics.classification_report(GOLD, PREDICTED, NAMES)


def test_macro_f1_skips_classes_absent_from_gold_and_predictions():
    with_unused = metrics.classification_report(GOLD, PREDICTED, NAMES + ["unused"])
    assert with_unused["per_class"]["unused"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert with_unused["macro_f1"] == pytest.approx(
        metrics.classification_report(GOLD, PREDICTED, NAMES)["macro_f1"])
    assert with_unused["confusion"][3] == [0, 0, 0, 0]


def test_class_only_predicted_counts_zero_in_macro_f1():
    # scikit-learn, zero_division=0: a: P 1, R 1/2, F1 2/3; b (never gold): P 0, R 0, F1 0.
    report = metrics.classification_report([0, 0], [0, 1], ["a", "b"])
    assert report["per_class"]["a"]["f1"] == pytest.approx(200 / 3)
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                        "support": 0}
    assert report["macro_f1"] == pytest.approx(100 / 3)
    assert report["accuracy"] == 50.0


@pytest.mark.parametrize("gold, predicted, names, message", [
    ([], [], ["a"], "nothing to score"),
    ([0, 1], [0], ["a", "b"], "2 gold labels but 1 predictions"),
    ([0, 2], [0, 1], ["a", "b"], "class id 2"),
    ([0, -1], [0, 1], ["a", "b"], "class id -1"),
    ([0.0, 1.0], [0, 1], ["a", "b"], "integer class ids"),
    ([0], [0], [], "label_names is empty"),
])
def test_classification_report_usage_errors(gold, predicted, names, message):
    with pytest.raises(UsageError, match=message):
        metrics.classification_report(gold, predicted, names)


def test_format_per_class():
    text = metrics.format_per_class(metrics.classification_report(GOLD, PREDICTED, NAMES))
    assert text.splitlines() == [
        "class      precision  recall      F1  support",
        "neg            66.67   66.67   66.67        3",
        "neu            66.67  100.00   80.00        2",
        "pos           100.00   75.00   85.71        4",
        "macro avg      77.78   80.56   77.46        9",
    ]


def test_format_confusion_matrix_abbreviates_long_names():
    report = metrics.classification_report(
        GOLD, PREDICTED, ["negative", "category_number_1", "category_number_2"])
    assert metrics.format_confusion_matrix(report).splitlines() == [
        "gold \\ predicted   negative  cate..er_1  cate..er_2",
        "negative                  2           1           0",
        "category_number_1         0           2           0",
        "category_number_2         1           0           3",
    ]


def test_format_confusion_matrix_widens_columns_for_large_counts():
    report = metrics.classification_report([0] * 12345 + [1], [0] * 12346, ["a", "b"])
    lines = metrics.format_confusion_matrix(report).splitlines()
    assert lines == ["gold \\ predicted      a      b",
                     "a                 12345      0",
                     "b                     1      0"]


# ------------------------------------------------------------------ SQuAD


@pytest.mark.parametrize("text, expected", [
    ("The Eiffel Tower", "eiffel tower"),
    ("an apple and a pear", "apple and pear"),
    ("theatre anthem", "theatre anthem"),  # articles only as whole words
    ("U.S.A.!", "usa"),
    ("  hello \t\n  world  ", "hello world"),
    ("The", ""),
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert metrics.normalize_answer(text) == expected


def test_exact_match_is_the_max_over_golds():
    assert metrics.exact_match("the Louvre!", ["Musée du Louvre", "Louvre"]) == 1.0
    assert metrics.exact_match("Louvre museum", ["Musée du Louvre", "Louvre"]) == 0.0


def test_f1_is_the_max_over_golds():
    # pred {big, red, dog} vs {red, dog, barks}: 2 common, P = R = 2/3 -> 2/3;
    # vs {dog}: P 1/3, R 1 -> 1/2.
    assert metrics.f1("The big red dog", ["red dog barks"]) == pytest.approx(2 / 3)
    assert metrics.f1("The big red dog", ["dog"]) == pytest.approx(0.5)
    assert metrics.f1("The big red dog", ["dog", "red dog barks"]) == pytest.approx(2 / 3)
    assert metrics.f1("cat", ["dog"]) == 0.0
    # repeated tokens count once per gold occurrence: 1 common, P 1/3, R 1.
    assert metrics.f1("go go go", ["go"]) == pytest.approx(0.5)


def test_no_answer_cases():
    assert metrics.exact_match("", []) == metrics.f1("", []) == 1.0
    assert metrics.exact_match("Paris", []) == metrics.f1("Paris", []) == 0.0
    assert metrics.exact_match("", ["Paris"]) == metrics.f1("", ["Paris"]) == 0.0
    # A gold answer that normalises to nothing is dropped, as in the v2.0 script.
    assert metrics.exact_match("", ["The"]) == 1.0
    assert metrics.exact_match("the.", [""]) == 1.0


def test_squad_scores_v11():
    result = metrics.squad_scores(
        {"q1": "Paris", "q2": "the big red dog", "extra": "ignored"},
        {"q1": ["in Paris", "Paris"], "q2": ["red dog barks"]})
    assert set(result) == {"exact_match", "f1", "total"}
    assert result["total"] == 2
    assert result["exact_match"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)


def test_squad_scores_v2_breakdown():
    predictions = {"a1": "Paris", "a2": "Lyon", "n1": "", "n2": "Nice", "n3": ""}
    golds = {"a1": ["Paris"], "a2": ["Lyon station"], "n1": [], "n2": [], "n3": []}
    result = metrics.squad_scores(predictions, golds)
    # a2: F1 = 2 * 1 * 1/2 / (3/2) = 2/3, EM 0; n1, n3 right, n2 wrong.
    assert result == pytest.approx({
        "exact_match": 300 / 5, "f1": 100 * (1 + 2 / 3 + 1 + 0 + 1) / 5, "total": 5,
        "has_answer_exact_match": 50.0, "has_answer_f1": 100 * (1 + 2 / 3) / 2,
        "has_answer_total": 2,
        "no_answer_exact_match": 200 / 3, "no_answer_f1": 200 / 3, "no_answer_total": 3,
    })


def test_squad_scores_only_unanswerable():
    result = metrics.squad_scores({"n1": "", "n2": "x"}, {"n1": [], "n2": []})
    assert result == {"exact_match": 50.0, "f1": 50.0, "total": 2,
                      "no_answer_exact_match": 50.0, "no_answer_f1": 50.0,
                      "no_answer_total": 2}


def test_squad_missing_prediction_scores_zero_and_warns():
    with pytest.warns(UserWarning, match="1 of 2 questions have no prediction"):
        result = metrics.squad_scores({"q1": "Paris"}, {"q1": ["Paris"], "q2": ["Rome"]})
    assert result == {"exact_match": 50.0, "f1": 50.0, "total": 2}


def test_squad_no_warning_when_all_predicted():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.squad_scores({"q1": "Paris"}, {"q1": ["Paris"]})


def test_squad_scores_empty_gold():
    with pytest.raises(UsageError, match="nothing to score"):
        metrics.squad_scores({"q1": "x"}, {})


# ------------------------------------------------------------------ BLEU, chrF

HYPOTHESES = ["the cat sat on the mat today", "a quick brown fox jumps over it"]
REFERENCES = ["the cat sat on a mat today", "the quick brown fox jumped over it"]


def test_bleu_chrf_identical_text_is_100():
    scores = metrics.bleu_chrf(REFERENCES, REFERENCES)
    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)


def test_bleu_chrf_matches_sacrebleu():
    scores = metrics.bleu_chrf(HYPOTHESES, REFERENCES)
    assert scores["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score)
    assert scores["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score)
    assert 0 < scores["bleu"] < 100 and 0 < scores["chrf"] < 100
    assert scores["bleu_signature"].startswith("nrefs:1|case:mixed|")
    assert f"version:{sacrebleu.__version__}" in scores["bleu_signature"]
    assert all(type(scores[key]) is float for key in ("bleu", "chrf"))


@pytest.mark.parametrize("hypotheses, references, message", [
    ([], [], "nothing to score"),
    (["a b c d"], ["a b c d", "e f g h"], "1 hypotheses but 2 references"),
    ("a b c d", "a b c d", "not one string"),
])
def test_bleu_chrf_usage_errors(hypotheses, references, message):
    with pytest.raises(UsageError, match=message):
        metrics.bleu_chrf(hypotheses, references)


# ------------------------------------------------------------------ ROUGE

PREDICTIONS = ["The cats were sitting on the mat. It rained all day!",
               "Markets fell sharply today. Investors worried about rates."]
SUMMARIES = ["A cat sat on the mat. Rain fell all day.",
             "Investors worried about interest rates. Stock markets fell."]


def test_rouge_matches_rouge_score():
    scores = metrics.rouge(PREDICTIONS, SUMMARIES)
    assert set(scores) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    direct = [scorer.score(reference, prediction)
              for prediction, reference in zip(PREDICTIONS, SUMMARIES)]
    for name in ("rouge1", "rouge2", "rougeL"):
        expected = 100 * np.mean([score[name].fmeasure for score in direct])
        assert scores[name] == pytest.approx(expected)
    lsum = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    split = [lsum.score(reference.replace(". ", ".\n"),
                        prediction.replace(". ", ".\n").replace("! ", "!\n"))
             for prediction, reference in zip(PREDICTIONS, SUMMARIES)]
    assert scores["rougeLsum"] == pytest.approx(
        100 * np.mean([score["rougeLsum"].fmeasure for score in split]))


def test_rouge_lsum_splits_sentences():
    # Sentences swapped: the LCS of the whole texts is 3 of 6 tokens (F1 50), while each
    # reference sentence is found whole in the prediction's lines (F1 100).
    scores = metrics.rouge(["the dog ran. the cat sat."], ["the cat sat. the dog ran."])
    assert scores["rougeL"] == pytest.approx(50.0)
    assert scores["rougeLsum"] == pytest.approx(100.0)


def test_rouge_stemmer_and_types():
    plain = metrics.rouge(["cats running"], ["cat runs"], types=("rouge1",), use_stemmer=False)
    stemmed = metrics.rouge(["cats running"], ["cat runs"], types=("rouge1",))
    assert plain == {"rouge1": 0.0}
    assert stemmed == {"rouge1": pytest.approx(100.0)}


def test_split_sentences():
    assert metrics.split_sentences(" One. Two!\nThree?  Four ") == "One.\nTwo!\nThree?\nFour"
    assert metrics.split_sentences("3.5 percent") == "3.5 percent"


@pytest.mark.parametrize("types", [("rouge0",), ("bleu",), ()])
def test_rouge_unknown_type(types):
    with pytest.raises(UsageError, match="ROUGE type"):
        metrics.rouge(["a"], ["a"], types=types)


def test_rouge_bootstrap_interval_and_determinism():
    predictions = PREDICTIONS + ["nothing in common here", "the cat sat on the mat"]
    references = SUMMARIES + ["a totally different text", "the cat sat on the mat"]
    np.random.seed(7)
    before = np.random.random()
    np.random.seed(7)
    first = metrics.rouge_bootstrap(predictions, references, samples=300, seed=3)
    assert np.random.random() == before  # the global generator's stream is restored
    second = metrics.rouge_bootstrap(predictions, references, samples=300, seed=3)
    assert first == second
    means = metrics.rouge(predictions, references)
    for name, (low, mid, high) in first.items():
        assert low <= mid <= high
        assert low < high  # the pairs' scores differ, so the interval is not a point
        assert low <= means[name] <= high
        assert all(type(bound) is float for bound in (low, mid, high))


def test_rouge_bootstrap_identical_pairs_is_a_point():
    interval = metrics.rouge_bootstrap(["a b c", "d e"], ["a b c", "d e"],
                                       types=("rouge1",), samples=50)
    assert interval == {"rouge1": pytest.approx((100.0, 100.0, 100.0))}


# ------------------------------------------------------------------ module


def test_metrics_module_imports_no_tensorflow_or_keras():
    source = pathlib.Path(metrics.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"tensorflow", "keras", "sklearn"}
