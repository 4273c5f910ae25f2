"""Pure flow-metric calculators: plain data in, plain data out, no ORM.

Each module implements a section of ``../shared/FLOW-METRICS.md``; docstrings quote the rule.
"""
