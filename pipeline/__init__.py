"""avemo's offline preprocessing: corpus manifest, split, demo corpus, feature extraction."""
