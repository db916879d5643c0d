"""Benchmarks that run Vectorizer and its anchors side by side in one run."""
