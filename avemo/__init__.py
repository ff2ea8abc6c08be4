"""avemo: audio-visual emotion recognition on CREMA-D.

This package is the base layer (errors, clip names, params loading, the bundled metadata, the
data records shared between stages, file writing, the CLI root). The three packages above it
are ``avemo.pipeline`` (manifest, split, feature extraction), ``avemo.features`` (the HDF5
feature store) and ``avemo.training`` (models, training, evaluation, report); see
``docs/architecture.md``. Nothing here imports any of them.
"""

__version__ = "0.1.0"
