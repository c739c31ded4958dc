"""Shared pytest set-up: quiet TensorFlow, a fixed seed, and paths to shared corpora."""

import os
import pathlib

import zoo._quiet  # noqa: F401  (before keras / tensorflow load)

import keras
import pytest

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def shared_data():
    """The `../shared/data` folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def backend():
    return os.environ.get("KERAS_BACKEND", keras.backend.backend())
