"""Neural machine translation: train, evaluate (BLEU), export and serve.

With no flags it trains on the built-in offline demo corpus (dates written by people in
four languages -> ISO dates), evaluates BLEU on its held-out split, exports a SavedModel
that TF Serving answers with plain strings, prints a few translations and saves an
attention heatmap:

    python -m recipes.nmt

Real data:

    python -m recipes.nmt --dataset=tfds:ted_hrlr_translate/pt_to_en --data_dir=~/tfds
    python -m recipes.nmt --train_src=train.de --train_tgt=train.en \\
        --eval_src=val.de --eval_tgt=val.en --model=transformer_small
    python -m recipes.nmt --flagfile=recipes/configs/nmt_multi30k.flags

Then `--mode=evaluate`, `--mode=predict` (stdin or `--input`) or `--mode=export` with the
same `--model_dir`.
"""

from recipes import driver
from recipes.seq2seq import Seq2SeqTask


class Translation(Seq2SeqTask):
    """Translation scored with sacreBLEU's corpus BLEU (and chrF)."""

    name = "nmt"
    data_task = "nmt"
    metric = "bleu"
    metric_label = "BLEU"
    output_label = "translation"
    defaults = dict(
        model="transformer_tiny",
        epochs=4,
        batch_size=64,
        vocab_size=600,
        max_source_length=48,
        max_target_length=24,
        learning_rate=2e-3,
        warmup_steps=300,
    )

    def score(self, hypotheses, references):
        from zoo import metrics

        return metrics.bleu_chrf(hypotheses, references)

    def score_rows(self, scores):
        return [("BLEU", f"{scores['bleu']:.1f}"), ("chrF", f"{scores['chrf']:.1f}"),
                ("sacreBLEU signature", scores["bleu_signature"])]


if __name__ == "__main__":
    driver.main(Translation())
