"""`bingan serve` runs one web process per CPU core (at most 4) on PostgreSQL, one on SQLite (one
writer at a time), unless BINGAN_WEB_WORKERS says otherwise."""
from __future__ import annotations

import os

from bingan.cli.admin_cmds import web_workers
from bingan.config import Settings

POSTGRES = "postgresql+psycopg://bingan@db/bingan"


def test_on_postgresql_one_web_process_per_core_at_most_four(tmp_path):
    assert web_workers(Settings(home=tmp_path, database_url=POSTGRES)) == min(4, os.cpu_count() or 1)


def test_on_sqlite_one_web_process(tmp_path):
    assert web_workers(Settings(home=tmp_path, database_url="")) == 1


def test_the_setting_chooses_the_number_of_web_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("BINGAN_WEB_WORKERS", "3")
    assert web_workers(Settings(home=tmp_path)) == 3
