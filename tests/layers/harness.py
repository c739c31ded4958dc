"""A shared layer-test harness, in the spirit of keras-hub's `TestCase.run_layer_test`.

`run_layer_test` checks one layer configuration end to end: output structure and shapes,
equality with a NumPy reference computed from the layer's own weights, a
`get_config`/`from_config` round trip and a `.keras` save/load (identical outputs), finite
gradients, a `mixed_bfloat16` run, and a few `model.fit(jit_compile=True)` steps. The smaller
checkers (`check_attention_scores`, `check_padding_invariance`, `check_causal_no_leak`,
`check_all_finite`) are for the property tests. Works under the tensorflow and jax backends.

Reuse it from any test module (the `tests/` folder is on `sys.path`):

    from layers.harness import run_layer_test

    run_layer_test(
        zoo.layers.AttentionPooling,
        init_kwargs={"units": 4},
        input_data={"inputs": np.ones((2, 5, 3), "float32")},
        expected_output_shape=(2, 3),
    )
"""

import inspect
import os

import keras
import numpy as np
from keras import ops


def to_numpy(structure):
    """Converts every tensor in a nested structure to a NumPy array (bfloat16 to float32)."""

    def convert(x):
        if x is None or isinstance(x, (int, float, bool, str)):
            return x
        if hasattr(x, "dtype") and "bfloat16" in str(x.dtype):
            x = ops.cast(x, "float32")
        return ops.convert_to_numpy(x)

    return keras.tree.map_structure(convert, structure)


def shapes_of(structure):
    return keras.tree.map_structure(lambda x: tuple(x.shape), structure)


def call_layer(layer, input_data, call_kwargs=None, training=None):
    """`layer(**input_data, **call_kwargs)`; `training` is passed only when given."""
    kwargs = dict(call_kwargs or {})
    if training is not None:
        kwargs["training"] = training
    return layer(**input_data, **kwargs)


def copy_weights(source, target):
    target.set_weights(source.get_weights())


def assert_allclose(actual, expected, atol=1e-5, rtol=1e-5, message=""):
    # Compared flat: a functional model returns a list where the layer returns a tuple.
    actual, expected = keras.tree.flatten(to_numpy(actual)), keras.tree.flatten(to_numpy(expected))
    assert len(actual) == len(expected), f"{len(actual)} outputs, expected {len(expected)}"
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=message)


def check_all_finite(structure, what="output"):
    for array in keras.tree.flatten(to_numpy(structure)):
        if array is not None:
            assert np.all(np.isfinite(array)), f"{what} has NaN or Inf values"


def check_attention_scores(scores, allowed=None, atol=1e-5):
    """Scores are non-negative, zero where not allowed, and sum to 1 over allowed keys.

    Args:
        scores: `(..., Tq, Tv)` attention weights.
        allowed: boolean array broadcastable to `scores` (True = may attend), or None. Rows
            with no allowed key must be all zeros.
    """
    scores = to_numpy(scores).astype("float64")
    assert np.all(scores >= 0.0), "attention scores must be non-negative"
    if allowed is None:
        allowed = np.ones_like(scores, dtype=bool)
    allowed = np.broadcast_to(np.asarray(allowed, bool), scores.shape)
    assert np.all(scores[~allowed] == 0.0), "masked keys must get exactly zero weight"
    row_sums = scores.sum(-1)
    expected = allowed.any(-1).astype("float64")  # 1 for rows with keys, 0 for none
    np.testing.assert_allclose(row_sums, expected, atol=atol, err_msg="score row sums")


def check_padding_invariance(run, real, padded, slice_real, atol=1e-5):
    """Appending padded positions changes no output at the real positions.

    Args:
        run: `inputs -> outputs` (nested structure of tensors).
        real: the inputs without padding.
        padded: the same inputs with padded positions appended (and masked).
        slice_real: `(outputs_of_padded) -> outputs restricted to the real positions`.
    """
    assert_allclose(slice_real(run(padded)), run(real), atol=atol, rtol=atol,
                    message="padding changed outputs at real positions")


def check_causal_no_leak(run, sequence, perturb_from, time_axis=1, atol=1e-5, seed=0):
    """Changing positions `>= perturb_from` changes no output before `perturb_from`.

    Args:
        run: `sequence -> output` with time on `time_axis`.
        sequence: a float or int NumPy array with time on `time_axis`.
        perturb_from: the first position to change.
    """
    rng = np.random.default_rng(seed)
    changed = np.array(sequence, copy=True)
    index = [slice(None)] * changed.ndim
    index[time_axis] = slice(perturb_from, None)
    future = changed[tuple(index)]
    if np.issubdtype(changed.dtype, np.integer):
        changed[tuple(index)] = np.where(future > 0, (future % 7) + 1, future)
    else:
        changed[tuple(index)] = future + rng.normal(size=future.shape).astype(changed.dtype)
    before = to_numpy(run(sequence))
    after = to_numpy(run(changed))
    index_past = [slice(None)] * before.ndim
    index_past[time_axis] = slice(0, perturb_from)
    np.testing.assert_allclose(
        after[tuple(index_past)], before[tuple(index_past)], atol=atol,
        err_msg="a future position changed a past output",
    )


def gradients(layer, input_data, call_kwargs=None, reduce=None):
    """Gradients of `sum(first output)` (or `reduce(outputs)`) w.r.t. the trainable weights.

    Returns a list of NumPy arrays, one per `layer.trainable_variables`.
    """
    reduce = reduce or (lambda outputs: ops.sum(ops.cast(keras.tree.flatten(outputs)[0],
                                                         "float32")))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = reduce(call_layer(layer, input_data, call_kwargs, training=True))
        grads = tape.gradient(loss, layer.trainable_variables)
    elif backend == "jax":
        import jax

        kwargs = dict(call_kwargs or {})
        if "training" in inspect.signature(layer.call).parameters:
            kwargs["training"] = True

        def loss_fn(trainable):
            outputs, _ = layer.stateless_call(
                trainable, [v.value for v in layer.non_trainable_variables],
                **input_data, **kwargs,
            )
            return reduce(outputs)

        grads = jax.grad(loss_fn)([v.value for v in layer.trainable_variables])
    elif backend == "torch":
        for v in layer.trainable_variables:
            v.value.grad = None
        loss = reduce(call_layer(layer, input_data, call_kwargs, training=True))
        loss.backward()
        grads = [v.value.grad for v in layer.trainable_variables]
    else:
        raise NotImplementedError(f"gradients() does not support the {backend} backend")
    return [None if g is None else to_numpy(g) for g in grads]


def _symbolic_call(layer, input_data, call_kwargs):
    """`(inputs, outputs)` of the layer called on `keras.Input`s like `input_data`."""
    inputs = {
        name: keras.Input(shape=array.shape[1:], batch_size=array.shape[0],
                          dtype=str(array.dtype), name=name)
        for name, array in input_data.items()
    }
    return inputs, layer(**inputs, **(call_kwargs or {}))


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    call_kwargs=None,
    expected_output_shape=None,
    reference=None,
    atol=1e-5,
    run_saving_test=True,
    run_training_test=True,
    run_gradient_test=True,
    run_mixed_precision_test=True,
    mixed_precision_atol=0.1,
    float32_outputs=(),
):
    """Runs the standard checks on one layer configuration and returns the built layer.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: dict `call argument name -> NumPy array` (the tensor arguments).
        call_kwargs: other call arguments (Python values).
        expected_output_shape: a shape tuple, or a nested structure of them.
        reference: `(layer, input_data) -> expected outputs` in NumPy from the layer's
            weights (same structure as the output), or None.
        atol: tolerance for the reference and round-trip comparisons.
        run_saving_test: check `get_config`/`from_config` and `.keras` save/load.
        run_training_test: fit a few steps with `jit_compile=True` (needs weights).
        run_gradient_test: gradients exist and are finite for every trainable weight.
        run_mixed_precision_test: run under `mixed_bfloat16` and compare with float32.
        mixed_precision_atol: tolerance of the bfloat16 comparison.
        float32_outputs: indices of flattened outputs that stay float32 under mixed
            precision (e.g. attention scores, logits).
    """
    layer = layer_cls(**init_kwargs)
    outputs = call_layer(layer, input_data, call_kwargs)
    check_all_finite(outputs)
    if expected_output_shape is not None:
        assert shapes_of(outputs) == expected_output_shape, (
            f"output shapes {shapes_of(outputs)} != expected {expected_output_shape}"
        )
    if reference is not None:
        assert_allclose(outputs, reference(layer, input_data), atol=atol, rtol=atol,
                        message="layer disagrees with its NumPy reference")
    # Inference is deterministic even with dropout configured.
    assert_allclose(call_layer(layer, input_data, call_kwargs, training=False),
                    call_layer(layer, input_data, call_kwargs, training=False), atol=0)

    if run_saving_test:
        _check_config_round_trip(layer, input_data, call_kwargs, atol)
        _check_keras_file_round_trip(layer, input_data, call_kwargs, atol)
    if run_gradient_test and layer.trainable_variables:
        grads = gradients(layer, input_data, call_kwargs)
        for variable, grad in zip(layer.trainable_variables, grads):
            assert grad is not None, f"no gradient for {variable.path}"
            assert np.all(np.isfinite(grad)), f"non-finite gradient for {variable.path}"
    if run_mixed_precision_test:
        _check_mixed_precision(layer, layer_cls, init_kwargs, input_data, call_kwargs,
                               mixed_precision_atol, float32_outputs)
    if run_training_test and layer.trainable_variables:
        _check_fit(layer_cls, init_kwargs, input_data, call_kwargs)
    return layer


def _check_config_round_trip(layer, input_data, call_kwargs, atol):
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config, "get_config() changed after from_config()"
    call_layer(clone, input_data, call_kwargs)  # build
    copy_weights(layer, clone)
    assert_allclose(call_layer(clone, input_data, call_kwargs),
                    call_layer(layer, input_data, call_kwargs), atol=atol,
                    message="from_config clone differs")


def _check_keras_file_round_trip(layer, input_data, call_kwargs, atol, tmp_dir=None):
    import tempfile

    model = keras.Model(*_symbolic_call(layer, input_data, call_kwargs))
    with tempfile.TemporaryDirectory(dir=tmp_dir) as folder:
        path = os.path.join(folder, "layer.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    assert_allclose(restored(input_data), model(input_data), atol=atol,
                    message=".keras save/load changed the outputs")


def _check_mixed_precision(layer, layer_cls, init_kwargs, input_data, call_kwargs, atol,
                           float32_outputs):
    expected = to_numpy(call_layer(layer, input_data, call_kwargs))
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = layer_cls(**init_kwargs)
        call_layer(mixed, input_data, call_kwargs)
        copy_weights(layer, mixed)
        outputs = call_layer(mixed, input_data, call_kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    flat = keras.tree.flatten(outputs)
    for index, tensor in enumerate(flat):
        want = "float32" if index in float32_outputs else "bfloat16"
        if "float" in str(tensor.dtype):
            assert want in str(tensor.dtype), (
                f"output {index} is {tensor.dtype} under mixed_bfloat16, expected {want}"
            )
    check_all_finite(outputs, "mixed_bfloat16 output")
    assert_allclose(outputs, expected, atol=atol, rtol=atol,
                    message="mixed_bfloat16 result far from float32")


def _check_fit(layer_cls, init_kwargs, input_data, call_kwargs, steps=2):
    layer = layer_cls(**init_kwargs)
    inputs, outputs = _symbolic_call(layer, input_data, call_kwargs)
    model = keras.Model(inputs, keras.tree.flatten(outputs)[0])
    targets = np.random.default_rng(0).normal(size=model.output.shape).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=True)
    before = [np.array(w) for w in model.get_weights()]
    history = model.fit(input_data, targets, batch_size=targets.shape[0], epochs=steps,
                        verbose=0)
    assert np.all(np.isfinite(history.history["loss"])), "fit produced a non-finite loss"
    after = model.get_weights()
    assert any(not np.allclose(b, a) for b, a in zip(before, after)), "fit changed no weight"
