"""Reserved token ids, shared by every tokenizer, model and pipeline of the project.

Id 0 is padding everywhere (the Keras `mask_zero` convention); a vocabulary trained or
loaded by `zoo.text` always starts with `RESERVED_TOKENS`, in this order.
"""

PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3
CLS_ID = 4
SEP_ID = 5

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[CLS]", "[SEP]"]

# Ids that `SubwordTokenizer.detokenize` never writes out.
CONTROL_IDS = (PAD_ID, BOS_ID, EOS_ID, CLS_ID, SEP_ID)
