"""Fractional ranks: order cards inside a column without renumbering the column.

A rank is a string of base-36 digits read as a fraction after a point ("i" is about 0.5). Between
any two ranks there is always another, so inserting a card writes one row. Only the characters
0-9 and a-z are used, which sort the same in byte order and in the usual database collations.
The algorithm is the midpoint method of "Implementing Fractional Indexing" (David Greenspan).
"""

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)


def rank_between(before: str | None, after: str | None) -> str:
    """A rank strictly between ``before`` and ``after``; either may be None (an open end)."""
    lower = before or ""
    if after is not None and lower >= after:
        raise ValueError(f"rank {before!r} must sort before {after!r}")
    for rank in (lower, after or ""):
        if rank.endswith("0") or any(ch not in DIGITS for ch in rank):
            raise ValueError(f"{rank!r} is not a valid rank")
    return _midpoint(lower, after)


def _midpoint(a: str, b: str | None) -> str:
    if b is not None:
        # Skip the common prefix (a is padded with zeros).
        n = 0
        while n < len(b) and (a[n] if n < len(a) else "0") == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    digit_a = DIGITS.index(a[0]) if a else 0
    digit_b = DIGITS.index(b[0]) if b is not None else BASE
    if digit_b - digit_a > 1:
        return DIGITS[(digit_a + digit_b + 1) // 2]
    if b is not None and len(b) > 1:
        return b[:1]
    return DIGITS[digit_a] + _midpoint(a[1:], None)
