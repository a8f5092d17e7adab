"""Text that cannot carry a secret.

urllib3 logs each request line with its URL at DEBUG level (``"POST /hooks?token=... HTTP/1.1" 204``), and a
webhook URL or a platform's next-page URL may hold a token in its query: :func:`install` attaches a filter that
masks the values of every query parameter in those records. :func:`redact` does the same, plus bearer tokens and
``token=``/``secret:`` pairs, for free text that leaves the process (a failed task's error in a notification)."""

from __future__ import annotations

import logging
import re

_QUERY_VALUE = re.compile(r"([?&][^=&\s\"]+=)[^&\s\"]*")
_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "requests")
_SECRETS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)((?:access_token|client_secret|refresh_token|api_key|token|secret|password)[\"']?\s*[=:]\s*"
               r"[\"']?)[^\s\"'&,;]+"),
)


def redact(text: str) -> str:
    """``text`` with query values, bearer tokens and ``token=``/``secret:`` values replaced by ``***``."""
    text = _QUERY_VALUE.sub(r"\1***", text)
    for pattern in _SECRETS:
        text = pattern.sub(r"\1***", text)
    return text


class QueryValueMask(logging.Filter):
    """Replaces ``?name=value&...`` values with ``***`` in the formatted message (names stay: they help)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _QUERY_VALUE.sub(r"\1***", message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_MASK = QueryValueMask()


def install() -> None:
    """Attach the mask to the HTTP libraries' loggers (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)
