"""AESLC (../shared/data/aeslc): the summarization preset and its ablations, same budget.

Runs `python -m recipes.summarization --flagfile=recipes/configs/summarization_aeslc.flags`
(the dev split scored in full, beam 4, rouge-score F1 with stemming) once for each variant
and prints ROUGE-1/2/L with their 95% bootstrap intervals and the training minutes:

- `preset`: the Transformer pointer-generator, copy over the mean of the last layer's
  cross-attention heads, no coverage.
- `plain`: its plain twin, `transformer_small` of the same size with shared embeddings
  (no copy).
- `coverage`: the preset with the coverage loss on (See et al.'s weight, 1).
- `head0`: the preset copying through the last layer's first head instead of the mean.

Before the variants it scores the dev split's three human-written subjects (`ann0`..`ann2`,
written by annotators for the email's body) against the sender's `subject`, the
reference every variant is scored on: how far people agree with it, the task's ceiling.

Every variant runs the preset's epochs and schedule; pass `--epochs N` to shorten them all
alike (ablations at a smaller budget), and `--mixed_precision` to train them all in
mixed bfloat16 (faster only on CPUs with native bfloat16: AVX-512 BF16 or AMX).

    python bench/aeslc.py [--variants preset,plain,coverage,head0] [--epochs N] [--seed 0]
        [--mixed_precision]
"""

import argparse
import json
import pathlib
import sys

from recipe_runs import ROOT, run_recipe

FLAGFILE = ROOT / "recipes" / "configs" / "summarization_aeslc.flags"
DATA = ROOT.parent / "shared" / "data" / "aeslc"
PRESET_HPARAMS = "num_layers=2,dropout=0.1"
VARIANTS = {
    "preset": [],
    "plain": ["--model=transformer_small", f"--hparams={PRESET_HPARAMS},share_embeddings=true"],
    "coverage": [f"--hparams={PRESET_HPARAMS},coverage_loss_weight=1.0"],
    "head0": [f"--hparams={PRESET_HPARAMS},copy_attention=head0"],
}
ROUGE = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}
ANNOTATIONS = ("ann0", "ann1", "ann2")


def cells(scores, intervals):
    """A table row's ROUGE cells: `mean (low-high)`."""
    return [f"{scores[key]:.1f} ({intervals[key][0]:.1f}-{intervals[key][2]:.1f})"
            for key in ROUGE]


def human_rows():
    """Each annotator's subjects scored against the sender's, as the recipe scores a model."""
    sys.path.insert(0, str(ROOT))
    from zoo import metrics

    emails = [json.loads(line) for line in (DATA / "dev.jsonl").read_text().splitlines()]
    references = [email["subject"] for email in emails]
    for name in ANNOTATIONS:
        subjects = [email[name] for email in emails]
        yield name, cells(metrics.rouge(subjects, references, types=tuple(ROUGE)),
                          metrics.rouge_bootstrap(subjects, references, types=tuple(ROUGE)))


def run_variant(name, work_dir, seed, epochs, mixed_precision):
    """Trains and scores one variant; returns (its metrics.validation.json, training min)."""
    extra = (VARIANTS[name] + ([f"--epochs={epochs}"] if epochs else [])
             + (["--mixed_precision"] if mixed_precision else []))
    print(f"{name}: python -m recipes.summarization --flagfile="
          f"{FLAGFILE.relative_to(ROOT)} {' '.join(extra)}", flush=True)
    return run_recipe("summarization", work_dir / name, f"--flagfile={FLAGFILE}",
                      f"--seed={seed}", *extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed_precision", action="store_true")
    parser.add_argument("--work_dir", default="/tmp/bench_aeslc")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the AESLC corpus.")
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        sys.exit(f"Unknown variants {sorted(unknown)}; valid: {', '.join(VARIANTS)}")
    print("| variant | " + " | ".join(ROUGE.values()) + " | training |\n|---|---|---|---|---|",
          flush=True)
    for name, row in human_rows():
        print(f"| human subject `{name}` | " + " | ".join(row) + " | |", flush=True)
    for name in args.variants.split(","):
        scores, minutes = run_variant(name, pathlib.Path(args.work_dir), args.seed,
                                      args.epochs, args.mixed_precision)
        intervals = {key: scores[key + "_95"] for key in ROUGE}
        print(f"| {name} | " + " | ".join(cells(scores, intervals)) + f" | {minutes:.1f} min |",
              flush=True)


if __name__ == "__main__":
    main()
