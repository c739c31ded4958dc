"""End-to-end memory network (Sukhbaatar et al. 2015) that writes its answer, cached decode.

A generative QA model for the seq2seq interface: its source is the QA recipe's
`question [SEP] context`. Each sentence of the context (split after the ids in
`sentence_end_ids`, e.g. those of ".", "?" and "!") becomes one memory slot: the bag of
its word embeddings weighted by the paper's position encoding, plus a learnt temporal
embedding of how recent it is (slot 0 is the last sentence; only the latest
`memory_size` sentences are kept). The question, encoded the same way, reads the memories
in `hops` rounds of attention, `u <- u + sum_i p_i c_i` with adjacent weight tying (hop
k's output embedding is hop k+1's input embedding), or gated (`gated_hops`). The final `u`
starts a GRU that writes the answer's tokens, so one-word answers, yes/no, counts and
lists ("apple , football") are all sequences of the shared vocabulary, and `zoo.decoding`
and the seq2seq exports drive it like the other seq2seq models.

Example:

>>> import numpy as np
>>> from zoo.models import MemoryNetworkSeq2Seq
>>> from zoo.text import SEP_ID
>>> PERIOD = 6
>>> model = MemoryNetworkSeq2Seq(source_vocab_size=30, target_vocab_size=30,
...                               embedding_dim=8, sentence_end_ids=(PERIOD,))
>>> # "where is mary [SEP] mary went home . john left ."
>>> source = np.array([[7, 8, 9, SEP_ID, 9, 10, 11, PERIOD, 12, 13, PERIOD]])
>>> tuple(model((source, np.array([[2, 11]]))).shape)
(1, 2, 30)
>>> _, weights = model((source, np.array([[2]])), return_attention_scores=True)
>>> tuple(weights.shape)  # the hops' mean attention, spread over each sentence's tokens
(1, 1, 11)
"""

import keras
from keras import ops

from zoo import layers
from zoo.errors import UsageError
from zoo.layers import masking
from zoo.layers.masking import masked_softmax
from zoo.models import registry
from zoo.models.transformer import check_batch, check_decode_length
from zoo.text import SEP_ID


@keras.saving.register_keras_serializable(package="zoo")
class MemoryNetworkSeq2Seq(keras.Model):
    """Multi-hop attention over the context's sentences, then a GRU writes the answer.

    Args:
        source_vocab_size: vocabulary size of `question [SEP] context` (id 0 is padding).
        target_vocab_size: vocabulary size of the answers.
        embedding_dim: size of the word, temporal and controller vectors and of the GRU.
        hops: rounds of attention over the memories (3 in the paper).
        memory_size: the latest sentences kept as memories (50 in the paper).
        sentence_end_ids: token ids that end a sentence (not embedded themselves); with
            none, the whole context is one memory. The QA recipe passes the ids of
            ".", "?" and "!".
        temporal_noise: while training, the chance of an empty memory inserted before
            each sentence, which shifts the older sentences' temporal embeddings (the
            paper's "random noise", 0.1, against over-fitting the time embeddings).
        tie_question_embedding: encode the question with the first hop's input embedding
            alone (the paper's `B = A_1`). Tied, the first hop scores a sentence by a dot
            product of two bags of the same embeddings, where every word shared with the
            question adds a positive term, so "What is the kitchen north of?" prefers the
            distractor "The hallway is north of the kitchen." to "The garden is south of
            the kitchen.". False adds a learnt offset to each question word's embedding
            (`B = A_1 + D`, `D` zero at first, so training starts from the tied model):
            bAbI task 4 alone, 83% -> 98% correct; on tasks 1-10 together the chaining
            tasks 2 and 3 lose more than that (bench/README.md, "bAbI").
        tie_answer_embeddings: the answer writer reads and scores tokens with the last
            hop's output embedding (the paper's `W = C_K` tying, so a word the hops read
            is close to the word written); needs `source_vocab_size == target_vocab_size`.
        gated_hops: how many of the first hops gate their update by the controller state
            (gated end-to-end memory networks, Liu and Perez 2017): `u <- T * o + (1 - T)
            * u` with `o = sum_i p_i c_i` and `T = sigmoid(W_k u + b_k)`, instead of
            `u <- u + o`; 0 gates none, `hops` all. A gated first hop can drop what it
            read, so a distractor that repeats the question's words no longer decides
            the answer (bAbI task 4, two-argument relations: 18% -> 1% error); gating
            the later hops too cost the lists of task 8 on every restart (12% -> 31%,
            "nothing" answered with an object dropped), the first hop alone on two
            restarts of nine: bench/README.md, "bAbI".
        linear_start_steps: for this many training steps the hops weigh the memories by
            their raw scores instead of a softmax (the paper's "linear start"): every
            sentence gets a gradient at first, so the multi-fact questions do not settle
            on the latest sentence. The steps are counted in a non-trainable variable
            saved with the weights (a resumed run goes on counting); 0 turns it off.
        dropout: dropout rate on the controller state before the answer decoder.
        max_length: the longest source or target sequence the model accepts.
        seed: seed of the dropout masks.

    Example:

    >>> from zoo.models import MemoryNetworkSeq2Seq
    >>> model = MemoryNetworkSeq2Seq(40, 40, embedding_dim=16, hops=2, memory_size=20,
    ...                              sentence_end_ids=(6, 7))
    >>> model.hops
    2
    """

    # The QA recipe passes `sentence_end_ids` from its vocabulary to models that say so.
    reads_sentences = True

    def __init__(self, source_vocab_size, target_vocab_size, embedding_dim=64, hops=3,
                 memory_size=50, sentence_end_ids=(), temporal_noise=0.0,
                 tie_question_embedding=True, tie_answer_embeddings=False,
                 gated_hops=0, linear_start_steps=0, dropout=0.0,
                 max_length=512, seed=None, **kwargs):
        super().__init__(**kwargs)
        if hops < 1 or memory_size < 1:
            raise UsageError(f"hops={hops} and memory_size={memory_size} must be >= 1.")
        if not 0.0 <= temporal_noise < 1.0:
            raise UsageError(f"temporal_noise={temporal_noise} must be in [0, 1).")
        if not 0 <= gated_hops <= hops:
            raise UsageError(f"gated_hops={gated_hops} must be in [0, hops={hops}].")
        if linear_start_steps < 0:
            raise UsageError(f"linear_start_steps={linear_start_steps} must be >= 0.")
        if tie_answer_embeddings and source_vocab_size != target_vocab_size:
            raise UsageError(
                f"tie_answer_embeddings=True needs one vocabulary for questions, contexts "
                f"and answers; got source_vocab_size={source_vocab_size} and "
                f"target_vocab_size={target_vocab_size}.")
        self.source_vocab_size = int(source_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.hops = int(hops)
        self.memory_size = int(memory_size)
        self.sentence_end_ids = tuple(int(i) for i in sentence_end_ids)
        self.temporal_noise = float(temporal_noise)
        self.tie_question_embedding = bool(tie_question_embedding)
        self.tie_answer_embeddings = bool(tie_answer_embeddings)
        self.gated_hops = int(gated_hops)
        self.linear_start_steps = int(linear_start_steps)
        self.dropout = float(dropout)
        self.max_length = int(max_length)
        self.seed = seed

        # Normal(0, 0.1) as in the paper: with the default uniform init the first hops'
        # attention starts far from uniform and training often stalls in a local minimum.
        init = keras.initializers.RandomNormal(stddev=0.1, seed=seed)
        # Adjacent tying: word_embeddings[k] is hop k's input (A_k) and hop k-1's output
        # (C_{k-1}); word_embeddings[0] also encodes the question (B = A_1) when tied.
        self.word_embeddings = [
            keras.layers.Embedding(self.source_vocab_size, self.embedding_dim,
                                   embeddings_initializer=init, name=f"word_embedding_{k}")
            for k in range(self.hops + 1)]
        self.temporal_embeddings = [
            keras.layers.Embedding(self.memory_size, self.embedding_dim,
                                   embeddings_initializer=init,
                                   name=f"temporal_embedding_{k}")
            for k in range(self.hops + 1)]
        for embedding in self.word_embeddings + self.temporal_embeddings:
            embedding.build((None, None))
        # Untied, the question reads with A_1 + an offset learnt from zero: its own random
        # table lost the tied model's head start on matching words (bench/README, bAbI).
        self.question_offset = None
        if not self.tie_question_embedding:
            self.question_offset = keras.layers.Embedding(
                self.source_vocab_size, self.embedding_dim, embeddings_initializer="zeros",
                name="question_offset")
            self.question_offset.build((None, None))
        self.hop_gates = [keras.layers.Dense(self.embedding_dim, activation="sigmoid",
                                             name=f"hop_gate_{k}")
                          for k in range(1, self.gated_hops + 1)]
        for gate in self.hop_gates:
            gate.build((None, self.embedding_dim))
        if self.tie_answer_embeddings:
            self.answer_bias = self.add_weight(shape=(self.target_vocab_size,),
                                               initializer="zeros", name="answer_bias")
        else:
            self.target_embedding = keras.layers.Embedding(
                self.target_vocab_size, self.embedding_dim, embeddings_initializer=init,
                name="target_embedding")
            self.target_embedding.build((None, None))
            self.output_projection = keras.layers.Dense(self.target_vocab_size,
                                                        name="output_projection")
            self.output_projection.build((None, None, self.embedding_dim))
        self.decoder = keras.layers.GRU(self.embedding_dim, return_sequences=True,
                                        name="answer_decoder")
        self.decoder.build((None, None, self.embedding_dim))
        self.dropout_layer = layers.Dropout(self.dropout, seed=seed)
        # Its own seed: with the dropout layer's, the two draws would coincide.
        self._seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 1)
        if self.linear_start_steps:
            # int32: a float counter would be autocast to bfloat16 under mixed precision.
            self.training_steps = self.add_weight(
                shape=(), dtype="int32", initializer="zeros", trainable=False,
                aggregation="only_first_replica", name="training_steps")
        self.build()

    def build(self, input_shape=None):
        # Every sub-layer is built in __init__ (all shapes follow from the hyper-parameters).
        self.built = True

    # --- Reading the source -------------------------------------------------------------

    def _layout(self, source_ids, training=False):
        """Where each source token goes: the question, or a memory slot and its position.

        Returns:
            `(question_weights (b, T, d), slots (b, T, M), context_weights (b, T, d),
            slot_mask (b, M))`: the question tokens' position encodings (zero elsewhere),
            each context token's one-hot memory slot (zero for tokens not kept), the
            context tokens' position encodings, and which slots hold a sentence.
        """
        ids = ops.cast(source_ids, "int32")
        present = ids != 0
        after_sep = ops.cumsum(ops.cast(ids == SEP_ID, "int32"), axis=1) > 0
        if self.sentence_end_ids:
            ends = ops.any(ops.expand_dims(ids, -1) == ops.convert_to_tensor(
                self.sentence_end_ids, "int32"), axis=-1)
        else:
            ends = ops.zeros_like(present)
        words = ops.logical_and(present, ops.logical_not(ends))
        question = ops.logical_and(words, ops.logical_not(after_sep))
        context = ops.logical_and(ops.logical_and(words, after_sep), ids != SEP_ID)

        # Sentence number of each context token: the sentence ends before it.
        context_ends = ops.cast(ops.logical_and(ends, after_sep), "int32")
        sentence = ops.cumsum(context_ends, axis=1) - context_ends
        count = ops.max(ops.where(context, sentence + 1, 0), axis=1, keepdims=True)
        recency = count - 1 - sentence  # 0: the latest sentence
        if training and self.temporal_noise > 0:
            recency = recency + self._inserted_empty_memories(recency)
        kept = ops.logical_and(context, recency < self.memory_size)
        slots = ops.one_hot(ops.where(kept, recency, 0), self.memory_size) \
            * ops.cast(ops.expand_dims(kept, -1), "float32")

        same = ops.logical_and(
            ops.expand_dims(sentence, 2) == ops.expand_dims(sentence, 1),
            ops.logical_and(ops.expand_dims(context, 2), ops.expand_dims(context, 1)))
        same = ops.cast(same, "float32")
        # 1-based position of each token in its sentence, and that sentence's length.
        length = ops.shape(ids)[1]
        earlier = ops.cast(ops.expand_dims(ops.arange(length), 1)
                           >= ops.expand_dims(ops.arange(length), 0), "float32")
        context_weights = self._position_encoding(
            ops.sum(same * earlier, axis=2), ops.sum(same, axis=2), context)
        question_float = ops.cast(question, "float32")
        question_weights = self._position_encoding(
            ops.cumsum(question_float, axis=1),
            ops.sum(question_float, axis=1, keepdims=True) * ops.ones_like(question_float),
            question)
        return question_weights, slots, context_weights, ops.sum(slots, axis=1) > 0

    def _inserted_empty_memories(self, recency):
        """Per token, how many empty memories were drawn more recent than its sentence."""
        keep, _ = masking.random_keep_mask((ops.shape(recency)[0], self.memory_size),
                                           self.temporal_noise, self._seed_generator)
        inserted = ops.cumsum(ops.cast(ops.logical_not(keep), "int32"), axis=1)
        return ops.take_along_axis(
            inserted, ops.clip(recency, 0, self.memory_size - 1), axis=1)

    def _position_encoding(self, position, sentence_length, where):
        """Sukhbaatar et al.'s `l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`, zero off `where`."""
        ratio = ops.expand_dims(position / ops.maximum(sentence_length, 1.0), -1)
        k = ops.arange(1, self.embedding_dim + 1, dtype="float32") / self.embedding_dim
        weights = (1.0 - ratio) - k * (1.0 - 2.0 * ratio)
        return weights * ops.expand_dims(ops.cast(where, "float32"), -1)

    def _memories(self, k, ids, slots, context_weights, slot_mask):
        """Slot vectors `(b, M, d)` under embedding `k`: position-weighted bags + time."""
        words = ops.cast(self.word_embeddings[k](ids), "float32") * context_weights
        bags = ops.einsum("btm,btd->bmd", slots, words)
        time = ops.cast(self.temporal_embeddings[k](ops.arange(self.memory_size)), "float32")
        return (bags + time) * ops.expand_dims(ops.cast(slot_mask, "float32"), -1)

    def _read(self, source_ids, training=False):
        """The controller state after the hops `(b, d)` and the hops' mean attention over
        the memories, spread over each sentence's source tokens `(b, T)`."""
        ids = ops.cast(source_ids, "int32")
        question_weights, slots, context_weights, slot_mask = self._layout(ids, training)
        question = self.word_embeddings[0](ids)
        if self.question_offset is not None:
            question = question + self.question_offset(ids)
        u = ops.sum(ops.cast(question, "float32") * question_weights, axis=1)
        memory_in = self._memories(0, ids, slots, context_weights, slot_mask)
        linear = self._in_linear_start()
        mean_weights = 0.0
        for k in range(1, self.hops + 1):
            memory_out = self._memories(k, ids, slots, context_weights, slot_mask)
            scores = ops.einsum("bd,bmd->bm", u, memory_in)
            weights = masked_softmax(scores, slot_mask)
            if linear is not None:
                weights = ops.where(linear, scores * ops.cast(slot_mask, "float32"), weights)
            read = ops.einsum("bm,bmd->bd", weights, memory_out)
            if k <= self.gated_hops:
                gate = ops.cast(self.hop_gates[k - 1](u), "float32")
                u = gate * read + (1.0 - gate) * u
            else:
                u = u + read
            memory_in = memory_out
            mean_weights = mean_weights + weights / self.hops
        return u, ops.einsum("btm,bm->bt", slots, mean_weights)

    def _in_linear_start(self):
        """Whether the hops still read linearly (a boolean scalar), or None if never."""
        if not self.linear_start_steps:
            return None
        return self.training_steps < self.linear_start_steps

    # --- Writing the answer -------------------------------------------------------------

    def _embed_answer(self, token_ids):
        if self.tie_answer_embeddings:
            return self.word_embeddings[-1](token_ids)
        return self.target_embedding(token_ids)

    def _logits(self, outputs, training=False):
        outputs = self.dropout_layer(outputs, training=training)
        if not self.tie_answer_embeddings:
            return ops.cast(self.output_projection(outputs), "float32")
        table = ops.cast(self.word_embeddings[-1].embeddings, outputs.dtype)
        return ops.cast(ops.matmul(outputs, ops.transpose(table)), "float32") \
            + ops.cast(self.answer_bias, "float32")

    def call(self, inputs, training=None, return_attention_scores=False):
        """Teacher-forced logits `(batch, T, target_vocab_size)`, float32.

        Args:
            inputs: `(source_ids (batch, Ts), target_in_ids (batch, T))`, 0-padded.
            training: whether dropout is active.
            return_attention_scores: also return the hops' mean attention over the
                source tokens, `(batch, T, Ts)` (the same for every answer token).
        """
        source_ids, target_ids = inputs
        source_ids = ops.cast(source_ids, "int32")
        target_ids = ops.cast(target_ids, "int32")
        check_batch(source_ids, "source_ids", self.max_length, self.source_vocab_size)
        check_batch(target_ids, "target_in_ids", self.max_length, self.target_vocab_size)
        u, weights = self._read(source_ids, training)
        if training and self.linear_start_steps:
            self.training_steps.assign_add(1)
        u = self.dropout_layer(u, training=training)
        embedded = self._embed_answer(target_ids)
        outputs = self.decoder(embedded, initial_state=[ops.cast(u, embedded.dtype)],
                               training=training)
        logits = self._logits(outputs, training)
        if return_attention_scores:
            steps = ops.shape(target_ids)[1]
            return logits, ops.repeat(ops.expand_dims(weights, 1), steps, axis=1)
        return logits

    # --- The decoding interface of zoo.decoding ----------------------------------------

    def encode(self, source_ids, training=False):
        """Reads `source_ids` `(batch, Ts)`: the controller state and its attention."""
        u, weights = self._read(ops.cast(source_ids, "int32"))
        return {"h": u, "alignment": weights}

    def init_decode_state(self, state, max_length):
        """The GRU starts from the controller state; it needs no length-sized cache."""
        check_decode_length(max_length, self.max_length)
        return dict(state)

    def decode_step(self, token_ids, step, state):
        """One decoding step (`step` is unused: the GRU state carries the position).

        Returns:
            `(logits (batch, target_vocab_size) float32, new state, alignment (batch, Ts))`.
        """
        embedded = self._embed_answer(ops.cast(token_ids, "int32"))
        h = ops.cast(state["h"], embedded.dtype)
        output, new_h = self.decoder.cell(embedded, [h])
        new_h = new_h[0] if isinstance(new_h, (list, tuple)) else new_h
        logits = self._logits(output)
        return logits, {**state, "h": ops.cast(new_h, state["h"].dtype)}, state["alignment"]

    def get_config(self):
        config = super().get_config()
        config.update(
            source_vocab_size=self.source_vocab_size,
            target_vocab_size=self.target_vocab_size,
            embedding_dim=self.embedding_dim,
            hops=self.hops,
            memory_size=self.memory_size,
            sentence_end_ids=list(self.sentence_end_ids),
            temporal_noise=self.temporal_noise,
            tie_question_embedding=self.tie_question_embedding,
            tie_answer_embeddings=self.tie_answer_embeddings,
            gated_hops=self.gated_hops,
            linear_start_steps=self.linear_start_steps,
            dropout=self.dropout,
            max_length=self.max_length,
            seed=self.seed,
        )
        return config


registry.register(
    "memory_network", MemoryNetworkSeq2Seq, "seq2seq",
    "end-to-end memory network (3 hops over the context's sentences, d 64), GRU answer "
    "writer: generative QA over stories (bAbI)",
    embedding_dim=64, hops=3, memory_size=50, dropout=0.0, max_length=512)
