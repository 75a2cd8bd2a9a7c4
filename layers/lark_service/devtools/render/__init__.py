"""Monitoring files rendered from the metric catalog, so none of them can drift from the code."""
