"""Multi-head scaled dot-product attention with key/value caches for incremental decoding."""

import math

import keras
from keras import ops

from zoo.layers import masking


@keras.saving.register_keras_serializable(package="zoo")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention (Vaswani et al., 2017) with decoding caches.

    Same call contract as `keras.layers.MultiHeadAttention`; scores are float32
    `(batch, heads, Tq, Tv)` and computed with a float32 softmax under mixed precision. A
    query that may attend to no key gets zero weights and a zero output row.

    Weights have `keras.layers.MultiHeadAttention`'s shapes and order (query, key, value
    kernels `(d, heads, head_dim)` and biases `(heads, head_dim)`, output kernel
    `(heads, head_dim, output_dim)` and bias), so `layer.set_weights(keras_layer.get_weights())`
    copies a Keras layer (and back). Self-attention fuses the three input projections into
    one matmul at call time; the stored weights stay separate. Dropout on the attention
    weights draws one mask per (batch, query, key) shared by all heads (a cheaper variant of
    per-element dropout; the expected output is unchanged), see `masking.attention_dropout`.

    Incremental decoding:
    - Self-attention: pass `cache`, a `(keys, values)` pair of `(batch, heads, max_length,
      key_dim)` and `(batch, heads, max_length, value_dim)` tensors (zeros to start; the
      layout of Hugging Face's `past_key_values`: head-major, so a decoding step attends
      without transposing, and two tensors, so it attends without slicing them out of one),
      and `cache_update_index` (int or int scalar tensor). The `T` new query/key/value
      positions are written at `cache_update_index .. cache_update_index + T - 1` (a
      position mask and `where`, no `slice_update`), each query attends to cache positions
      up to its own, and the call returns `(output, new_cache)` (or `(output, scores,
      new_cache)`). `use_causal_mask` and the `value` padding mask are implied / ignored in
      this mode; pass `attention_mask` `(batch, T, max_length)` to hide cached positions
      (e.g. left padding).
    - Cross-attention: `compute_key_value_cache(value)` projects the memory once; calling
      with `cache=that` and `cache_update_index=None` reuses it (`value` may be None) and
      returns `(output, cache)`.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default `key_dim`).
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether the projections have biases.
        output_dim: size of the output (default: the query's feature size).
        seed: seed for the dropout.

    Example:

    >>> import numpy as np
    >>> from zoo.layers import MultiHeadAttention
    >>> layer = MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(3, 5, 8).astype("float32")
    >>> out, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((3, 5, 8), (3, 2, 5, 5))
    >>> cache = (np.zeros((3, 2, 5, 4), "float32"), np.zeros((3, 2, 5, 4), "float32"))
    >>> step_out, cache = layer(x[:, :1], x[:, :1], cache=cache, cache_update_index=0)
    >>> bool(np.allclose(step_out, out[:, :1], atol=1e-5))
    True
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.seed = seed
        self.supports_masking = True
        self._seed_generator = keras.random.SeedGenerator(seed) if self.dropout > 0 else None

    def build(self, query_shape, value_shape=None, key_shape=None):
        name = "MultiHeadAttention"
        if value_shape is None:
            raise ValueError(
                f"{name}: cannot build without `value`: call the layer once with `value`, or "
                "`layer.build(query_shape, value_shape)`, before using a static cache."
            )
        key_shape = value_shape if key_shape is None else key_shape
        for argument, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"{name}: `{argument}` must be rank 3, (batch, time, features); "
                    f"received shape {tuple(shape)}."
                )
            if shape[-1] is None:
                raise ValueError(f"{name}: the feature size of `{argument}` must be known.")
        if None not in (query_shape[0], value_shape[0]) and query_shape[0] != value_shape[0]:
            raise ValueError(
                f"{name}: `query` and `value` must have the same batch size; received "
                f"{query_shape[0]} and {value_shape[0]}."
            )
        if None not in (key_shape[1], value_shape[1]) and key_shape[1] != value_shape[1]:
            raise ValueError(
                f"{name}: `key` and `value` must have the same length (batch, Tv, ...); "
                f"received {key_shape[1]} and {value_shape[1]}."
            )
        heads, output_dim = self.num_heads, self.output_dim or query_shape[-1]

        def projection(label, input_dim, head_dim):
            kernel = self.add_weight(
                name=f"{label}_kernel", shape=(input_dim, heads, head_dim),
                initializer="glorot_uniform",
            )
            bias = (
                self.add_weight(name=f"{label}_bias", shape=(heads, head_dim), initializer="zeros")
                if self.use_bias
                else None
            )
            return kernel, bias

        self.query_kernel, self.query_bias = projection("query", query_shape[-1], self.key_dim)
        self.key_kernel, self.key_bias = projection("key", key_shape[-1], self.key_dim)
        self.value_kernel, self.value_bias = projection("value", value_shape[-1], self.value_dim)
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(heads, self.value_dim, output_dim),
            initializer="glorot_uniform",
        )
        self.output_bias = (
            self.add_weight(name="output_bias", shape=(output_dim,), initializer="zeros")
            if self.use_bias
            else None
        )

    # ---------------------------------------------------------------- projections

    def _project(self, x, kernel, bias):
        """`(b, T, d) -> (b, T, heads, head_dim)`."""
        input_dim, heads, head_dim = kernel.shape
        # Casts are no-ops inside `__call__` (autocast); they matter for
        # `compute_key_value_cache` under mixed precision.
        y = ops.matmul(x, ops.cast(ops.reshape(kernel, (input_dim, heads * head_dim)), x.dtype))
        if bias is not None:
            y = y + ops.cast(ops.reshape(bias, (heads * head_dim,)), x.dtype)
        return ops.reshape(y, ops.shape(y)[:-1] + (heads, head_dim))

    def _project_self(self, x):
        """Query, key and value of `x` in one matmul (self-attention)."""
        kernels = [self.query_kernel, self.key_kernel, self.value_kernel]
        input_dim = kernels[0].shape[0]
        sizes = [k.shape[1] * k.shape[2] for k in kernels]
        fused = ops.concatenate([ops.reshape(k, (input_dim, s)) for k, s in zip(kernels, sizes)], 1)
        y = ops.matmul(x, fused)
        if self.use_bias:
            biases = [self.query_bias, self.key_bias, self.value_bias]
            y = y + ops.concatenate([ops.reshape(b, (s,)) for b, s in zip(biases, sizes)], 0)
        q, k, v = ops.split(y, [sizes[0], sizes[0] + sizes[1]], axis=-1)
        lead = ops.shape(x)[:-1]
        return (
            ops.reshape(q, lead + (self.num_heads, self.key_dim)),
            ops.reshape(k, lead + (self.num_heads, self.key_dim)),
            ops.reshape(v, lead + (self.num_heads, self.value_dim)),
        )

    def _project_output(self, context):
        """`(b, Tq, heads, value_dim) -> (b, Tq, output_dim)`."""
        heads, head_dim, output_dim = self.output_kernel.shape
        context = ops.reshape(context, ops.shape(context)[:-2] + (heads * head_dim,))
        y = ops.matmul(context, ops.reshape(self.output_kernel, (heads * head_dim, output_dim)))
        if self.output_bias is not None:
            y = y + self.output_bias
        return y

    def compute_key_value_cache(self, value, key=None):
        """Projects a memory once for cross-attention: `(keys, values)`, `(batch, heads, Tv, dim)`.

        Args:
            value: `(batch, Tv, dv)` memory (e.g. encoder outputs).
            key: `(batch, Tv, dk)`, default `value`.
        """
        if not self.built:
            raise ValueError(
                "MultiHeadAttention.compute_key_value_cache: the layer is not built; call it "
                "once or `layer.build(query_shape, value_shape)` first."
            )
        key = value if key is None else key
        value = ops.cast(value, self.compute_dtype)
        key = ops.cast(key, self.compute_dtype)
        keys = self._project(key, self.key_kernel, self.key_bias)
        values = self._project(value, self.value_kernel, self.value_bias)
        return _heads_first(keys), _heads_first(values)

    def _check_cache(self, cache):
        """Returns `cache` as a `(keys, values)` tuple in the compute dtype, or raises."""
        pair = isinstance(cache, (tuple, list)) and len(cache) == 2
        shapes = [tuple(ops.shape(t)) for t in cache] if pair else []
        keys_shape = shapes[0] if shapes else ()
        # Values share the keys' batch and length (checked where both are static).
        batch, length = (keys_shape[0], keys_shape[2]) if len(keys_shape) == 4 else (None, None)
        expected = [(None, self.num_heads, None, self.key_dim),
                    (batch, self.num_heads, length, self.value_dim)]
        if not pair or not all(map(_fits, shapes, expected)):
            received = shapes if pair else (
                f"one tensor of shape {tuple(cache.shape)}" if hasattr(cache, "shape")
                else type(cache).__name__
            )
            raise ValueError(
                "MultiHeadAttention: `cache` must be a (keys, values) pair, keys (batch, "
                f"num_heads, length, key_dim) = (batch, {self.num_heads}, length, "
                f"{self.key_dim}) and values (batch, num_heads, length, value_dim) = (batch, "
                f"{self.num_heads}, length, {self.value_dim}); received {received}."
            )
        return tuple(ops.cast(t, self.compute_dtype) for t in cache)

    # ---------------------------------------------------------------- attention

    def _attend(self, query, key, value, mask, training, return_attention_scores,
                heads_first=False):
        """Scaled dot-product attention on projected `(b, T, heads, head_dim)` tensors.

        With `heads_first`, `key` and `value` are `(b, heads, Tv, head_dim)` (a cache).
        """
        kv = "bhkd" if heads_first else "bkhd"
        query = query * ops.cast(1.0 / math.sqrt(self.key_dim), query.dtype)
        scores = ops.einsum(f"bqhd,{kv}->bhqk", query, key)
        if mask is not None:
            mask = ops.expand_dims(mask, 1)  # (b, 1, Tq, Tv): one mask for all heads
        weights = masking.masked_softmax(scores, mask)
        # One dropout draw shared by all heads: random numbers are the costly part on CPU.
        batch, _, query_length, key_length = ops.shape(weights)
        dropped = masking.dropout(
            ops.cast(weights, value.dtype), self.dropout, self._seed_generator, training,
            noise_shape=(batch, 1, query_length, key_length),
        )
        context = ops.einsum(f"bhqk,{kv}->bqhd", dropped, value)
        return context, (weights if return_attention_scores else None)

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        batch_size, query_length = ops.shape(query)[0], ops.shape(query)[1]
        if cache is not None:
            cache = self._check_cache(cache)

        if cache is not None and cache_update_index is None:
            # Static (cross-attention) cache: keys and values were projected once.
            q = self._project(query, self.query_kernel, self.query_bias)
            k, v = cache
            key_length = ops.shape(k)[2]
            masking.check_attention_mask(
                attention_mask, batch_size, query_length, key_length, "MultiHeadAttention"
            )
            mask = masking.combine_attention_masks(
                query_mask=query_mask,
                value_mask=masking.merge_masks(value_mask, key_mask) if value is not None else None,
                attention_mask=attention_mask,
            )
            new_cache = cache
        elif cache is not None:
            # Growing self-attention cache: write the new positions, attend causally.
            if key is None and value is query:
                q, k_new, v_new = self._project_self(query)
            else:
                key = value if key is None else key
                q = self._project(query, self.query_kernel, self.query_bias)
                k_new = self._project(key, self.key_kernel, self.key_bias)
                v_new = self._project(value, self.value_kernel, self.value_bias)
            new_cache = tuple(
                _write_cache(c, _heads_first(new), cache_update_index)
                for c, new in zip(cache, (k_new, v_new))
            )
            k, v = new_cache
            key_length = ops.shape(k)[2]
            masking.check_attention_mask(
                attention_mask, batch_size, query_length, key_length, "MultiHeadAttention"
            )
            mask = masking.merge_masks(
                masking.causal_mask(query_length, key_length, offset=cache_update_index),
                None if query_mask is None else ops.expand_dims(query_mask, -1),
                attention_mask,
            )
        else:
            if key is None and value is query:
                q, k, v = self._project_self(query)
            else:
                key = value if key is None else key
                q = self._project(query, self.query_kernel, self.query_bias)
                k = self._project(key, self.key_kernel, self.key_bias)
                v = self._project(value, self.value_kernel, self.value_bias)
            key_length = ops.shape(k)[1]
            masking.check_attention_mask(
                attention_mask, batch_size, query_length, key_length, "MultiHeadAttention"
            )
            mask = masking.combine_attention_masks(
                query_mask=query_mask,
                value_mask=masking.merge_masks(value_mask, key_mask),
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                query_length=query_length,
                key_length=key_length,
            )
            new_cache = None

        context, scores = self._attend(q, k, v, mask, training, return_attention_scores,
                                       heads_first=cache is not None)
        output = self._project_output(context)
        if mask is not None:
            has_keys = masking.row_has_keys(mask)  # (b or 1, Tq or 1)
            output = output * ops.cast(ops.expand_dims(has_keys, -1), output.dtype)

        results = (output,)
        if return_attention_scores:
            results += (scores,)
        if new_cache is not None:
            results += (new_cache,)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_dim": self.output_dim,
                "seed": self.seed,
            }
        )
        return config


def _heads_first(x):
    """`(b, T, heads, d) -> (b, heads, T, d)`, the caches' layout."""
    return ops.transpose(x, (0, 2, 1, 3))


def _fits(shape, expected):
    """Whether `shape` has `expected`'s rank and sizes, where both are static ints."""
    return len(shape) == len(expected) and all(
        not isinstance(got, int) or not isinstance(want, int) or got == want
        for got, want in zip(shape, expected)
    )


def _write_cache(cache, new_entries, index):
    """Writes `new_entries` `(b, h, T, d)` into `cache` at positions `index..index+T-1`."""
    max_length = ops.shape(cache)[2]
    new_length = ops.shape(new_entries)[2]
    offsets = ops.arange(max_length, dtype="int32") - ops.cast(index, "int32")
    if new_length == 1:
        written = offsets == 0
    else:
        written = ops.logical_and(offsets >= 0, offsets < new_length)
        new_entries = ops.take(new_entries, ops.clip(offsets, 0, new_length - 1), axis=2)
    written = ops.reshape(written, (1, 1, max_length, 1))
    return ops.where(written, ops.cast(new_entries, cache.dtype), cache)
