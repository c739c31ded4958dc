"""Plain NumPy implementations of the layers' formulas, fed with the layers' own weights."""

import math

import numpy as np


def weights_of(layer):
    """`{variable name: float64 array}` (names without the layer path)."""
    return {v.name: np.asarray(v.numpy() if hasattr(v, "numpy") else v, "float64")
            for v in layer.weights}


def masked_softmax(scores, allowed=None):
    """Softmax over the last axis; disallowed entries get 0, rows with nothing allowed 0."""
    scores = np.asarray(scores, "float64")
    if allowed is None:
        allowed = np.ones_like(scores, dtype=bool)
    allowed = np.broadcast_to(allowed, scores.shape)
    shifted = np.where(allowed, scores, -np.inf)
    row_max = np.max(np.where(allowed, scores, -1e300), axis=-1, keepdims=True)
    exp = np.where(allowed, np.exp(shifted - row_max), 0.0)
    total = exp.sum(-1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)


def attention_allowed(batch, tq, tv, query_mask=None, value_mask=None, attention_mask=None,
                      causal=False):
    allowed = np.ones((batch, tq, tv), bool)
    if query_mask is not None:
        allowed &= np.asarray(query_mask, bool)[:, :, None]
    if value_mask is not None:
        allowed &= np.asarray(value_mask, bool)[:, None, :]
    if attention_mask is not None:
        allowed &= np.broadcast_to(np.asarray(attention_mask, bool), (batch, tq, tv))
    if causal:
        allowed &= np.tril(np.ones((tq, tv), bool))[None]
    return allowed


def additive_attention(weights, query, value, key=None, allowed=None):
    key = value if key is None else key
    hidden = (query @ weights["query_kernel"])[:, :, None, :] + (key @ weights["key_kernel"])[
        :, None, :, :]
    if "bias" in weights:
        hidden = hidden + weights["bias"]
    scores = np.tanh(hidden) @ weights["score_vector"]
    probs = masked_softmax(scores, allowed)
    return probs @ value, probs


def dot_product_attention(weights, score, query, value, key=None, allowed=None):
    key = value if key is None else key
    if score == "dot":
        scores = query @ key.transpose(0, 2, 1)
    elif score == "scaled_dot":
        scores = query @ key.transpose(0, 2, 1) / math.sqrt(query.shape[-1])
    elif score == "general":
        scores = query @ weights["kernel"] @ key.transpose(0, 2, 1)
    else:  # concat: v^T tanh(W [q; k]) over every (query, key) pair
        tq, tv = query.shape[1], key.shape[1]
        pairs = np.concatenate(
            [np.repeat(query[:, :, None, :], tv, 2), np.repeat(key[:, None, :, :], tq, 1)], -1
        )
        scores = np.tanh(pairs @ weights["kernel"]) @ weights["score_vector"]
    probs = masked_softmax(scores, allowed)
    return probs @ value, probs


def multi_head_attention(weights, query, value, key=None, allowed=None, prefix=""):
    """`(output, probs (b, h, Tq, Tv))`; rows with nothing allowed give zero output."""
    key = value if key is None else key
    w = {name[len(prefix):]: array for name, array in weights.items() if name.startswith(prefix)}

    def project(x, label):
        y = np.einsum("btd,dhk->bthk", x, w[f"{label}_kernel"])
        return y + w[f"{label}_bias"] if f"{label}_bias" in w else y

    q, k, v = project(query, "query"), project(key, "key"), project(value, "value")
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    allowed4 = None if allowed is None else np.asarray(allowed, bool)[:, None]
    probs = masked_softmax(scores, allowed4)
    context = np.einsum("bhqk,bkhd->bqhd", probs, v)
    output = np.einsum("bqhd,hdo->bqo", context, w["output_kernel"])
    if "output_bias" in w:
        output = output + w["output_bias"]
    if allowed is not None:
        output = output * np.broadcast_to(allowed, probs.shape[:1] + probs.shape[2:]).any(
            -1, keepdims=True)
    return output, probs


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def sinusoids(length, dim, start=0, max_wavelength=10000.0):
    positions = np.arange(start, start + length, dtype="float64")[:, None]
    i = np.arange(dim)
    angles = positions / np.power(max_wavelength, (2 * (i // 2)) / dim)
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles))
