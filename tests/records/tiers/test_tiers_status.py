"""Capacity and tiers on the status page (V10): each volume's tier, and health judged by the hot
volumes, the only ones new files are written to."""
from __future__ import annotations

from bingan.config import get_settings, reset_settings
from bingan.web.status import status_report


def test_the_status_report_gives_each_volume_its_tier(sqlite_engine, volumes):
    report = status_report(get_settings(), sqlite_engine)
    assert [(row["path"], row["tier"]) for row in report["volumes"]] == [
        (str(volumes[0]), "hot"), (str(volumes[1]), "cold")]
    storage = next(check for check in report["checks"] if check["name"] == "文件存储")
    assert storage["ok"] and "热存储 1 个，冷存储 1 个" in storage["detail"]


def test_only_cold_volumes_writable_is_unhealthy(sqlite_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("BINGAN_BLOB_VOLUMES", f"{tmp_path / 'hot'}:ro,{tmp_path / 'cold'}:cold")
    reset_settings()
    report = status_report(get_settings(), sqlite_engine)
    storage = next(check for check in report["checks"] if check["name"] == "文件存储")
    assert not storage["ok"] and "没有可写入的热存储卷" in storage["detail"] and not report["healthy"]
