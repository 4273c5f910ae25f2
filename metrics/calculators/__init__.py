"""Pure flow-metric calculators: plain data in, plain data out, no ORM.

Each module implements a section of ``docs/metrics.md``; docstrings state the rule.
"""
