"""Exports models as SavedModels that stock TF Serving answers with plain strings.

Tokenization, decoding (beam search) and detokenization run inside the graph, which holds
stock TensorFlow ops only: the export loads in a process that imports `tensorflow` alone,
and in TF Serving. Versions go to TF Serving's layout `<export_dir>/<model_name>/<N>/`
with warm-up requests in `assets.extra/`.

Example:

>>> import zoo.export
>>> path = zoo.export.export_seq2seq(model, source_tokenizer, target_tokenizer,
...                                  "/tmp/export", "nmt")  # doctest: +SKIP
"""

from zoo.export.classifier import ClassifierServer, export_classifier, reference_classify
from zoo.export.graph_check import check_stock_ops, saved_model_op_types, stock_op_problems
from zoo.export.layout import (
    existing_versions,
    next_version,
    read_warmup_requests,
    write_version,
    write_warmup_requests,
)
from zoo.export.span_qa import SpanQAServer, export_span_qa
from zoo.export.seq2seq import (
    GenerativeQAServer,
    Seq2SeqServer,
    export_generative_qa,
    export_seq2seq,
    reference_answer,
    reference_translate,
)

__all__ = [
    "ClassifierServer",
    "GenerativeQAServer",
    "export_classifier",
    "export_generative_qa",
    "reference_answer",
    "reference_classify",
    "Seq2SeqServer",
    "SpanQAServer",
    "check_stock_ops",
    "existing_versions",
    "export_seq2seq",
    "export_span_qa",
    "next_version",
    "read_warmup_requests",
    "reference_translate",
    "saved_model_op_types",
    "stock_op_problems",
    "write_version",
    "write_warmup_requests",
]
