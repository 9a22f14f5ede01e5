"""The database a benchmark runs on: a temporary SQLite file, or a schema of its own in
the PostgreSQL database named by ``--url`` (dropped afterwards), migrated to the head."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable

from sqlalchemy import Engine, text

from bot.policy.db import make_engine, upgrade


def on_database(url: str | None, run: Callable[[Engine], None]) -> None:
    """``run(engine)`` on a fresh, migrated database; prints which kind first."""
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            print("SQLite")
            run(engine)
            engine.dispose()
        return
    schema = f"tlsbot_bench_{secrets.token_hex(4)}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        upgrade(engine)
        print("PostgreSQL")
        run(engine)
        engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
