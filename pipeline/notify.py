"""Failure notifications: a task that gave up is posted to the same webhook as goal events.

Same URL (``GOALPOST_WEBHOOK_URL``), same JSON-over-POST shape with an ``Idempotency-Key`` header,
so one receiver handles both. A notification must never fail the pipeline a second time: errors
while posting are logged (without the URL's query string, which may carry a token) and swallowed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from pipeline.settings import Settings

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500


def failure_event(*, dag_id: str, task_id: str, run_id: str, try_number: int,
                  error: BaseException | str | None) -> dict[str, Any]:
    """The event body; the idempotency key is stable for one failed try of one task."""
    key_source = f"task_failed|{dag_id}|{task_id}|{run_id}|{try_number}"
    message = "" if error is None else f"{type(error).__name__}: {error}" if isinstance(
        error, BaseException) else str(error)
    return {
        "event_type": "task_failed",
        "idempotency_key": hashlib.sha256(key_source.encode()).hexdigest(),
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "try_number": try_number,
        "error": message[:MAX_ERROR_CHARS],
    }


def notify_failure(settings: Settings, *, dag_id: str, task_id: str, run_id: str, try_number: int = 0,
                   error: BaseException | str | None = None, timeout: float = 5.0) -> dict[str, Any] | None:
    """POST a ``task_failed`` event to the webhook; returns the event, or None when none is configured."""
    if not settings.webhook_url:
        return None
    import requests

    event = failure_event(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number, error=error)
    try:
        resp = requests.post(
            settings.webhook_url,
            data=json.dumps(event, sort_keys=True),
            headers={"Content-Type": "application/json", "Idempotency-Key": event["idempotency_key"]},
            timeout=timeout,
        )
        resp.raise_for_status()
    except requests.RequestException as exc:
        where = urlsplit(settings.webhook_url)
        log.warning("failure notification to %s://%s%s not delivered: %s",
                    where.scheme, where.netloc, where.path, type(exc).__name__)
    return event
