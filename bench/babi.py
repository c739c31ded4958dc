"""bAbI 1k, tasks 1-10 (../shared/data/babi/en): the QA recipe's preset, per-task test error.

Runs `python -m recipes.qa --flagfile=recipes/configs/qa_babi.flags` on a set of tasks'
files (10% of train held out for validation: the preset's --validation_fraction) and
prints each task's test error (100 - exact match) beside MemN2N's and the LSTM baseline's
(Weston et al. 2015; Sukhbaatar et al. 2015, 1k questions a task):

- `preset`: one model trained on all ten tasks together (the issue's goal: mean error
  <= 10% in at most 30 minutes of training on 2 cores).
- `span`: extractive against generative on tasks 1-5 (where every answer is a word of the
  story): the preset, and the preset with `--model=bidaf_span_qa` (or `--span_model`) and
  the span model's own schedule (`SPAN_FLAGS`), both trained on tasks 1-5 only.
- `late`: the generative preset on tasks 6-10 alone (yes/no, counts, lists).

    python bench/babi.py [--parts preset,span,late] [--seed 0] [--work_dir /tmp/bench_babi]
"""

import argparse
import pathlib
import re
import sys

from recipe_runs import ROOT, run_recipe

FLAGFILE = ROOT / "recipes" / "configs" / "qa_babi.flags"
DATA = ROOT.parent / "shared" / "data" / "babi" / "en"
# Test error % a task, tasks 1-10, 1k training questions each.
MEMN2N = [0.1, 8.2, 41.8, 4.4, 13.7, 7.9, 20.3, 11.7, 13.6, 9.7]
LSTM = [50, 80, 80, 39, 30, 52, 51, 55, 36, 56]
# The span model's schedule (the memory network's schedule and restarts do not suit BiDAF,
# and would take hours): session 14's flags, 47.7% mean error on tasks 1-5.
SPAN_FLAGS = ["--hparams=", "--epochs=15", "--learning_rate=2e-3", "--warmup_steps=300",
              "--clipnorm=1.0", "--max_context_length=256", "--restarts=1"]


def task_number(file_name):
    return int(re.match(r"qa(\d+)_", file_name).group(1))


def run_tasks(name, tasks, work_dir, seed, extra=()):
    """Trains and scores the preset on `tasks`; returns ({task: error %}, training min)."""
    files = {split: ",".join(str(path) for task in tasks
                             for path in DATA.glob(f"qa{task}_*_{split}.txt"))
             for split in ("train", "test")}
    print(f"{name}: python -m recipes.qa --flagfile={FLAGFILE.relative_to(ROOT)} on tasks "
          f"{tasks[0]}-{tasks[-1]} {' '.join(extra)}", flush=True)
    scores, minutes = run_recipe(
        "qa", work_dir / name, f"--flagfile={FLAGFILE}", f"--train_file={files['train']}",
        f"--test_file={files['test']}", f"--seed={seed}", *extra)
    errors = {task_number(file): 100 - value["exact_match"] for file, value in
              scores["per_file"].items()}
    return errors, minutes


def print_table(title, columns, minutes):
    """One row a task: each column's test error %, then MemN2N's and the LSTM's."""
    tasks = sorted(next(iter(columns.values())))
    names = list(columns) + ["MemN2N", "LSTM"]
    reference = {"MemN2N": dict(enumerate(MEMN2N, 1)), "LSTM": dict(enumerate(LSTM, 1))}
    columns = {**columns, **reference}
    print(f"\n{title}\n| task | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for task in tasks:
        print(f"| {task} | " + " | ".join(f"{columns[name][task]:.1f}" for name in names)
              + " |")
    means = [sum(columns[name][task] for task in tasks) / len(tasks) for name in names]
    print("| mean | " + " | ".join(f"**{mean:.1f}**" for mean in means) + " |")
    print("training: " + ", ".join(f"{name} {value:.1f} min" for name, value in
                                   minutes.items()), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="preset,span,late")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--span_model", default="bidaf_span_qa")
    parser.add_argument("--work_dir", default="/tmp/bench_babi")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the bAbI corpus.")
    work_dir = pathlib.Path(args.work_dir)
    parts = args.parts.split(",")
    if "preset" in parts:
        errors, minutes = run_tasks("tasks1-10", range(1, 11), work_dir, args.seed)
        print_table("One generative model on tasks 1-10 (test error %)",
                    {"preset": errors}, {"preset": minutes})
    if "span" in parts:
        generative, generative_minutes = run_tasks("tasks1-5", range(1, 6), work_dir,
                                                   args.seed)
        span, span_minutes = run_tasks(f"tasks1-5_{args.span_model}", range(1, 6), work_dir,
                                       args.seed, [f"--model={args.span_model}", *SPAN_FLAGS])
        print_table("Tasks 1-5: generative against extractive (test error %)",
                    {"generative": generative, args.span_model: span},
                    {"generative": generative_minutes, args.span_model: span_minutes})
    if "late" in parts:
        errors, minutes = run_tasks("tasks6-10", range(6, 11), work_dir, args.seed)
        print_table("Tasks 6-10 alone, generative (test error %)", {"preset": errors},
                    {"preset": minutes})


if __name__ == "__main__":
    main()
