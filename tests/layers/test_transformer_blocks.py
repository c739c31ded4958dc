"""TransformerEncoderBlock and TransformerDecoderBlock (post- and pre-layer-norm)."""

import keras
import numpy as np
import pytest

from layers import reference
from layers.harness import (
    check_all_finite,
    check_causal_no_leak,
    check_padding_invariance,
    run_layer_test,
    to_numpy,
)
from zoo.layers import TransformerDecoderBlock, TransformerEncoder, TransformerEncoderBlock
from zoo.layers.masking import keras_mask

B, T, S, D, H, FF = 2, 5, 4, 8, 2, 16
EPS = 1e-5


def _sequences(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, D)).astype("float32"), rng.normal(size=(B, S, D)).astype(
        "float32")


def _sublayer_reference(block, name, x, attend):
    """The residual wiring of one sublayer, in NumPy."""
    norm = reference.weights_of(getattr(block, f"{name}_norm"))

    def layer_norm(h):
        return reference.layer_norm(h, norm["gamma"], norm["beta"], EPS)

    if block.norm_first:
        out, scores = attend(layer_norm(x))
        return x + out, scores
    out, scores = attend(x)
    return layer_norm(x + out), scores


def _feedforward_reference(block, x):
    inner = reference.weights_of(block.feedforward_intermediate)
    outer = reference.weights_of(block.feedforward_output)
    return _sublayer_reference(
        block, "feedforward", x,
        lambda h: (np.maximum(h @ inner["kernel"] + inner["bias"], 0.0) @ outer["kernel"]
                   + outer["bias"], None),
    )[0]


def _encoder_reference(block, data, padding=None):
    x = np.asarray(data["inputs"], "float64")
    allowed = reference.attention_allowed(B, T, T, padding, padding)
    attention = reference.weights_of(block.self_attention_layer)
    x, scores = _sublayer_reference(
        block, "self_attention", x,
        lambda h: reference.multi_head_attention(attention, h, h, allowed=allowed))
    return _feedforward_reference(block, x), scores


def _decoder_reference(block, data, target_padding=None, source_padding=None):
    y = np.asarray(data["decoder_sequence"], "float64")
    memory = np.asarray(data["encoder_sequence"], "float64")
    self_allowed = reference.attention_allowed(B, T, T, target_padding, target_padding,
                                               causal=True)
    cross_allowed = reference.attention_allowed(B, T, S, target_padding, source_padding)
    self_w = reference.weights_of(block.self_attention_layer)
    cross_w = reference.weights_of(block.cross_attention_layer)
    y, self_scores = _sublayer_reference(
        block, "self_attention", y,
        lambda h: reference.multi_head_attention(self_w, h, h, allowed=self_allowed))
    y, cross_scores = _sublayer_reference(
        block, "cross_attention", y,
        lambda h: reference.multi_head_attention(cross_w, h, memory, allowed=cross_allowed))
    return _feedforward_reference(block, y), {"self": self_scores, "cross": cross_scores}


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_harness(norm_first):
    x, _ = _sequences()
    run_layer_test(
        TransformerEncoderBlock,
        init_kwargs={"num_heads": H, "intermediate_dim": FF, "dropout": 0.1,
                     "norm_first": norm_first},
        input_data={"inputs": x},
        call_kwargs={"return_attention_scores": True},
        expected_output_shape=((B, T, D), (B, H, T, T)),
        reference=_encoder_reference,
        float32_outputs=(1,),
        run_training_test=not norm_first,
        run_mixed_precision_test=norm_first,
        mixed_precision_atol=0.25,
    )


def _stack_reference(stack, input_data):
    """The stack is its blocks applied in turn (then the final norm when pre-norm)."""
    x, scores = input_data["inputs"], []
    mask = input_data["attention_mask"]
    for block in stack.blocks:
        x, block_scores = (to_numpy(o) for o in block(
            x, attention_mask=mask, return_attention_scores=True))
        scores.append(block_scores)
    if stack.final_norm is not None:
        x = to_numpy(stack.final_norm(x))
    return x, scores


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_harness(norm_first):
    x, _ = _sequences()
    padding = np.array([[True] * T, [True] * (T - 2) + [False] * 2])
    stack = run_layer_test(
        TransformerEncoder,
        init_kwargs={"num_layers": 2, "num_heads": H, "intermediate_dim": FF, "dropout": 0.1,
                     "norm_first": norm_first},
        input_data={"inputs": x, "attention_mask": padding[:, None, :]},
        call_kwargs={"return_attention_scores": True},
        expected_output_shape=((B, T, D), [(B, H, T, T)] * 2),
        reference=_stack_reference,
        float32_outputs=(1, 2),  # the scores of both blocks
        run_training_test=not norm_first,
        run_mixed_precision_test=norm_first,
        mixed_precision_atol=0.25,
    )
    assert len(stack.blocks) == 2 and (stack.final_norm is not None) == norm_first


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_harness(norm_first):
    y, memory = _sequences()
    run_layer_test(
        TransformerDecoderBlock,
        init_kwargs={"num_heads": H, "intermediate_dim": FF, "attention_dropout": 0.1,
                     "norm_first": norm_first},
        input_data={"decoder_sequence": y, "encoder_sequence": memory},
        call_kwargs={"return_attention_scores": True},
        expected_output_shape=((B, T, D), {"self": (B, H, T, T), "cross": (B, H, T, S)}),
        reference=_decoder_reference,
        float32_outputs=(1, 2),
        run_training_test=not norm_first,
        run_mixed_precision_test=norm_first,
        mixed_precision_atol=0.25,
    )


def test_keras_padding_masks_and_padding_invariance():
    target_ids = np.array([[3, 4, 5, 6, 0], [7, 8, 0, 0, 0]])
    source_ids = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    embed = keras.layers.Embedding(10, D, mask_zero=True)
    encoder = TransformerEncoderBlock(H, FF, norm_first=True)
    decoder = TransformerDecoderBlock(H, FF)
    memory = encoder(embed(source_ids))
    np.testing.assert_array_equal(to_numpy(keras_mask(memory)), source_ids != 0)
    out = decoder(embed(target_ids), memory)
    np.testing.assert_array_equal(to_numpy(keras_mask(out)), target_ids != 0)
    check_all_finite(out)
    expected, _ = _decoder_reference(
        decoder, {"decoder_sequence": to_numpy(embed(target_ids)),
                  "encoder_sequence": to_numpy(memory)},
        target_ids != 0, source_ids != 0)
    real = target_ids != 0
    np.testing.assert_allclose(to_numpy(out)[real], expected[real], atol=1e-4)

    x, _ = _sequences()
    check_padding_invariance(
        run=lambda data: encoder(**data, return_attention_scores=True),
        real={"inputs": x},
        padded={"inputs": np.concatenate([x, np.full((B, 2, D), 3.0, "float32")], 1),
                "attention_mask": (np.arange(T + 2) < T)[None, None, :].repeat(B, 0)},
        slice_real=lambda out: (out[0][:, :T], out[1][:, :, :T, :T]),
        atol=1e-4,
    )


def test_decoder_is_causal_and_decoder_only_block_works():
    y, memory = _sequences()
    block = TransformerDecoderBlock(H, FF)
    check_causal_no_leak(lambda seq: block(seq, memory), y, perturb_from=3, atol=1e-4)
    decoder_only = TransformerDecoderBlock(H, FF, cross_attention=False, norm_first=True)
    out, scores = decoder_only(y, return_attention_scores=True)
    assert tuple(out.shape) == (B, T, D) and set(scores) == {"self"}
    check_causal_no_leak(lambda seq: decoder_only(seq), y, perturb_from=2, atol=1e-4)


def _empty_cache():
    """A `(keys, values)` self-attention cache of T positions."""
    return tuple(np.zeros((B, H, T, D // H), "float32") for _ in range(2))


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_decoding_equals_the_full_computation(norm_first):
    y, memory = _sequences()
    source_keep = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)[:, None, :]
    block = TransformerDecoderBlock(H, FF, norm_first=norm_first)
    full, full_scores = block(y, memory, encoder_attention_mask=source_keep,
                              return_attention_scores=True)
    cross = block.compute_cross_attention_cache(memory)
    assert [tuple(t.shape) for t in cross] == [(B, H, S, D // H)] * 2
    cache = _empty_cache()
    for step in range(T):
        out, cache, cross, scores = block(
            y[:, step:step + 1], self_attention_cache=cache,
            self_attention_cache_update_index=step, cross_attention_cache=cross,
            encoder_attention_mask=source_keep, return_attention_scores=True)
        np.testing.assert_allclose(to_numpy(out)[:, 0], to_numpy(full)[:, step], atol=1e-4)
        np.testing.assert_allclose(to_numpy(scores["cross"])[:, :, 0],
                                   to_numpy(full_scores["cross"])[:, :, step], atol=1e-5)
        assert tuple(scores["self"].shape) == (B, H, 1, T)
    # Passing the encoder sequence instead computes (and returns) the cross cache.
    out, cache, computed = block(y[:, :1], memory, self_attention_cache=_empty_cache(),
                                 self_attention_cache_update_index=0,
                                 encoder_attention_mask=source_keep)
    for a, b in zip(computed, cross, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)
    np.testing.assert_allclose(to_numpy(out)[:, 0], to_numpy(full)[:, 0], atol=1e-4)


def test_bad_arguments_raise_clear_errors():
    y, memory = _sequences()
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        TransformerEncoderBlock(3, FF)(y)
    block = TransformerDecoderBlock(H, FF)
    with pytest.raises(ValueError, match="needs `encoder_sequence`"):
        block(y)
    with pytest.raises(ValueError, match="self_attention_cache_update_index"):
        block(y[:, :1], memory, self_attention_cache=_empty_cache())
    with pytest.raises(ValueError, match="cross_attention=False"):
        TransformerDecoderBlock(H, FF, cross_attention=False).compute_cross_attention_cache(
            memory)
