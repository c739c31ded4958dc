"""Abstractive summarization: train, evaluate (ROUGE), export and serve.

With no flags it trains a pointer-generator on the built-in offline demo corpus (short
news paragraphs -> headlines), evaluates ROUGE on its test split with bootstrap
intervals, exports a SavedModel that TF Serving answers with plain strings, prints a few
document -> summary examples and saves the cross-attention of one summary with the copy
gate p_gen of each output token:

    python -m recipes.summarization

Real data:

    python -m recipes.summarization --dataset=tfds:xsum --data_dir=~/tfds
    python -m recipes.summarization --train_file=train.jsonl --eval_file=dev.jsonl \\
        --source_field=email --target_field=subject

Then `--mode=evaluate`, `--mode=predict` (one document a line, one summary a line) or
`--mode=export` with the same `--model_dir`.
"""

from recipes import driver
from recipes.seq2seq import Seq2SeqTask

ROUGE_LABELS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L",
                "rougeLsum": "ROUGE-Lsum"}


class Summarization(Seq2SeqTask):
    """Documents to summaries, scored with ROUGE F1 (rouge-score, stemmed)."""

    name = "summarization"
    data_task = "summarization"
    metric = "rougeL"
    metric_label = "ROUGE-L"
    output_label = "summary"
    example_unit = "documents"
    defaults = dict(
        model="transformer_pointer_generator_tiny",
        epochs=4,
        batch_size=32,
        vocab_size=1000,
        shared_vocab=True,
        max_source_length=400,
        max_target_length=32,
        learning_rate=2e-3,
        warmup_steps=200,
        beam_size=4,
        length_penalty=1.0,
        no_repeat_ngram_size=3,
        eval_examples=200,
    )

    def score(self, hypotheses, references):
        from zoo import metrics

        return metrics.rouge(hypotheses, references)

    def test_scores(self, hypotheses, references):
        from zoo import metrics

        scores = self.score(hypotheses, references)
        for name, interval in metrics.rouge_bootstrap(hypotheses, references).items():
            scores[f"{name}_95"] = list(interval)
        return scores

    def score_rows(self, scores):
        return [(label, f"{scores[name]:.1f} (95% interval {scores[name + '_95'][0]:.1f}-"
                        f"{scores[name + '_95'][2]:.1f})")
                for name, label in ROUGE_LABELS.items()]

    def output_labels(self, model, alignment):
        """Each summary token with the model's copy gate p_gen (1: generated, 0: copied)."""
        import numpy as np

        from zoo.models.pointer_generator import LSTMPointerGenerator, TransformerPointerGenerator
        from zoo.text import BOS_ID

        pointer_generators = (LSTMPointerGenerator, TransformerPointerGenerator)
        if not alignment.output_ids or not isinstance(model, pointer_generators):
            return alignment.output_tokens
        target_in = np.array([[BOS_ID] + alignment.output_ids[:-1]], "int32")
        _, _, p_gen = model((alignment.source_ids, target_in), return_copy_details=True)
        return [f"{token}  p_gen {gate:.2f}"
                for token, gate in zip(alignment.output_tokens, np.asarray(p_gen)[0])]


if __name__ == "__main__":
    driver.main(Summarization())
