"""The scores the recipes report: BLEU/chrF, ROUGE, accuracy/F1/confusion, SQuAD EM/F1.

Scores are floats on a 0-100 scale (percent) unless a function says otherwise. BLEU, chrF
and ROUGE come from the reference libraries (sacrebleu, rouge-score); the classification
report and the SQuAD scores are written here (see each function for why). Pure Python and
numpy: this module imports no TensorFlow, so scoring scripts can reuse it.

Example:

>>> from zoo import metrics
>>> report = metrics.classification_report([0, 1, 1], [0, 1, 0], ["no", "yes"])
>>> round(report["accuracy"], 2), round(report["macro_f1"], 2)
(66.67, 66.67)
>>> metrics.squad_scores({"q1": "the Eiffel Tower"}, {"q1": ["Eiffel Tower"]})
{'exact_match': 100.0, 'f1': 100.0, 'total': 1}
"""

import collections
import re
import string
import warnings

import numpy as np

from zoo.errors import UsageError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def _check_corpus(hypotheses, references, what):
    """Lists of strings, one reference per hypothesis; `UsageError` when they do not pair."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise UsageError(f"{what}: pass lists of strings, not one string.")
    hypotheses, references = list(hypotheses), list(references)
    if not hypotheses:
        raise UsageError(f"{what}: there is nothing to score (no hypotheses).")
    if len(hypotheses) != len(references):
        raise UsageError(f"{what}: {len(hypotheses)} hypotheses but {len(references)} "
                         "references; pass exactly one reference per hypothesis.")
    return hypotheses, references


# --------------------------------------------------------------------------- BLEU, chrF


def bleu_chrf(hypotheses, references):
    """Corpus BLEU and chrF from sacrebleu's default settings (one reference each).

    Args:
        hypotheses: list of detokenized output strings.
        references: list of reference strings, one per hypothesis, in the same order.

    Returns:
        `{"bleu": float, "chrf": float, "bleu_signature": str}`; both scores are 0-100 and
        the signature (e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`)
        is what papers quote so the number can be reproduced.

    >>> from zoo import metrics
    >>> scores = metrics.bleu_chrf(["the cat sat on the mat"], ["the cat sat on the mat"])
    >>> round(scores["bleu"], 2), round(scores["chrf"], 2)
    (100.0, 100.0)
    >>> scores["bleu_signature"]
    'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:...'
    """
    import sacrebleu

    hypotheses, references = _check_corpus(hypotheses, references, "bleu_chrf")
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    return {
        "bleu": float(bleu.corpus_score(hypotheses, [references]).score),
        "chrf": float(chrf.corpus_score(hypotheses, [references]).score),
        "bleu_signature": str(bleu.get_signature()),
    }


# --------------------------------------------------------------------------- ROUGE

# Sentence-final punctuation followed by whitespace. A simple regex, not a trained sentence
# splitter (rouge-score's own `split_summaries` needs NLTK's punkt data, which is not
# installed offline): "Dr. Smith" is split too, as it is by most ROUGE-Lsum set-ups.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text):
    """Puts each sentence of `text` on its own line, as rouge-score's `rougeLsum` expects.

    A sentence ends at `.`, `!` or `?` followed by whitespace (a simple regex, no
    abbreviation list); existing line breaks are kept.

    Args:
        text: a string.

    >>> from zoo import metrics
    >>> metrics.split_sentences("It rained. We stayed in!  Why?")
    'It rained.\\nWe stayed in!\\nWhy?'
    """
    return "\n".join(line for line in _SENTENCE_END.split(text.strip()) if line)


def _rouge_scores(predictions, references, types, use_stemmer, what):
    """One rouge-score `{type: Score}` dict per pair (texts split into sentence lines)."""
    from rouge_score import rouge_scorer

    predictions, references = _check_corpus(predictions, references, what)
    types = (types,) if isinstance(types, str) else tuple(types)
    bad = [name for name in types if not re.fullmatch(r"rouge[1-9]|rougeL|rougeLsum", name)]
    if not types or bad:
        raise UsageError(f"{what}: unknown ROUGE type(s) {bad or '(none given)'}; use "
                         "rouge1 ... rouge9, rougeL or rougeLsum.")
    scorer = rouge_scorer.RougeScorer(list(types), use_stemmer=use_stemmer)
    # Line breaks only matter to rougeLsum; the other types tokenize them as spaces.
    return types, [scorer.score(split_sentences(reference), split_sentences(prediction))
                   for prediction, reference in zip(predictions, references)]


def rouge(predictions, references, types=ROUGE_TYPES, use_stemmer=True):
    """Mean ROUGE F1 over the pairs, from rouge-score.

    Sentences are put on separate lines first (`split_sentences`), so `rougeLsum` is the
    summary-level LCS that CNN/DailyMail and XSum papers report.

    Args:
        predictions: list of generated summaries.
        references: list of reference summaries, one per prediction.
        types: ROUGE variants: `rouge1` ... `rouge9`, `rougeL`, `rougeLsum`.
        use_stemmer: Porter-stem words before matching (the usual setting).

    Returns:
        `{type: mean F1 * 100}`.

    >>> from zoo import metrics
    >>> scores = metrics.rouge(["the cat sat on the mat"], ["the cat lay on the mat"])
    >>> {name: round(value, 2) for name, value in scores.items()}
    {'rouge1': 83.33, 'rouge2': 60.0, 'rougeL': 83.33, 'rougeLsum': 83.33}
    """
    types, scores = _rouge_scores(predictions, references, types, use_stemmer, "rouge")
    return {name: 100.0 * float(np.mean([score[name].fmeasure for score in scores]))
            for name in types}


def rouge_bootstrap(predictions, references, types=ROUGE_TYPES, use_stemmer=True,
                    samples=1000, seed=0):
    """A 95% bootstrap confidence interval of the mean ROUGE F1, from rouge-score.

    rouge-score's `BootstrapAggregator` takes no seed and resamples with numpy's global
    random generator, so this seeds that generator with `seed` for the call and restores
    its previous state afterwards: the result is deterministic given `seed` and the
    caller's random stream is left as it was (not thread-safe against other users of the
    global generator).

    Args:
        predictions: list of generated summaries.
        references: list of reference summaries, one per prediction.
        types: ROUGE variants, as in `rouge`.
        use_stemmer: Porter-stem words before matching.
        samples: number of bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        `{type: (low, mid, high)}` of F1 * 100: the 2.5th, 50th and 97.5th percentiles of
        the resampled means.

    >>> from zoo import metrics
    >>> interval = metrics.rouge_bootstrap(
    ...     ["a cat sat", "dogs bark loudly", "birds fly"],
    ...     ["the cat sat", "dogs bark", "fish swim"], types=("rouge1",), samples=200)
    >>> low, mid, high = interval["rouge1"]
    >>> low <= mid <= high
    True
    """
    from rouge_score import scoring

    types, scores = _rouge_scores(predictions, references, types, use_stemmer,
                                  "rouge_bootstrap")
    if int(samples) < 1:
        raise UsageError(f"rouge_bootstrap: samples must be at least 1, not {samples}.")
    aggregator = scoring.BootstrapAggregator(confidence_interval=0.95, n_samples=int(samples))
    for score in scores:
        aggregator.add_scores(score)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        result = aggregator.aggregate()
    finally:
        np.random.set_state(state)
    return {name: tuple(100.0 * float(bound.fmeasure)
                        for bound in (result[name].low, result[name].mid, result[name].high))
            for name in types}


# --------------------------------------------------------------------------- classification


def _class_ids(values, what, num_classes):
    if isinstance(values, str):
        raise UsageError(f"classification_report: {what} must be a sequence of class ids.")
    ids = np.asarray(list(values))
    if ids.size and (ids.ndim != 1 or ids.dtype.kind not in "iu"):
        raise UsageError(f"classification_report: {what} must be a flat sequence of integer "
                         f"class ids, got an array of {ids.dtype} with shape {ids.shape}.")
    ids = ids.astype("int64")
    outside = ids[(ids < 0) | (ids >= num_classes)]
    if outside.size:
        raise UsageError(f"classification_report: {what} holds class id {int(outside[0])}, "
                         f"outside 0..{num_classes - 1} ({num_classes} label names).")
    return ids


def classification_report(gold, predicted, label_names):
    """Accuracy, macro F1, per-class precision/recall/F1 and the confusion matrix.

    Written here because scikit-learn, which has it, is not a dependency. It follows
    scikit-learn's conventions (`zero_division=0`): a precision or recall whose
    denominator is zero is 0, and `macro_f1` is the mean F1 over the classes that occur in
    `gold` or in `predicted` (a class of `label_names` that occurs in neither is listed in
    `per_class` with zeros but left out of the macro averages).

    Args:
        gold: sequence of true class ids (ints in `0..len(label_names) - 1`).
        predicted: sequence of predicted class ids, same length.
        label_names: the class names, indexed by class id.

    Returns:
        A JSON-serialisable dict: `accuracy`, `macro_f1`, `macro_precision` and
        `macro_recall` (0-100); `per_class`: `{name: {"precision", "recall", "f1",
        "support"}}` (0-100, support an int count of gold examples); `confusion`: list of
        lists of ints, rows gold and columns predicted; `label_names`; `examples` (count).

    Raises:
        UsageError: empty input, lengths that differ, or a class id out of range.

    >>> from zoo import metrics
    >>> report = metrics.classification_report([0, 0, 1, 2], [0, 1, 1, 1], ["a", "b", "c"])
    >>> report["confusion"]
    [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    >>> {name: round(row["f1"], 2) for name, row in report["per_class"].items()}
    {'a': 66.67, 'b': 50.0, 'c': 0.0}
    """
    label_names = [str(name) for name in label_names]
    num_classes = len(label_names)
    if not num_classes:
        raise UsageError("classification_report: label_names is empty.")
    gold = _class_ids(gold, "gold", num_classes)
    predicted = _class_ids(predicted, "predicted", num_classes)
    if not gold.size:
        raise UsageError("classification_report: there is nothing to score (no examples).")
    if gold.size != predicted.size:
        raise UsageError(f"classification_report: {gold.size} gold labels but "
                         f"{predicted.size} predictions; pass one prediction per example.")
    confusion = np.bincount(gold * num_classes + predicted,
                            minlength=num_classes * num_classes).reshape(num_classes,
                                                                         num_classes)
    true_positives = np.diag(confusion)
    support = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)

    def ratio(numerator, denominator):
        return 100.0 * numerator / denominator if denominator else 0.0

    per_class, present = {}, []
    for index, name in enumerate(label_names):
        tp, gold_n, predicted_n = (int(true_positives[index]), int(support[index]),
                                   int(predicted_count[index]))
        per_class[name] = {
            "precision": ratio(tp, predicted_n),
            "recall": ratio(tp, gold_n),
            "f1": ratio(2 * tp, gold_n + predicted_n),  # = 2PR / (P + R), 0 when tp = 0
            "support": gold_n,
        }
        if gold_n or predicted_n:
            present.append(per_class[name])

    def macro(key):
        return float(np.mean([row[key] for row in present]))

    return {
        "accuracy": ratio(int(true_positives.sum()), int(gold.size)),
        "macro_f1": macro("f1"),
        "macro_precision": macro("precision"),
        "macro_recall": macro("recall"),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "label_names": label_names,
        "examples": int(gold.size),
    }


def _abbreviate(name, width):
    """`name` cut to `width` characters, keeping its head and tail (`categ..y_12`)."""
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return name[:head] + ".." + name[len(name) - (width - 2 - head):]


def format_per_class(report):
    """A plain-text table of a `classification_report`: one row a class, then the macro
    average (over the classes that occur, as `macro_f1`).

    Args:
        report: the dict `classification_report` returned.

    >>> from zoo import metrics
    >>> report = metrics.classification_report([0, 0, 1, 2], [0, 1, 1, 1], ["a", "b", "c"])
    >>> print(metrics.format_per_class(report))
    class      precision  recall      F1  support
    a             100.00   50.00   66.67        2
    b              33.33  100.00   50.00        1
    c               0.00    0.00    0.00        1
    macro avg      44.44   50.00   38.89        4
    """
    rows = [(_abbreviate(name, 30), values["precision"], values["recall"], values["f1"],
             values["support"]) for name, values in report["per_class"].items()]
    rows.append(("macro avg", report["macro_precision"], report["macro_recall"],
                 report["macro_f1"], report["examples"]))
    name_width = max(len("class"), *(len(row[0]) for row in rows))
    lines = [f"{'class':<{name_width}}  precision  recall      F1  support"]
    for name, precision, recall, f1_score, support in rows:
        lines.append(f"{name:<{name_width}}  {precision:9.2f}  {recall:6.2f}  {f1_score:6.2f}"
                     f"  {support:7d}")
    return "\n".join(lines)


def format_confusion_matrix(report, max_name_width=10):
    """A plain-text confusion matrix of a `classification_report`: gold on rows, predicted
    on columns; column headers longer than `max_name_width` are abbreviated in the middle.

    Args:
        report: the dict `classification_report` returned.
        max_name_width: widest column header (row names may be up to 3 times as wide).

    >>> from zoo import metrics
    >>> report = metrics.classification_report(
    ...     [0, 0, 1, 2], [0, 1, 1, 1], ["negative", "neutral", "very_positive_indeed"])
    >>> print(metrics.format_confusion_matrix(report))
    gold \\ predicted      negative  neutral  very..deed
    negative                     1        1           0
    neutral                      0        1           0
    very_positive_indeed         0        1           0
    """
    names = report["label_names"]
    confusion = report["confusion"]
    corner = "gold \\ predicted"
    row_names = [_abbreviate(name, 3 * max_name_width) for name in names]
    row_width = max(len(corner), *(len(name) for name in row_names))
    digits = max(len(str(count)) for row in confusion for count in row)
    headers = [_abbreviate(name, max(max_name_width, digits)) for name in names]
    widths = [max(digits, len(header)) for header in headers]
    lines = [f"{corner:<{row_width}}" + "".join(f"  {header:>{width}}"
                                               for header, width in zip(headers, widths))]
    for name, row in zip(row_names, confusion):
        lines.append(f"{name:<{row_width}}" + "".join(f"  {count:>{width}d}"
                                                     for count, width in zip(row, widths)))
    return "\n".join(lines)


# --------------------------------------------------------------------------- SQuAD
# The logic of the official SQuAD v1.1 / v2.0 evaluation scripts, written here because
# neither sacrebleu nor rouge-score has it and the scripts are not installable packages.

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """SQuAD's answer normalisation: lower case, drop punctuation, drop the articles
    a/an/the, collapse whitespace.

    Args:
        text: an answer string.

    >>> from zoo import metrics
    >>> metrics.normalize_answer("  The  Eiffel-Tower, in PARIS! ")
    'eiffeltower in paris'
    """
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _golds(gold_answers):
    """The gold answers as SQuAD v2.0 scores them: those that normalise to nothing are
    dropped, and an unanswerable question (no answer left) has the single answer ""."""
    if isinstance(gold_answers, str):
        gold_answers = [gold_answers]
    golds = [answer for answer in gold_answers if normalize_answer(answer)]
    return golds or [""]


def _f1_one(prediction, gold):
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not prediction_tokens or not gold_tokens:
        return float(prediction_tokens == gold_tokens)  # a no-answer scores only if both are
    common = sum((collections.Counter(prediction_tokens)
                  & collections.Counter(gold_tokens)).values())
    if not common:
        return 0.0
    precision, recall = common / len(prediction_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction, gold_answers):
    """SQuAD exact match of one prediction: 1.0 when its normalised text equals that of any
    gold answer, else 0.0 (per example this is 0-1, not percent).

    Args:
        prediction: the predicted answer string ("" for "no answer").
        gold_answers: list of acceptable answers; an empty list means the question is
            unanswerable (SQuAD v2.0) and only an empty prediction scores.

    >>> from zoo import metrics
    >>> metrics.exact_match("the Louvre", ["Louvre Museum", "Louvre"])
    1.0
    >>> metrics.exact_match("", []), metrics.exact_match("Louvre", [])
    (1.0, 0.0)
    """
    prediction = normalize_answer(prediction)
    return max(float(prediction == normalize_answer(gold)) for gold in _golds(gold_answers))


def f1(prediction, gold_answers):
    """SQuAD token F1 of one prediction: the best bag-of-words F1 over the gold answers,
    after `normalize_answer` (per example this is 0-1, not percent).

    Args:
        prediction: the predicted answer string ("" for "no answer").
        gold_answers: list of acceptable answers; an empty list means the question is
            unanswerable (SQuAD v2.0) and only an empty prediction scores.

    >>> from zoo import metrics
    >>> round(metrics.f1("the Louvre museum in Paris", ["Louvre Museum", "Paris"]), 4)
    0.6667
    >>> metrics.f1("", []), metrics.f1("", ["Paris"])
    (1.0, 0.0)
    """
    return max(_f1_one(prediction, gold) for gold in _golds(gold_answers))


def squad_scores(predictions, gold_answers):
    """Corpus exact match and F1 as the official SQuAD v1.1/v2.0 scripts compute them.

    Every question of `gold_answers` is scored; a question with no prediction scores 0
    (with a warning), as in the v1.1 script (the v2.0 script leaves it out of `total`).
    Predictions for ids absent from `gold_answers` are ignored. When any question is
    unanswerable (an empty gold list), the v2.0 breakdown is added:
    `has_answer_exact_match`, `has_answer_f1`, `has_answer_total` (left out when every
    question is unanswerable) and `no_answer_exact_match`, `no_answer_f1`,
    `no_answer_total`.

    Args:
        predictions: `{question_id: answer string}` ("" predicts "no answer").
        gold_answers: `{question_id: [acceptable answer strings]}`; `[]` marks an
            unanswerable question.

    Returns:
        `{"exact_match": float, "f1": float, "total": int}` (scores 0-100), plus the
        breakdown above.

    Raises:
        UsageError: when `gold_answers` is empty.

    >>> from zoo import metrics
    >>> metrics.squad_scores({"q1": "Paris", "q2": "", "q3": "Lyon"},
    ...                      {"q1": ["Paris", "in Paris"], "q2": [], "q3": []})
    {'exact_match': 66.66..., 'f1': 66.66..., 'total': 3,
     'has_answer_exact_match': 100.0, 'has_answer_f1': 100.0, 'has_answer_total': 1,
     'no_answer_exact_match': 50.0, 'no_answer_f1': 50.0, 'no_answer_total': 2}
    """
    if not gold_answers:
        raise UsageError("squad_scores: there is nothing to score (no gold answers).")
    missing = [qid for qid in gold_answers if qid not in predictions]
    if missing:
        warnings.warn(f"squad_scores: {len(missing)} of {len(gold_answers)} questions have no "
                      f"prediction and score 0 (first: {missing[0]!r}).", stacklevel=2)
    exact, token_f1, answerable = {}, {}, {}
    for qid, golds in gold_answers.items():
        golds = [golds] if isinstance(golds, str) else list(golds)
        # As the official script: "has an answer" looks at the raw gold list.
        answerable[qid] = bool(golds)
        if qid in predictions:
            exact[qid] = exact_match(predictions[qid], golds)
            token_f1[qid] = f1(predictions[qid], golds)
        else:
            exact[qid] = token_f1[qid] = 0.0

    def summary(qids, prefix=""):
        return {f"{prefix}exact_match": 100.0 * sum(exact[qid] for qid in qids) / len(qids),
                f"{prefix}f1": 100.0 * sum(token_f1[qid] for qid in qids) / len(qids),
                f"{prefix}total": len(qids)}

    result = summary(list(gold_answers))
    no_answer = [qid for qid, has_answer in answerable.items() if not has_answer]
    if no_answer:
        has_answer = [qid for qid, has in answerable.items() if has]
        if has_answer:
            result.update(summary(has_answer, "has_answer_"))
        result.update(summary(no_answer, "no_answer_"))
    return result
