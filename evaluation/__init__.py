"""Metrics (one module, :mod:`evaluation.metrics`) and the evaluation step scripts."""
