"""No secret in anything Goalpost writes: the whole chain runs with a distinctive API token and webhook secret,
through failures that carry the token in platform error bodies, and every file, log line, DuckDB table and
webhook body is searched for them (issue #21)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import duckdb
import pytest

from pipeline.connectors import ConnectorError
from pipeline.credentials import Credentials
from pipeline.fakeapi import serve

TOKEN = "EAAGtok3nLEAKcheck9f8e7d6c5b4a"
SECRET = "whsec-LEAKcheck-0a1b2c3d"
DAY = dt.date(2026, 11, 25)


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.bodies.append(b"".join(f"{k}: {v}\n".encode() for k, v in self.headers.items()) + body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        return


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


@pytest.mark.timeout(240)
def test_no_file_log_table_or_webhook_body_holds_a_token(tmp_path, monkeypatch, caplog, receiver):
    from pipeline.emit import run_snapshots
    from pipeline.ingest import IngestError, ingest_source
    from pipeline.notify import notify_failure
    from pipeline.quality import validate
    from pipeline.settings import get_settings
    from pipeline.transform import publish, run_transform

    home = tmp_path / "home"
    monkeypatch.setenv("GOALPOST_HOME", str(home))
    monkeypatch.setenv("GOALPOST_WEBHOOK_URL", f"{receiver}?token={TOKEN}")
    monkeypatch.setenv("GOALPOST_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("GOALPOST_WEBHOOK_SECRET", SECRET)
    settings = get_settings()
    settings.ensure_dirs()
    caplog.set_level(logging.DEBUG)

    with serve(token=TOKEN, today=DAY) as api:
        good = Credentials(api.url, TOKEN)
        # a wrong token: the platforms' 401 bodies come back; the connector's message must not carry either token
        with pytest.raises(IngestError):
            ingest_source("x", until=DAY, since=DAY - dt.timedelta(days=2), settings=settings,
                          credentials=Credentials(api.url, TOKEN + "-wrong"))
        api.inject("/instagram/", "500", count=1)
        api.inject("/tiktok/", "truncated", count=1)
        for platform in ("instagram", "x", "tiktok", "linkedin", "ga4"):
            try:
                ingest_source(platform, until=DAY, since=DAY - dt.timedelta(days=3), settings=settings,
                              credentials=good, pulled_at=dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC))
            except (ConnectorError, IngestError) as exc:   # an injected fault may outlast the retries: reported
                notify_failure(settings, dag_id=f"ingest_{platform}", task_id="ingest_account", run_id="leak",
                               try_number=1, error=exc)
    run_transform(settings)
    validate(settings, run_id="leak", as_of=DAY)
    publish(settings)
    run_snapshots(settings, as_of=DAY, run_id="leak")
    notify_failure(settings, dag_id="transform_kpis", task_id="validate", run_id="leak", try_number=3,
                   error=RuntimeError(f"boom while calling https://api.example/x?access_token={TOKEN}"))

    assert _Receiver.bodies, "no webhook reached the receiver"
    secrets = (TOKEN.encode(), SECRET.encode())
    leaks = [str(path.relative_to(home)) for path in home.rglob("*") if path.is_file()
             and any(secret in path.read_bytes() for secret in secrets)]
    assert leaks == []                                   # Parquet, ledgers, JSON, HTML Data Docs, DuckDB files
    assert not [r.getMessage() for r in caplog.records if TOKEN in r.getMessage() or SECRET in r.getMessage()]
    assert not [b for b in _Receiver.bodies if any(secret in b for secret in secrets)]
    for database in (settings.warehouse_path, settings.serving_path):
        with duckdb.connect(str(database), read_only=True) as con:
            tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            for schema, table in tables:
                text = json.dumps(con.execute(f'select * from "{schema}"."{table}"').fetchall(), default=str)
                assert TOKEN not in text and SECRET not in text, f"{schema}.{table}"
