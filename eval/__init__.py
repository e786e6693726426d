"""Evaluation: batched generation harness, per-benchmark scorers, CL reports."""
