"""The metric catalog and the emit helpers built on it."""
