"""Shared by the exporters: padding token ids, and writing a checked, versioned SavedModel."""

import tensorflow as tf

from zoo.export import graph_check, layout


def to_ragged(token_ids):
    """keras-hub's eager tokenizer path returns lists; the graph path a RaggedTensor."""
    if isinstance(token_ids, tf.RaggedTensor):
        return token_ids
    return tf.ragged.constant([list(row) for row in token_ids], tf.int32, ragged_rank=1)


def pad_token_ids(ragged_ids, max_length, empty_id):
    """Truncates ragged ids, gives empty rows a lone `empty_id`, pads to a dense batch.

    Returns:
        `(ids, empty)`: int32 `(batch, T)` with `1 <= T <= max_length`, and a
        boolean `(batch,)` that is True where the input had no tokens.
    """
    ragged_ids = ragged_ids[:, :max_length]
    empty = ragged_ids.row_lengths() == 0
    ids = ragged_ids.to_tensor(default_value=0)
    ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
    first_column = tf.range(tf.shape(ids)[1]) == 0
    ids = tf.where(empty[:, None] & first_column[None, :], empty_id, ids)
    return tf.cast(ids, tf.int32), empty


def write_archive(server, model_name, export_dir, signatures, warmup):
    """Saves `server` with `signatures` as a checked, versioned SavedModel with warm-up.

    Shared by the seq2seq, classifier and span QA exporters.

    Args:
        server: the serving object; its `table_owners` (`tf.Module`s holding lookup
            tables) are tracked, since an untracked table fails the export.
        model_name: the name TF Serving serves it under.
        export_dir: the parent of TF Serving's model base path.
        signatures: `{name: (function, input_signature)}`; each function takes the
            named tensors of its input signature and returns a dict of named tensors.
        warmup: the `serving_default` inputs of the warm-up request, `{name: array}`.
    """
    # Traced once each here, with named inputs (no `args_0`) and no autograph: the
    # functions use explicit while loops.
    concrete = {
        name: tf.function(fn, input_signature=input_signature, autograph=False)
        .get_concrete_function()
        for name, (fn, input_signature) in signatures.items()
    }

    # The root tracks the tf.Variables the functions capture, not the Keras model:
    # through the model, TF would save each variable twice (its Keras wrapper and the
    # captured tf.Variable) and restore the copy the graph does not read, which the TF1
    # session loader (TF Serving's) then finds uninitialized. Tables are tracked too.
    root = tf.Module()
    root.captured_variables = list(
        {id(v): v for fn in concrete.values() for v in fn.variables}.values())
    root.table_owners = list(server.table_owners)

    def write(tmp_dir):
        tf.saved_model.save(root, tmp_dir, signatures=concrete)
        graph_check.check_stock_ops(tmp_dir)
        layout.write_warmup_requests(tmp_dir, model_name, [("serving_default", warmup)])

    return layout.write_version(export_dir, model_name, write)
