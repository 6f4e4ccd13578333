"""Celery tasks wired by the catalog: broker and results in the environment's Redis, under the worker's key prefix."""
import json
import os

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_RESULT_BACKEND"])
# The worker's Redis user may touch only keys under its prefix.
app.conf.broker_transport_options = json.loads(os.environ.get("CELERY_BROKER_TRANSPORT_OPTIONS", "{}"))
app.conf.result_backend_transport_options = json.loads(os.environ.get("CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS", "{}"))


@app.task
def word_count(text: str) -> int:
    return len(text.split())
