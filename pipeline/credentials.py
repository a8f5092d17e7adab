"""API credentials from an Airflow Connection, without Airflow.

A source names a connection id (``sources.yml``). Inside Airflow the DAG resolves it with
``BaseHook.get_connection`` and builds :class:`Credentials`; outside (CLI, tests) :func:`from_env`
reads ``AIRFLOW_CONN_<ID>`` in either of Airflow's two forms:
- JSON: ``{"conn_type": "http", "host": "http://127.0.0.1:8765", "password": "tok"}``
  (``host`` may omit the scheme; ``port`` and ``schema`` are honoured)
- URI:  ``http://:tok@127.0.0.1:8765`` (the password, URL-encoded, is the token)
The token never appears in ``repr``, logs or error messages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


class CredentialsError(ValueError):
    pass


@dataclass(frozen=True)
class Credentials:
    base_url: str
    token: str = field(repr=False)
    conn_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def __repr__(self) -> str:
        return f"Credentials(base_url={self.base_url!r}, token='***', conn_id={self.conn_id!r})"


def env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def _base_url(conn_type: str | None, host: str, port: int | str | None, schema: str | None) -> str:
    scheme = "https" if (conn_type or "").lower() == "https" else "http"
    if "://" not in host:
        host = f"{scheme}://{host}"
    split = urlsplit(host)
    netloc = split.netloc if not port or split.port else f"{split.netloc}:{port}"
    path = "/".join(p.strip("/") for p in (split.path, schema or "") if p.strip("/"))
    return f"{split.scheme}://{netloc}" + (f"/{path}" if path else "")


def parse_connection(conn_id: str, value: str) -> Credentials:
    """Credentials from an Airflow connection string (JSON or URI form)."""
    name = env_var(conn_id)
    text = value.strip()
    if text.startswith("{"):
        try:
            conn = json.loads(text)
        except ValueError:
            raise CredentialsError(f"{name} is not valid JSON") from None
        host, token = conn.get("host"), conn.get("password") or (conn.get("extra") or {}).get("token")
        if not host or not token:
            raise CredentialsError(f"{name} needs 'host' and 'password' (the API token)")
        return Credentials(_base_url(conn.get("conn_type"), host, conn.get("port"), conn.get("schema")),
                           token, conn_id)
    split = urlsplit(text)
    if not split.hostname or not split.password:
        raise CredentialsError(f"{name} must look like http://:<token>@host:port (URI form) or be JSON")
    host = split.hostname + (f":{split.port}" if split.port else "")
    return Credentials(_base_url(split.scheme, host, None, split.path), unquote(split.password), conn_id)


def from_env(conn_id: str, env: dict[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    value = env.get(env_var(conn_id))
    if not value:
        raise CredentialsError(f"connection '{conn_id}' not found: set {env_var(conn_id)} "
                               "(JSON or URI form, see .env_example)")
    return parse_connection(conn_id, value)
