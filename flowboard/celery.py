"""The Celery app. Settings come from Django's settings under the CELERY_ namespace.

With REDIS_URL unset, ``CELERY_TASK_ALWAYS_EAGER`` is on and every task runs in-process when it is
enqueued, so the embedded default needs no broker and no worker. With REDIS_URL set, Redis is the
broker and a real worker (``celery -A flowboard worker``) runs the tasks.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowboard.settings")

app = Celery("flowboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
