"""The reliability sweep (issue 23) as a small harness plus one module of cases per category.

``harness`` runs and classifies cases, ``fixtures`` makes the tiny data and estimators, and
``cases_<category>`` adds that category's cases in its ``build()``. The entry point is
``benchmarks/reliability_sweep.py``.
"""
