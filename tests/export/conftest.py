"""Fixtures of the export tests: tiny tokenizers, a tiny seq2seq model, one export.

The export is written once per session (tracing beam search takes seconds) and the tests
only read it.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import zoo.export
import zoo.models
import zoo.text

SOURCE_TEXTS = [
    "the house is small .", "the cat sat on the mat .", "a small cat and a big house .",
    "where is the station ?", "it is raining today , isn't it ?", "Das Haus ist klein.",
    "東京は日本の首都です。", "café, naïve, résumé",
]
TARGET_TEXTS = [
    "das haus ist klein .", "die katze saß auf der matte .",
    "eine kleine katze und ein großes haus .", "wo ist der bahnhof ?",
    "es regnet heute , nicht wahr ?", "the house is small.", "tokyo is japan's capital.",
    "cafe, naive, resume",
]
# Serving-time inputs: ordinary, empty, whitespace only, longer than the model's
# max_length, non-Latin, invalid UTF-8, unknown characters.
SERVING_INPUTS = [
    b"the small house .", b"", b"   \t ", b" ".join([b"the cat sat on the mat ."] * 30),
    "東京の猫".encode(), b"caf\xc3 \xff bad bytes", "emoji 😀 ✈".encode(), b"WHERE is it?",
]
TINY_TRANSFORMER = dict(num_layers=1, d_model=16, num_heads=2, intermediate_dim=32,
                        dropout=0.0, max_length=24)
EXPORT_KWARGS = dict(beam_size=3, length_penalty=0.6, max_source_length=20,
                     max_target_length=12)
BLOCKED_MODULES = ("keras", "keras_hub", "keras_nlp", "tensorflow_text", "zoo")


def _tokenizer(texts, lowercase):
    dataset = tf.data.Dataset.from_tensor_slices(texts)
    return zoo.text.train_subword_tokenizer(dataset, vocab_size=120, lowercase=lowercase,
                                          progress=False)


@pytest.fixture(scope="session")
def tokenizers():
    return _tokenizer(SOURCE_TEXTS, lowercase=True), _tokenizer(TARGET_TEXTS, False)


def build_seq2seq(name, tokenizers, **overrides):
    source, target = tokenizers
    model = zoo.models.build(name, source_vocab_size=source.vocabulary_size,
                             target_vocab_size=target.vocabulary_size, **overrides)
    model((np.ones((1, 3), "int32"), np.ones((1, 2), "int32")))
    return model


def randomize_weights(model, seed=7, stddev=0.5):
    """Large random weights: an untrained tiny model whose outputs differ per input."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, stddev, weight.shape).astype(weight.dtype))
    return model


@pytest.fixture(scope="session")
def seq2seq_model(tokenizers):
    return randomize_weights(build_seq2seq("transformer_tiny", tokenizers, **TINY_TRANSFORMER))


@pytest.fixture(scope="session")
def export_root(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="session")
def exported(seq2seq_model, tokenizers, export_root):
    """The version directory of the session's seq2seq export."""
    return zoo.export.export_seq2seq(seq2seq_model, *tokenizers, export_dir=str(export_root),
                                     model_name="nmt", **EXPORT_KWARGS)


@pytest.fixture(scope="session")
def reference(seq2seq_model, tokenizers, tmp_path_factory):
    """The Python-side translations of SERVING_INPUTS, from the saved weights."""
    path = str(tmp_path_factory.mktemp("checkpoint") / "model.weights.h5")
    seq2seq_model.save_weights(path)
    restored = build_seq2seq("transformer_tiny", tokenizers, **TINY_TRANSFORMER)
    restored.load_weights(path)
    return zoo.export.reference_translate(restored, *tokenizers, SERVING_INPUTS,
                                          **EXPORT_KWARGS)


@pytest.fixture(name="build_seq2seq", scope="session")
def build_seq2seq_fixture():
    return build_seq2seq


@pytest.fixture(name="randomize_weights", scope="session")
def randomize_weights_fixture():
    return randomize_weights


@pytest.fixture(scope="session")
def serving_inputs():
    return list(SERVING_INPUTS)


@pytest.fixture(scope="session")
def export_kwargs():
    return dict(EXPORT_KWARGS)


@pytest.fixture(scope="session")
def fresh_python():
    """`fresh_python(script, *args)`: runs it where only tensorflow imports; see below."""
    return run_fresh_python


def run_fresh_python(script, *args):
    """Runs `script` in a fresh interpreter where only tensorflow can be imported.

    keras, keras-hub, tensorflow-text and zoo are blocked (importing them raises), so
    whatever the script loads must need none of them. The script prints one JSON value
    as its last stdout line, which is returned.
    """
    prelude = textwrap.dedent(f"""\
        import sys
        for name in {BLOCKED_MODULES!r}:
            sys.modules[name] = None  # `import name` now raises ImportError
        import json
        import tensorflow as tf
        """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
