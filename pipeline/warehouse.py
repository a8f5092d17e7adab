"""Small helpers shared by every module that writes the DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def transaction(con: Any) -> Iterator[Any]:
    """One DuckDB transaction: committed when the block ends, rolled back on any error (readers never
    see half a write-audit-publish step)."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
