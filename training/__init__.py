"""The avemo trainer: the paper's four sequence-model variants over the feature store."""
