"""The paper's model: one backbone builder, one head builder per variant, from a registry.

Backbone: per time step, a 3-layer CNN (Conv2D 32 3x3, BatchNorm, ReLU, MaxPool 2x2) on each
of the 50 face frames and each of the 9 MFCC windows, then per modality a Dense(64) on the
flattened CNN output -> (50, 64) and (9, 64) sequences. Head (per modality): ``gru`` GRU(128)
last step, ``lstm`` LSTM(128) last step, ``transformer`` one encoder block (embedding 64,
feed-forward 64, 4 heads, learned positions) then global max pooling over time, ``maxpool``
max over time then a linear layer. Fusion: concatenation, Dense 128, Dense 64, Dense 6 softmax.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
from keras import layers

from avemo.errors import ConfigError
from avemo.training.config import MODALITIES
from avemo.training import tf_kernels
from avemo.training.config import VARIANTS

#: The paper's six emotions; a model's own count is its corpus' label set (its sidecar's ``labels``).
N_CLASSES = 6
EMBED = 64
#: The backbone's layers, by name, in every variant: what all four variants share, and what
#: head-only training freezes (see :mod:`avemo.training.heads`).
BACKBONE_LAYERS = ("face_scale", "face_cnn_steps", "face_embed", "mfcc_standardise", "mfcc_channel",
                   "audio_cnn_steps", "audio_embed")
#: The backbone's outputs: embeddings store dataset -> the layer that makes it.
BACKBONE_OUTPUTS = {"face_emb": "face_embed", "audio_emb": "audio_embed"}
#: A one-modality model's backbone: the layers of its modality only.
MODALITY_LAYERS = {"face": BACKBONE_LAYERS[:3], "audio": BACKBONE_LAYERS[3:], "av": BACKBONE_LAYERS}
EMBEDDING_MODALITY = {"face_emb": "face", "audio_emb": "audio"}


def modalities_of(model) -> str:
    """``av``, ``audio`` or ``face``: which backbones a built or loaded model has."""
    names = {layer.name for layer in model.layers}
    has = [m for m, layer in (("face", "face_embed"), ("audio", "audio_embed")) if layer in names]
    return "av" if len(has) == 2 else has[0]


@keras.saving.register_keras_serializable(package="avemo")
class PositionalEmbedding(layers.Layer):
    """Adds a learned position vector to each time step: (batch, T, D) -> (batch, T, D)."""

    def __init__(self, length: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.length, self.dim = length, dim
        self.positions = layers.Embedding(length, dim)

    def build(self, input_shape):
        self.positions.build((self.length,))
        super().build(input_shape)

    def call(self, x):
        return x + self.positions(keras.ops.arange(self.length))[None]

    def get_config(self):
        return {**super().get_config(), "length": self.length, "dim": self.dim}


@keras.saving.register_keras_serializable(package="avemo")
class TransformerEncoder(layers.Layer):
    """One post-norm encoder block: multi-head self-attention and a feed-forward net, each
    with a residual connection and layer normalisation."""

    def __init__(self, dim: int = 64, ff_dim: int = 64, heads: int = 4, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.ff_dim, self.heads, self.dropout = dim, ff_dim, heads, dropout
        self.attention = layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads, dropout=dropout)
        self.ff1 = layers.Dense(ff_dim, activation="relu")
        self.ff2 = layers.Dense(dim)
        self.norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.drop = layers.Dropout(dropout)

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.norm1.build(input_shape)
        self.ff1.build(input_shape)
        self.ff2.build((*input_shape[:-1], self.ff_dim))
        self.norm2.build(input_shape)
        super().build(input_shape)

    def call(self, x, training=None):
        x = self.norm1(x + self.drop(self.attention(x, x, training=training), training=training))
        return self.norm2(x + self.drop(self.ff2(self.ff1(x)), training=training))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "ff_dim": self.ff_dim, "heads": self.heads,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="avemo")
class BatchNorm(layers.BatchNormalization):
    """Keras' BatchNormalization, whose training steps under TensorFlow on 4-D channels-last
    input run TF's fused kernel (as Keras 2's layer did): the same normalisation with the
    batch's statistics and the same moving averages (of the biased variance, as Keras), but no
    full-size intermediates kept for the backward pass (the kernel:
    :func:`avemo.training.tf_kernels.batch_norm_train`). For the paper's face CNN at batch 16
    that is ~0.7 GB less memory per step and half the CPU time (docs/model.md). Inference,
    other backends and other cases (masks, renorm, synchronized, mixed precision) run Keras'
    own code. The weights are Keras' four (gamma, beta, the two averages); models saved with
    Keras' layer keep it when loaded."""

    def _fusable(self, inputs, training, mask) -> bool:
        return (bool(training) and self.trainable and mask is None and keras.backend.backend() == "tensorflow"
                and len(inputs.shape) == 4 and self.axis in (-1, 3) and self.center and self.scale
                and not (self.renorm or self.synchronized)
                and keras.backend.standardize_dtype(inputs.dtype) == "float32" and self.compute_dtype == "float32")

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        y, mean, variance = tf_kernels.batch_norm_train(inputs, self.gamma, self.beta, self.epsilon)
        self.update_averages(mean, variance)
        return y

    def update_averages(self, mean, variance) -> None:
        """One step of the moving averages towards a training batch's mean and biased variance."""
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))


@keras.saving.register_keras_serializable(package="avemo")
class FoldTime(layers.Wrapper):
    """Applies ``layer`` to every time step at once, time folded into the batch:
    (batch, T, ...) -> (batch * T, ...) -> layer -> (batch, T, ...).

    Unlike Keras 3's TimeDistributed (which calls the layer once per step), BatchNorm inside
    then normalises a training batch with statistics over all of its steps, the same
    statistics its moving averages learn and inference uses (docs/model.md, BatchNorm)."""

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def call(self, inputs, training=None):
        steps = inputs.shape[1]
        folded = keras.ops.reshape(inputs, (-1, *inputs.shape[2:]))
        out = self.layer(folded, training=training)
        return keras.ops.reshape(out, (-1, steps, *out.shape[1:]))


@keras.saving.register_keras_serializable(package="avemo")
class ConvBlock(layers.Layer):
    """One layer of the per-step CNN: Conv2D (3x3 'same', no bias), :class:`BatchNorm`, ReLU,
    MaxPool 2x2; its weights are the Conv2D's kernel and the BatchNorm's four.

    ``low_memory`` (not saved with the model: it changes how TF trains, not what is computed):
    training steps under TensorFlow keep the convolution's output and the pooled output only,
    and recompute the normalised, rectified activations in the backward pass one slice of the
    batch at a time, with the batch's statistics (:func:`avemo.training.tf_kernels.lean_conv_block`).
    The same gradients (the BatchNorm terms summed over the whole batch first, then applied per slice); for the
    face CNN's first block at batch 16 (800 images of 64x64x32) ~0.5 GB less memory per step
    for ~18% more CPU time (docs/model.md). Everywhere else the plain layers run."""

    def __init__(self, filters: int = 32, bn_momentum: float = 0.99, low_memory: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.low_memory = filters, low_memory
        self.conv = layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv")
        self.bn = BatchNorm(momentum=bn_momentum, name="bn")
        self.relu = layers.ReLU(name="relu")
        self.pool = layers.MaxPooling2D(2, name="pool")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build((*input_shape[:-1], self.filters))
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.pool.compute_output_shape((*input_shape[:-1], self.filters))

    def call(self, inputs, training=None):
        if self.low_memory and self.bn._fusable(inputs, training, None):
            return self._lean(inputs)
        return self.pool(self.relu(self.bn(self.conv(inputs), training=training)))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "bn_momentum": self.bn.momentum}

    def _lean(self, inputs):
        """The training step of :meth:`call` under TF, its backward pass slice by slice."""
        out, mean, var = tf_kernels.lean_conv_block(inputs, self.conv.kernel, self.bn.gamma, self.bn.beta,
                                                    self.bn.epsilon)
        self.bn.update_averages(mean, var)
        return out


def conv_stack(input_shape: tuple[int, ...], name: str, bn_momentum: float = 0.99,
               low_memory: bool = False) -> keras.Model:
    """The per-step CNN: 3 x :class:`ConvBlock` (Conv2D 32 3x3 'same', BatchNorm, ReLU, MaxPool
    2x2), flattened. ``low_memory``: the first block (the largest tensors) trains lean."""
    x = inp = keras.Input(input_shape)
    for i in range(3):
        x = ConvBlock(32, bn_momentum, low_memory and i == 0, name=f"block{i + 1}")(x)
    return keras.Model(inp, layers.Flatten()(x), name=name)


def build_backbone(face_shape: tuple[int, ...], mfcc_shape: tuple[int, ...],
                   mfcc_mean: np.ndarray | None = None, mfcc_var: np.ndarray | None = None,
                   bn_momentum: tuple[float, float] = (0.99, 0.99), low_memory: bool = False):
    """Inputs and per-step embeddings: (faces uint8 (T, H, W, 3), mfcc (W, F, C)) ->
    (face_seq (T, 64), audio_seq (W, 64)). MFCCs are standardised per coefficient with the
    train-split statistics (stored in the model); frames are scaled to [0, 1] on the fly.
    ``low_memory``: the face CNN's first block trains lean (:class:`ConvBlock`)."""
    faces = keras.Input(face_shape, dtype="uint8", name="faces")
    mfcc = keras.Input(mfcc_shape, name="mfcc")
    # Time folded into the batch (FoldTime), not Keras 3's per-step TimeDistributed: BatchNorm
    # must see one set of statistics per batch, as at inference (docs/model.md, BatchNorm).
    f = layers.Rescaling(1.0 / 255, name="face_scale")(faces)
    face_cnn = conv_stack(face_shape[1:], "face_cnn", bn_momentum[0], low_memory)
    f = FoldTime(face_cnn, name="face_cnn_steps")(f)
    face_seq = layers.TimeDistributed(layers.Dense(EMBED, activation="relu"), name="face_embed")(f)
    n_coef = mfcc_shape[-1]
    mean = np.zeros(n_coef) if mfcc_mean is None else np.asarray(mfcc_mean)
    var = np.ones(n_coef) if mfcc_var is None else np.asarray(mfcc_var)
    a = layers.Normalization(axis=-1, mean=mean, variance=var, name="mfcc_standardise")(mfcc)
    a = layers.Reshape((*mfcc_shape, 1), name="mfcc_channel")(a)
    audio_cnn = conv_stack((*mfcc_shape[1:], 1), "audio_cnn", bn_momentum[1])
    a = FoldTime(audio_cnn, name="audio_cnn_steps")(a)
    audio_seq = layers.TimeDistributed(layers.Dense(EMBED, activation="relu"), name="audio_embed")(a)
    return (faces, mfcc), (face_seq, audio_seq)


def gru_head(seq, name: str):
    return layers.GRU(128, name=f"{name}_gru")(seq)


def lstm_head(seq, name: str):
    return layers.LSTM(128, name=f"{name}_lstm")(seq)


def transformer_head(seq, name: str):
    x = PositionalEmbedding(seq.shape[1], EMBED, name=f"{name}_positions")(seq)
    x = TransformerEncoder(EMBED, 64, 4, name=f"{name}_encoder")(x)
    return layers.GlobalMaxPooling1D(name=f"{name}_maxpool")(x)


def maxpool_head(seq, name: str):
    x = layers.GlobalMaxPooling1D(name=f"{name}_maxpool")(seq)
    return layers.Dense(EMBED, name=f"{name}_linear")(x)


HEADS: dict[str, Callable] = {"gru": gru_head, "lstm": lstm_head, "transformer": transformer_head,
                              "maxpool": maxpool_head}
assert tuple(HEADS) == VARIANTS


def build_model(variant: str, face_shape=(50, 64, 64, 3), mfcc_shape=(9, 40, 40),
                mfcc_mean=None, mfcc_var=None,
                bn_momentum: tuple[float, float] = (0.99, 0.99), low_memory: bool = False,
                n_classes: int = N_CLASSES, modalities: str = "av") -> keras.Model:
    """The full model of one variant: inputs ``faces`` and ``mfcc``, output ``n_classes``
    probabilities (the corpus' label set; the paper's 6). ``modalities``: ``av`` (the paper's
    fused model), or ``audio``/``face`` alone (an ablation: that modality's input, backbone and
    head, then the same dense layers; ``train.modalities``).
    ``bn_momentum``: of the face and the audio CNN's BatchNorm averages (:func:`bn_momentum_for`);
    ``low_memory``: train the face CNN's first block lean (:class:`ConvBlock`; TF only)."""
    _check_variant(variant)
    if modalities not in MODALITIES:
        raise ConfigError(f"modalities must be one of {', '.join(MODALITIES)}, got {modalities!r}")
    (faces, mfcc), (face_seq, audio_seq) = build_backbone(face_shape, mfcc_shape, mfcc_mean, mfcc_var, bn_momentum,
                                                          low_memory)
    if modalities == "av":
        return keras.Model((faces, mfcc), head_and_fusion(variant, face_seq, audio_seq, n_classes),
                           name=f"avemo_{variant}")
    # an ablation: one modality's backbone and head, then the same dense layers
    face = modalities == "face"
    out = head_and_fusion(variant, face_seq if face else None, None if face else audio_seq, n_classes)
    return keras.Model([faces if face else mfcc], out, name=f"avemo_{variant}_{modalities}")


def bn_momentum_for(steps_per_epoch: int, default: float = 0.99) -> float:
    """BatchNorm momentum whose moving averages settle within one epoch.

    The per-step CNNs' BatchNorm updates its averages once per training step (time is folded
    into the batch: :class:`FoldTime`). Keras' default 0.99 (a horizon of ~100 updates) is kept
    wherever an epoch makes at least 100 steps (full CREMA-D: ~370); below that the horizon
    shrinks to one epoch (``1 - 1/steps``). With the default, a small training set (the demo
    corpus: 4 steps an epoch) ends training with averages still mostly their initial values,
    and inference (validation, evaluation) normalises with the wrong statistics."""
    return min(default, 1.0 - 1.0 / max(steps_per_epoch, 2))


def head_and_fusion(variant: str, face_seq, audio_seq, n_classes: int = N_CLASSES):
    """Everything after the backbone: the variant's head per modality, concatenation, Dense 128,
    Dense 64, Dense ``n_classes`` softmax. Layer names are the same in the full and the head-only model.
    A modality given as None is left out (an ablation: its one head goes straight to Dense 128)."""
    head = HEADS[variant]
    heads = [head(seq, name) for seq, name in ((face_seq, "face"), (audio_seq, "audio")) if seq is not None]
    x = layers.Concatenate(name="fusion")(heads) if len(heads) > 1 else heads[0]
    x = layers.Dense(128, activation="relu", name="dense128")(x)
    x = layers.Dense(64, activation="relu", name="dense64")(x)
    return layers.Dense(n_classes, activation="softmax", name="emotion")(x)


def build_head_model(variant: str, face_steps: int = 50, audio_steps: int = 9, dim: int = EMBED,
                     n_classes: int = N_CLASSES, modalities: str = "av") -> keras.Model:
    """The head-only model: cached backbone embeddings ``face_emb`` (T, 64) and ``audio_emb``
    (W, 64) -> ``n_classes`` probabilities (an extension beyond the paper; see avemo.training.heads).
    ``modalities``: audio or face for a one-modality backbone's embeddings (that input alone)."""
    _check_variant(variant)
    face_emb = keras.Input((face_steps, dim), name="face_emb") if modalities != "audio" else None
    audio_emb = keras.Input((audio_steps, dim), name="audio_emb") if modalities != "face" else None
    return keras.Model([x for x in (face_emb, audio_emb) if x is not None],
                       head_and_fusion(variant, face_emb, audio_emb, n_classes), name=f"avemo_{variant}_head")


def _check_variant(variant: str) -> None:
    if variant not in HEADS:
        raise ConfigError(f"unknown variant {variant!r}; known: {', '.join(HEADS)}")


def load_model(path) -> keras.Model:
    """Load a saved ``.keras`` model in safe mode (no pickled code is ever executed)."""
    return keras.models.load_model(path, safe_mode=True, compile=False)
