"""Serving speed: the exported SavedModel vs the in-Python model, batch 1 and 32.

Exports a `transformer_tiny` NMT model (demo date corpus vocabularies, untrained weights:
this measures speed, not quality) with beam search, then times, alternating runs in one
process:

- `saved_model`: `tf.saved_model.load(path).signatures["serving_default"]` on raw strings
  (graph tokenizer, beam search and detokenizer all in the graph);
- `python_eager`: `zoo.export.reference_translate`, the Python-side predict (keras-hub
  tokenizer, eager beam search, detokenize);
- `python_function`: the same serving function as the export, `tf.function`-compiled in
  this process (what `model.predict`-style code gets without exporting).

Run: `python bench/serve.py [--repeats 5]`; prints a Markdown table for bench/README.md.
"""

import argparse
import os
import statistics
import tempfile
import time

import zoo._quiet  # noqa: F401

import numpy as np
import tensorflow as tf

import zoo.data
import zoo.export
import zoo.models
import zoo.text


def build(max_target_length, beam_size):
    splits = zoo.data.load_splits("nmt")
    records = splits.train.take(2000)
    source = zoo.text.train_subword_tokenizer(records.map(lambda r: r["source"]), 1000,
                                              progress=False)
    target = zoo.text.train_subword_tokenizer(records.map(lambda r: r["target"]), 200,
                                              progress=False)
    model = zoo.models.build("transformer_tiny", source_vocab_size=source.vocabulary_size,
                             target_vocab_size=target.vocabulary_size, max_length=64)
    model((np.ones((1, 4), "int32"), np.ones((1, 4), "int32")))
    texts = [r["source"].decode("utf-8")
             for r in splits.validation.take(32).as_numpy_iterator()]
    kwargs = dict(beam_size=beam_size, max_source_length=48,
                  max_target_length=max_target_length)
    return model, source, target, texts, kwargs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--beam_size", type=int, default=4)
    parser.add_argument("--max_target_length", type=int, default=16)
    args = parser.parse_args()

    model, source, target, texts, kwargs = build(args.max_target_length, args.beam_size)
    export_dir = tempfile.mkdtemp()
    started = time.perf_counter()
    path = zoo.export.export_seq2seq(model, source, target, export_dir, "nmt", **kwargs)
    export_seconds = time.perf_counter() - started
    signature = tf.saved_model.load(path).signatures["serving_default"]
    server = zoo.export.Seq2SeqServer(model, source, target, **kwargs)
    compiled = tf.function(server.translate, autograph=False,
                           input_signature=[tf.TensorSpec([None], tf.string)])

    variants = {
        "saved_model": lambda batch: signature(inputs=tf.constant(batch))["outputs"].numpy(),
        "python_eager": lambda batch: zoo.export.reference_translate(
            model, source, target, batch, **kwargs)[0],
        "python_function": lambda batch: compiled(tf.constant(batch))["outputs"].numpy(),
    }
    batches = {1: texts[:1], 32: texts[:32]}
    for batch in batches.values():  # warm-up: traces, caches
        for run in variants.values():
            run(batch)
    seconds = {(name, size): [] for name in variants for size in batches}
    for _ in range(args.repeats):
        for size, batch in batches.items():
            for name, run in variants.items():
                started = time.perf_counter()
                run(batch)
                seconds[(name, size)].append(time.perf_counter() - started)

    print(f"transformer_tiny, beam {args.beam_size}, max_target_length "
          f"{args.max_target_length}, median of {args.repeats} alternating runs; "
          f"export took {export_seconds:.1f} s; {os.cpu_count()} CPU cores\n")
    print("| path | batch | latency (ms) | sentences/s | latency vs saved_model |")
    print("|---|---|---|---|---|")
    for size in batches:
        base = statistics.median(seconds[("saved_model", size)])
        for name in variants:
            median = statistics.median(seconds[(name, size)])
            print(f"| {name} | {size} | {median * 1000:.0f} | {size / median:.1f} | "
                  f"{median / base:.2f}x |")


if __name__ == "__main__":
    main()
