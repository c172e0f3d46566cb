"""Measuring the assistant on a question set: metrics, ablations, the report."""
