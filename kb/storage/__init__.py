"""The index folder on disk: versions and the manifest, tables, segments, BM25 postings and the ANN index."""
