"""Failure notifications: a task that gave up is posted to the same webhook as goal events.

Same URL (``GOALPOST_WEBHOOK_URL``), same JSON-over-POST shape with an ``Idempotency-Key`` header,
same path (``pipeline.webhooks``: destination check, no redirects, HMAC signature), so one receiver
handles both. A notification must never fail the pipeline a second time: errors while posting are
logged as one line (without the URL's userinfo or query values, which may carry a token) and swallowed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from pipeline import logsafe, webhooks
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
        "error": logsafe.redact(message)[:MAX_ERROR_CHARS],      # an error may quote a URL with its token
    }


def notify_failure(settings: Settings, *, dag_id: str, task_id: str, run_id: str, try_number: int = 0,
                   error: BaseException | str | None = None, timeout: float = 5.0) -> dict[str, Any] | None:
    """POST a ``task_failed`` event to the webhook; None when none is configured.

    Returns the posted event plus the outcome, like an ``ops.goal_events`` row records it:
    ``delivery`` (``delivered`` | ``failed``) and ``delivery_error`` (one line, e.g. why the
    destination was refused; never the URL's secrets). Never raises.
    """
    if not settings.webhook_url:
        return None
    event = failure_event(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number, error=error)
    body = json.dumps(event, sort_keys=True).encode()
    try:
        with webhooks.session(webhooks.policy_from_settings(settings)) as http:
            delivery = webhooks.post_json(http, settings.webhook_url, body,
                                          headers={"Idempotency-Key": event["idempotency_key"]},
                                          secret=settings.webhook_secret, timeout=timeout)
    except Exception as exc:    # noqa: BLE001 (a notification never fails the pipeline a second time)
        delivery = webhooks.Delivery(False, type(exc).__name__)
    if not delivery.delivered:
        where = "" if delivery.refused else f" to {webhooks.mask_url(settings.webhook_url)}"
        log.warning("failure notification%s not delivered: %s", where, delivery.error)
    return {**event, "delivery": delivery.status, "delivery_error": delivery.error}
