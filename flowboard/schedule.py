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
    # Inbound webhooks: apply held Jira changes whose settle window has passed, and process
    # deliveries whose task message was lost. Outbound: attempts that are due.
    "integrations-sweep-deliveries": {
        "task": "integrations.tasks.sweep_deliveries",
        "schedule": 60.0,
    },
    "integrations-send-due": {
        "task": "integrations.tasks.send_due",
        "schedule": 60.0,
    },
    # The API's idempotency receipts past API_IDEMPOTENCY_DAYS.
    "api-prune-move-receipts": {
        "task": "api.tasks.prune_move_receipts",
        "schedule": crontab(hour=3, minute=40),
    },
}
