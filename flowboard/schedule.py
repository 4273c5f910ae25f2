"""The Celery beat schedule, in one commented place.

Times are UTC (``CELERY_TIMEZONE``).
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Nightly full recompute of every board's metrics from the Transition log. The per-move
    # refresh keeps snapshots current during the day; this pass rebuilds them from scratch, so a
    # lost or partial snapshot heals within a day, and "today" rolls over for ageing and WIP.
    "metrics-nightly-recompute": {
        "task": "metrics.tasks.recompute_all_boards",
        "schedule": crontab(hour=2, minute=15),
    },
}
