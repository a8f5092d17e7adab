"""A local fake of every platform API Goalpost pulls from, on one base URL.

Real HTTP on 127.0.0.1 (stdlib ``ThreadingHTTPServer``), so connectors are tested through their
real ``requests`` session, retries and paging. Platforms live under path prefixes, each in its
own module with the endpoints it emulates: ``/instagram/v21.0`` (meta), ``/facebook/v26.0`` (facebook_pages),
``/linkedin/rest`` (linkedin), ``/tiktok/v2`` (tiktok), ``/x/2`` (xapi), ``/ga4/v1beta`` (ga4).
Data comes from :mod:`pipeline.fakeapi.data`: seeded by platform + account + day, so the same request
always returns the same bytes; only lifetime post metrics depend on the fake world's clock (``today``, the
real UTC day unless pinned), as the platforms' lifetime totals do.

Auth: every platform route wants ``Authorization: Bearer <token>`` (default ``demo-token``);
anything else gets that platform's own 401 error body.

Fault injection (tests): ``POST /_faults`` with ``{"rules": [{"path": <regex searched in the URL
path>, "fault": <kind>, "count": <next N matching requests, default 1>, "retry_after": <s, for 429>}]}``
(or one rule object); ``DELETE /_faults`` clears rules and the request log; ``GET /_faults`` lists
rules and the number of requests seen. Kinds:
  ``429`` (with ``Retry-After``), ``500``, ``401``, ``404``  platform-shaped error with that status
  ``truncated``          Content-Length of the full body, half of it sent, connection closed
  ``non_json``           200 with an HTML page
  ``repeat_cursor``      the request's cursor/offset is ignored, so paging never advances
  ``unknown_field``      every record gets an undocumented ``surprise_field``
  ``missing_field``      every record loses a required field (e.g. ``timestamp``, ``timeRange``)
  ``negative_count``     a count in every record becomes -5
  ``non_numeric_count``  a count in every record becomes "n/a"
  ``near_limit``         usage headers (``X-App-Usage``, ``x-rate-limit-remaining``) near the limit
  ``huge_body``          the real reply padded with whitespace to 5 MiB, chunked (no Content-Length)
  ``slow_drip``          the real reply, one byte every 0.2 s
  ``empty_pages``        a listing page without its records; its next cursor is the usual (fresh) one

Run in the foreground: ``python -m pipeline.fakeapi --port 8765``.
"""

from __future__ import annotations

import threading
from datetime import date
from types import TracebackType
from typing import Self

from pipeline.fakeapi import facebook_pages, ga4, linkedin, meta, tiktok, xapi
from pipeline.fakeapi.data import DEMO_ACCOUNTS
from pipeline.fakeapi.server import ApiHttpServer, FakeApi, Handler

DEFAULT_TOKEN = "demo-token"
_MODULES = (meta, facebook_pages, linkedin, tiktok, xapi, ga4)


def build_api(token: str = DEFAULT_TOKEN, today: date | None = None) -> FakeApi:
    routes = [route for module in _MODULES for route in module.ROUTES]
    styles = {platform: style for module in _MODULES for platform, style in module.STYLES.items()}
    return FakeApi(routes, styles, token, today)


class FakeApiServer:
    """A running fake API: ``.url`` is the base URL, ``.stop()`` shuts it down (also a context manager)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = DEFAULT_TOKEN,
                 today: date | None = None):
        self.api = build_api(token, today)
        self._server = ApiHttpServer((host, port), Handler)
        self._server.api = self.api
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.token = token
        self._thread: threading.Thread | None = None

    def inject(self, path: str, fault: str, count: int = 1, retry_after: int = 1) -> None:
        """Same as ``POST /_faults`` with one rule (for in-process tests)."""
        self.api.add_faults([{"path": path, "fault": fault, "count": count, "retry_after": retry_after}])

    def reset(self) -> None:
        """Same as ``DELETE /_faults``: no rules, empty request log."""
        self.api.clear()

    @property
    def requests_seen(self) -> int:
        return len(self.api.request_log)

    def start(self) -> FakeApiServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakeapi", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (``python -m pipeline.fakeapi``)."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def serve(port: int = 0, *, host: str = "127.0.0.1", token: str = DEFAULT_TOKEN,
          today: date | None = None) -> FakeApiServer:
    """Start the fake API in a background thread; use as ``with serve() as api: api.url``. ``today`` pins the
    fake world's clock (lifetime post metrics are as of the start of that UTC day); None follows the real day."""
    return FakeApiServer(host, port, token, today).start()


__all__ = ["DEFAULT_TOKEN", "DEMO_ACCOUNTS", "FakeApiServer", "build_api", "serve"]
