"""What differs between Keras 3's backends (TensorFlow, JAX, PyTorch): seeds, determinism,
threads, distribution, and turning model outputs into numpy.

The backend is Keras' own choice (``KERAS_BACKEND``, default ``tensorflow``); the models, the
saved ``.keras`` files and everything else in the trainer are the same on all three. Only the
TensorFlow backend imports TensorFlow.

| setting | tensorflow | jax | torch |
| --- | --- | --- | --- |
| seed (``train.seed``) | ``keras.utils.set_random_seed`` | same | same |
| determinism | op determinism on | XLA on CPU is deterministic; GPU reductions may not be | ``torch.use_deterministic_algorithms`` (warn only) |
| ``train.threads`` | intra- and inter-op threads | not settable once JAX started (use ``XLA_FLAGS``) | ``torch.set_num_threads`` |
| ``train.cpu_devices`` | logical CPU devices | refused | refused |
| ``train.strategy: mirrored`` | ``tf.distribute.MirroredStrategy`` | refused (one device) | refused (one device) |
| input pipeline | ``tf.data`` | ``keras.utils.PyDataset`` | ``keras.utils.PyDataset`` |
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from avemo.errors import ConfigError

log = logging.getLogger(__name__)
BACKENDS = ("tensorflow", "jax", "torch")


def name() -> str:
    """The Keras backend this process runs: ``tensorflow``, ``jax`` or ``torch``."""
    return keras.backend.backend()


def setup(seed: int, threads: int = 0, cpu_devices: int = 0) -> None:
    """Seeds, deterministic ops and thread counts for the running backend, before its first op;
    ``cpu_devices > 1`` (TensorFlow only) splits the CPU into logical devices."""
    backend = name()
    if backend == "tensorflow":
        _setup_tensorflow(threads, cpu_devices)
    elif cpu_devices > 1:
        raise ConfigError(f"train.cpu_devices={cpu_devices} splits the CPU into TensorFlow logical devices; "
                          f"the {backend} backend has none: set it to 0 (or KERAS_BACKEND=tensorflow)")
    elif backend == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif backend == "jax" and threads:
        log.info("train.threads=%d is not applied under JAX (its thread pools start with the process; "
                 "set XLA_FLAGS=--xla_cpu_multi_thread_eigen=false to run single-threaded)", threads)
    keras.utils.set_random_seed(seed)
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _setup_tensorflow(threads: int, cpu_devices: int) -> None:
    import tensorflow as tf

    if cpu_devices > 1:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
        except RuntimeError as exc:
            raise ConfigError(f"train.cpu_devices={cpu_devices}: TensorFlow is already initialised in this "
                              f"process; logical devices must be set before the first op") from exc
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # already initialised in this process (tests): keep its setting
            log.debug("TensorFlow threads already set")


def make_strategy(strategy: str):
    """A context manager to build and compile the model in, and its number of replicas.

    TensorFlow: ``auto`` is ``mirrored`` when more than one GPU is visible, else ``default``
    (one device); ``mirrored`` replicates the model on every GPU, or on every logical CPU device
    when there is no GPU, and splits each batch between them. Other backends run on one device
    (``mirrored`` is refused)."""
    import contextlib

    if name() != "tensorflow":
        if strategy == "mirrored":
            raise ConfigError(f"train.strategy=mirrored needs the TensorFlow backend (KERAS_BACKEND="
                              f"{name()} trains on one device): use strategy auto or default")
        return contextlib.nullcontext(), 1
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        strategy = "mirrored" if len(gpus) > 1 else "default"
    if strategy == "default":
        s = tf.distribute.get_strategy()
    elif strategy == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        s = tf.distribute.MirroredStrategy(devices)
    else:
        raise ConfigError(f"unknown strategy {strategy!r}; known: auto, default, mirrored")
    return s.scope(), s.num_replicas_in_sync


def to_numpy(x) -> np.ndarray:
    """A backend tensor (a model's output) as a numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def device_name() -> str:
    """The accelerator this backend trains on, for benchmark tables ("CPU" when none)."""
    backend = name()
    try:
        if backend == "jax":
            import jax

            d = jax.devices()[0]
            return "CPU" if d.platform == "cpu" else f"{len(jax.devices())} x {d.device_kind}"
        if backend == "torch":
            import torch

            return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() \
                else "CPU"
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return "CPU"
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
    except Exception as exc:  # a benchmark's title must not stop it
        return f"unknown ({type(exc).__name__})"
