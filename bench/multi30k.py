"""Multi30k German -> English quality benchmark, through the NMT recipe as a user runs it.

Trains with a flagfile preset, translates test_2016_flickr with `--mode=predict`, and
reports sacreBLEU on the detokenized output with `lowercase=True` against the raw
references (the published Multi30k numbers are on lowercased text), plus the wall-clock
training time.

    python bench/multi30k.py                       # the Transformer preset
    python bench/multi30k.py --preset=nmt_multi30k_lstm
    python bench/multi30k.py --batch_size=64    # any other flag goes to the recipe
    python bench/multi30k.py --skip_training --length_penalty=1.0   # re-score a trained run

Needs ../shared/data/multi30k (see its README); exits with a message when it is absent.
"""

import argparse
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "multi30k"


def recipe(flagfile, *flags, capture=False):
    command = [sys.executable, "-m", "recipes.nmt", f"--flagfile={flagfile}", *flags]
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, check=True, text=True,
                          stdout=subprocess.PIPE if capture else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="nmt_multi30k")
    parser.add_argument("--skip_training", action="store_true",
                        help="decode and score the preset's trained model_dir as it is")
    args, extra = parser.parse_known_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the shared Multi30k corpus.")
    import sacrebleu

    flagfile = ROOT / "recipes" / "configs" / f"{args.preset}.flags"
    training = ""
    if not args.skip_training:
        started = time.time()
        recipe(flagfile, "--mode=train", *extra)
        training = f", training {(time.time() - started) / 60:.1f} min"

    source = DATA / "test_2016_flickr.de"
    references = (DATA / "test_2016_flickr.en").read_text(encoding="utf-8").splitlines()
    started = time.time()
    output = recipe(flagfile, "--mode=predict", f"--input={source}", *extra,
                    capture=True).stdout.splitlines()
    decode_seconds = time.time() - started
    if len(output) != len(references):
        sys.exit(f"got {len(output)} translations for {len(references)} references")

    bleu = sacrebleu.metrics.BLEU(lowercase=True)
    score = bleu.corpus_score(output, [references])
    print(f"\n{args.preset}: test_2016_flickr BLEU {score.score:.1f} "
          f"({bleu.get_signature()}){training}, "
          f"decoding 1,000 sentences {decode_seconds:.0f} s (process start included)")


if __name__ == "__main__":
    main()
