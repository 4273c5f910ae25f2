"""The one time rule for every dated change (moves, blocks, criteria, discards, imports)."""

import datetime as dt

# A client clock may run a little ahead of ours; further ahead is a mistake.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
