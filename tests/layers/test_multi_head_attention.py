"""MultiHeadAttention: harness, Keras equivalence, masks, and the decoding caches."""

import keras
import numpy as np
import pytest
from keras import ops

from layers import reference
from layers.harness import (
    check_all_finite,
    check_attention_scores,
    check_causal_no_leak,
    check_padding_invariance,
    gradients,
    run_layer_test,
    to_numpy,
)
from zoo.layers import MultiHeadAttention

B, T, S, D, H, K = 2, 5, 4, 8, 2, 4


def _empty_cache(length=T, key_dim=K, value_dim=K, dtype="float32"):
    return (np.zeros((B, H, length, key_dim), dtype), np.zeros((B, H, length, value_dim), dtype))


def _data(seed=0, t=T, s=S, d=D):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, t, d)).astype("float32"), rng.normal(size=(B, s, d)).astype(
        "float32")


def _reference(layer, query, value, key=None, allowed=None):
    return reference.multi_head_attention(
        reference.weights_of(layer), np.asarray(query, "float64"), np.asarray(value, "float64"),
        None if key is None else np.asarray(key, "float64"), allowed,
    )


def test_self_attention_harness():
    x, _ = _data()
    run_layer_test(
        MultiHeadAttention,
        init_kwargs={"num_heads": H, "key_dim": K, "dropout": 0.1},
        input_data={"query": x, "value": x},
        call_kwargs={"use_causal_mask": True, "return_attention_scores": True},
        expected_output_shape=((B, T, D), (B, H, T, T)),
        reference=lambda layer, data: _reference(
            layer, data["query"], data["value"],
            allowed=reference.attention_allowed(B, T, T, causal=True)),
        float32_outputs=(1,),
    )


def test_cross_attention_harness_with_value_dim_and_output_dim():
    x, memory = _data(d=6)
    key = np.random.default_rng(3).normal(size=(B, S, 3)).astype("float32")
    run_layer_test(
        MultiHeadAttention,
        init_kwargs={"num_heads": 3, "key_dim": 2, "value_dim": 5, "output_dim": 7,
                     "use_bias": False},
        input_data={"query": x, "value": memory, "key": key},
        call_kwargs={"return_attention_scores": True},
        expected_output_shape=((B, T, 7), (B, 3, T, S)),
        reference=lambda layer, data: _reference(layer, data["query"], data["value"],
                                                 data["key"]),
        float32_outputs=(1,),
        run_training_test=False,
    )





@pytest.mark.parametrize("causal", [False, True])
def test_matches_keras_multi_head_attention_given_the_same_weights(causal):
    query_ids = np.array([[1, 2, 3, 4, 0], [5, 6, 0, 0, 0]])
    value_ids = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0]])
    embed = keras.layers.Embedding(10, D, mask_zero=True)

    def inputs():  # fresh tensors: Keras' layer deletes the Keras masks of its inputs
        return embed(query_ids), embed(value_ids)

    attention_mask = np.ones((B, T, T), bool)
    attention_mask[0, :, 1] = False
    ours = MultiHeadAttention(H, K)
    theirs = keras.layers.MultiHeadAttention(H, K)
    kwargs = {"attention_mask": attention_mask, "use_causal_mask": causal,
              "return_attention_scores": True}
    theirs(*inputs(), **kwargs)
    ours(*inputs(), **kwargs)
    ours.set_weights(theirs.get_weights())
    out, scores = ours(*inputs(), **kwargs)
    keras_out, keras_scores = theirs(*inputs(), **kwargs)
    allowed = reference.attention_allowed(B, T, T, query_ids != 0, value_ids != 0,
                                          attention_mask, causal)
    rows = allowed.any(-1)  # Keras gives fully masked rows uniform weights; we give zeros.
    np.testing.assert_allclose(to_numpy(out)[rows], to_numpy(keras_out)[rows], atol=1e-5)
    np.testing.assert_allclose(to_numpy(scores).transpose(0, 2, 1, 3)[rows],
                               to_numpy(keras_scores).transpose(0, 2, 1, 3)[rows], atol=1e-5)
    check_attention_scores(scores, allowed[:, None])
    np.testing.assert_array_equal(to_numpy(out)[~rows], 0.0)
    # And back: Keras' layer takes our weights.
    theirs.set_weights([w * 0.5 for w in ours.get_weights()])
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(*inputs(), **kwargs)[0])[rows],
                               to_numpy(theirs(*inputs(), **kwargs)[0])[rows], atol=1e-5)


def test_padding_invariance_and_causal_no_leak():
    layer = MultiHeadAttention(H, K)
    x, memory = _data()
    pad = 3
    x_pad = np.concatenate([x, np.full((B, pad, D), 7.0, "float32")], 1)
    m_pad = np.concatenate([memory, np.full((B, pad, D), -7.0, "float32")], 1)
    check_padding_invariance(
        run=lambda data: layer(**data, return_attention_scores=True),
        real={"query": x, "value": memory},
        padded={"query": x_pad, "value": m_pad,
                "query_mask": np.arange(T + pad)[None].repeat(B, 0) < T,
                "value_mask": np.arange(S + pad)[None].repeat(B, 0) < S},
        slice_real=lambda out: (out[0][:, :T], out[1][:, :, :T, :S]),
    )
    check_causal_no_leak(lambda seq: layer(seq, seq, use_causal_mask=True), x, perturb_from=2)


def test_fully_masked_rows_are_zero_with_finite_gradients():
    layer = MultiHeadAttention(H, K)
    x, memory = _data()
    mask = np.ones((B, T, S), bool)
    mask[0, 1] = False
    mask[1] = False
    call = {"attention_mask": mask, "return_attention_scores": True}
    out, scores = layer(x, memory, **call)
    np.testing.assert_array_equal(to_numpy(out)[0, 1], 0.0)
    np.testing.assert_array_equal(to_numpy(out)[1], 0.0)
    check_attention_scores(scores, mask[:, None])
    for grad in gradients(layer, {"query": x, "value": memory}, call):
        check_all_finite(grad, "gradient")


@pytest.mark.parametrize("norm", ["step", "chunk"])
@pytest.mark.parametrize("value_dim", [K, K + 2])
def test_self_attention_cache_equals_full_causal_attention(norm, value_dim):
    layer = MultiHeadAttention(H, K, value_dim=value_dim)
    x, _ = _data()
    full, full_scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    cache = _empty_cache(value_dim=value_dim)
    outputs = []
    bounds = [(t, t + 1) for t in range(T)] if norm == "step" else [(0, 3), (3, T)]
    for start, end in bounds:
        out, scores, cache = layer(x[:, start:end], x[:, start:end], cache=cache,
                                   cache_update_index=start, return_attention_scores=True)
        assert tuple(scores.shape) == (B, H, end - start, T)
        np.testing.assert_allclose(to_numpy(scores), to_numpy(full_scores)[:, :, start:end],
                                   atol=1e-5)
        outputs.append(to_numpy(out))
    np.testing.assert_allclose(np.concatenate(outputs, 1), to_numpy(full), atol=1e-5)
    # The cache holds exactly the projected keys and values of the whole sequence.
    for cached, projected in zip(cache, layer.compute_key_value_cache(x), strict=True):
        np.testing.assert_allclose(to_numpy(cached), to_numpy(projected), atol=1e-5)


def test_self_attention_cache_honours_attention_mask_for_left_padding():
    layer = MultiHeadAttention(H, K)
    x, _ = _data()
    keep = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool)  # row 0 is left-padded
    full = layer(x, x, use_causal_mask=True, attention_mask=keep[:, None, :])
    cache = _empty_cache()
    for t in range(T):
        out, cache = layer(x[:, t:t + 1], x[:, t:t + 1], cache=cache, cache_update_index=t,
                           attention_mask=keep[:, None, :])
        np.testing.assert_allclose(to_numpy(out)[:, 0], to_numpy(full)[:, t], atol=1e-5)


@pytest.mark.parametrize("value_dim", [K, K + 2])
def test_static_cross_attention_cache(value_dim):
    layer = MultiHeadAttention(H, K, value_dim=value_dim)
    x, memory = _data()
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)[:, None, :]
    full, full_scores = layer(x, memory, attention_mask=mask, return_attention_scores=True)
    cache = layer.compute_key_value_cache(memory)
    assert [tuple(t.shape) for t in cache] == [(B, H, S, K), (B, H, S, value_dim)]
    out, scores, same = layer(x, None, cache=cache, attention_mask=mask,
                              return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(out), to_numpy(full), atol=1e-5)
    np.testing.assert_allclose(to_numpy(scores), to_numpy(full_scores), atol=1e-5)
    # Returned as is: beam search skips reordering the state a step did not change.
    assert all(a is b for a, b in zip(same, cache, strict=True))
    step, _ = layer(x[:, 2:3], None, cache=cache, attention_mask=mask)
    np.testing.assert_allclose(to_numpy(step)[:, 0], to_numpy(full)[:, 2], atol=1e-5)


def _compiled_decode(layer, x):
    """Runs the cached self-attention over `x` inside one compiled `fori_loop`."""

    def body(step, carry):
        cache, outputs = carry
        token = ops.take(x, ops.expand_dims(step, 0), axis=1)
        out, cache = layer(token, token, cache=cache, cache_update_index=step)
        written = ops.reshape(ops.arange(T) == step, (1, T, 1))
        return cache, ops.where(written, out, outputs)

    initial = (tuple(ops.convert_to_tensor(t, layer.compute_dtype) for t in _empty_cache()),
               ops.zeros((B, T, D), layer.compute_dtype))
    return ops.fori_loop(0, T, body, initial)[1]


def test_cache_in_a_compiled_loop_with_a_tensor_index():
    layer = MultiHeadAttention(H, K)
    x, _ = _data()
    full = layer(x, x, use_causal_mask=True)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        for jit in (False, True):
            compiled = tf.function(lambda x: _compiled_decode(layer, x), jit_compile=jit)
            np.testing.assert_allclose(to_numpy(compiled(x)), to_numpy(full), atol=1e-5)
        graph = tf.function(lambda x: _compiled_decode(layer, x)).get_concrete_function(
            tf.TensorSpec(x.shape, "float32")).graph
        ops_used = {op.type for op in graph.get_operations()}
        for function in graph.as_graph_def().library.function:
            ops_used |= {node.op for node in function.node_def}
        assert not [o for o in ops_used if o.startswith("Xla")], "exported graphs need stock ops"
    elif backend == "jax":
        import jax

        compiled = jax.jit(lambda x: _compiled_decode(layer, x))
        np.testing.assert_allclose(to_numpy(compiled(x)), to_numpy(full), atol=1e-5)
    else:
        pytest.skip(f"no compiled-loop check for the {backend} backend")


def test_mixed_precision_cache_and_scores():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = MultiHeadAttention(H, K)
    x, _ = _data()
    out, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    assert "bfloat16" in str(out.dtype) and "float32" in str(scores.dtype)
    # A float32 softmax: rows sum to 1 far more tightly than bfloat16 could (~4e-3).
    check_attention_scores(scores, np.tril(np.ones((T, T), bool)), atol=1e-5)
    out, cache = layer(x[:, :1], x[:, :1], cache=_empty_cache(), cache_update_index=0)
    assert all("bfloat16" in str(t.dtype) for t in cache)
    assert all("bfloat16" in str(t.dtype) for t in layer.compute_key_value_cache(x))


def test_attention_dropout_is_training_only_and_unbiased():
    layer = MultiHeadAttention(H, K, dropout=0.5, seed=7)
    x = np.repeat(_data()[0][:1], 400, axis=0)  # one sequence, 400 independent draws
    inference = to_numpy(layer(x, x, training=False))
    np.testing.assert_array_equal(inference, to_numpy(layer(x, x)))
    samples = to_numpy(layer(x, x, training=True))
    assert not np.allclose(samples[0], samples[1])
    # Inverted dropout keeps the expected output: the mean of many draws approaches it.
    np.testing.assert_allclose(samples.mean(0), inference[0], atol=0.1)


def test_bad_input_errors_name_the_argument():
    x, memory = _data()
    with pytest.raises(ValueError, match="`query` must be rank 3"):
        MultiHeadAttention(H, K)(x[0], memory)
    with pytest.raises(ValueError, match="same batch size"):
        MultiHeadAttention(H, K)(x, memory[:1])
    with pytest.raises(ValueError, match="`key` and `value` must have the same length"):
        MultiHeadAttention(H, K)(x, memory, key=x)
    layer = MultiHeadAttention(H, K)
    with pytest.raises(ValueError, match=r"broadcastable to \(batch, Tq, Tv\) = \(2, 5, 4\)"):
        layer(x, memory, attention_mask=np.ones((B, T, T), bool))
    with pytest.raises(ValueError, match=r"keys .* = \(batch, 2, length, 4\)"):
        layer(x[:, :1], x[:, :1], cache=_empty_cache(key_dim=K + 1), cache_update_index=0)
    keys, values = _empty_cache()
    with pytest.raises(ValueError, match=r"received \[\(2, 2, 5, 4\), \(2, 2, 4, 4\)\]"):
        layer(x[:, :1], x[:, :1], cache=(keys, values[:, :, :4]), cache_update_index=0)
    with pytest.raises(ValueError, match=r"pair.*received one tensor of shape \(2, 2, 2, 5, 4\)"):
        layer(x[:, :1], x[:, :1], cache=np.zeros((B, 2, H, T, K), "float32"),
              cache_update_index=0)
    with pytest.raises(ValueError, match="not built"):
        MultiHeadAttention(H, K).compute_key_value_cache(memory)
