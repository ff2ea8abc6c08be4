"""The avemo feature store: HDF5 shards per modality, an index, a writer and a reader."""
