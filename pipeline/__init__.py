"""avemo's offline preprocessing: corpus manifest, split, demo corpus, feature extraction, CLI."""

__version__ = "0.1.0"
