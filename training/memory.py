"""How much memory in-memory training needs, how much the machine has, and what ``train.stream:
auto`` decides from the two: stream from the shards when the splits would not fit."""

from __future__ import annotations

from typing import Iterable

import psutil

from avemo.errors import ConfigError
from avemo.features.schema import DatasetSpec

#: In-memory training holds each split's arrays once as numpy, plus the batches cut from them and
#: prefetched. Measured 2.3 copies of the train split at full scale (``make bench-full``) while
#: tf.data kept a copy of its own (``from_tensor_slices``); batches are now cut from the arrays,
#: so the budget of 2.5 is conservative until bench-full measures it again. Either way the
#: decision changes only how training runs, not what it learns (docs/model.md).
COPIES = 2.5
#: Bytes of training-step activations per face-frame pixel of a batch, a budget of 6 float32
#: tensors of 32 channels at full resolution (measured with the fused BatchNorm and the plain
#: CNN blocks that in-memory training runs: the paper's model at batch 16 peaks at 2.9-3.2 GB,
#: 0.7 GB of it TensorFlow and the model, i.e. ~5.5 such tensors; streaming's lean first block
#: needs ~0.5 GB less).
ACTIVATION_BYTES_PER_PIXEL = 6 * 32 * 4
#: The share of the available memory in-memory training may take; the rest is for the model,
#: TensorFlow and the OS.
SHARE = 0.7


def available_bytes() -> int:
    """Memory the system says is available now, without swapping (psutil, on any OS)."""
    return int(psutil.virtual_memory().available)


def split_bytes(clip_bytes: int, n_clips: int) -> int:
    """What holding ``n_clips`` of ``clip_bytes`` each in memory for training costs."""
    return int(COPIES * clip_bytes * n_clips)


def activation_bytes(batch_size: int, face_shape: tuple[int, ...]) -> int:
    """What a training step's activations cost, fed in memory or streamed: ``face_shape`` is
    one clip's frames (T, H, W, C)."""
    frames, height, width = face_shape[:3]
    return batch_size * frames * height * width * ACTIVATION_BYTES_PER_PIXEL


def clip_bytes(specs: Iterable[DatasetSpec]) -> int:
    """Bytes of one clip's model inputs, from the store's dataset specs."""
    return sum(spec.nbytes for spec in specs)


def decide_stream(setting: bool | str, need: int, memory_gb: float = 0.0) -> tuple[bool, str]:
    """(stream?, why) for ``train.stream`` = ``setting`` when in-memory training needs ``need``
    bytes. ``memory_gb``: the budget (0: this machine's available memory). ``false`` with too
    little memory is a ConfigError raised before anything is loaded."""
    budget = memory_gb * 1e9 if memory_gb else SHARE * available_bytes()
    where = (f"{memory_gb:g} GB (train.memory_gb)" if memory_gb
             else f"{budget / 1e9:.1f} GB ({SHARE:.0%} of the available memory)")
    fits = need <= budget
    if setting is True:
        return True, "train.stream: true"
    if setting is False:
        if not fits:
            raise ConfigError(f"in-memory training needs ~{need / 1e9:.1f} GB (the train and validation splits, "
                              f"{COPIES} copies), more than the budget of {where}: set train.stream: auto or true "
                              f"(clips are then read from the shards), or give the machine more memory")
        return False, "train.stream: false"
    if fits:
        return False, f"in memory: ~{need / 1e9:.2f} GB of a budget of {where}"
    return True, f"streaming from the shards: in memory would need ~{need / 1e9:.1f} GB, over the budget of {where}"
