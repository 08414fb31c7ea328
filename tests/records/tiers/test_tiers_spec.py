"""The tier policy (冷热分层, V4/V6/V7): old records' files move to the cold volume, verified, the row
switched in the same transaction, the hot copy removed after the commit; cold reads are served and
promote; a rerun finishes what an interrupted move left. Real volumes, SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import NOW, read_back

from bingan.config import Settings
from bingan.records.tiers.service import due_shas, move_due, promote, tier_problems
from bingan.storage.blobs.local import LocalBlobStore, request_promotion
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.blobs.tiering import MARK, TierError, committed_on, copy_to, drop_from, tier_lock
from bingan.storage.models.tiers import BlobTier
from bingan.storage.verify import verify


def tiers_holding(store, sha: str) -> set[str]:
    return {v.tier for v in store.volumes if committed_on(v, sha)}


def assert_clean(session, store) -> None:
    report = verify(session, store, extra_checks=[lambda s: tier_problems(s, store)])
    assert report.ok, report


def test_files_of_a_patient_not_seen_for_five_years_move_to_the_cold_volume(session, archive, store):
    old = archive.record(session, "old", "A001", 1, date(2019, 3, 1))
    young = archive.record(session, "young", "B001", 1, date(2024, 3, 1))
    old_sha, young_sha = archive.add_file(session, old), archive.add_file(session, young)
    session.commit()

    result = move_due(session, store, NOW, years=5)

    assert result.moved == [old_sha] and result.bytes > 200_000 and not result.failed
    assert tiers_holding(store, old_sha) == {"cold"} and tiers_holding(store, young_sha) == {"hot"}
    assert read_back(store, old_sha) == archive.files[old_sha]
    row = session.get(BlobTier, old_sha)
    assert (row.tier, row.settled, row.reason) == ("cold", True, "age")
    assert row.volume == str(next(v.path for v in store.volumes if v.cold))
    assert session.get(BlobTier, young_sha) is None
    assert_clean(session, store)


def test_the_record_manifest_travels_with_the_file_so_locate_finds_it_on_the_cold_volume(session, archive, store):
    old = archive.record(session, "old", "A002", 1, date(2018, 3, 1))
    sha = archive.add_file(session, old)
    session.commit()
    move_due(session, store, NOW, years=5)
    cold = next(v for v in store.volumes if v.cold)
    only_cold = LocalBlobStore([cold], store.keyring)
    assert [entry.sha256 for entry in only_cold.locate("A002")] == [sha]


def test_a_file_shared_with_a_younger_record_stays_hot(session, archive, store):
    old = archive.record(session, "old", "A003", 1, date(2015, 3, 1))
    young = archive.record(session, "young", "B003", 1, date(2025, 3, 1))
    shared = b"%PDF the same consent form scanned for two patients" * 1000
    sha = archive.add_file(session, old, shared)
    assert archive.add_file(session, young, shared) == sha
    session.commit()
    assert move_due(session, store, NOW, years=5).moved == []
    assert tiers_holding(store, sha) == {"hot"}


def test_a_returning_patient_keeps_the_older_records_hot(session, archive, store):
    first = archive.record(session, "first", "A004", 1, date(2012, 3, 1))
    archive.record(session, "again", "A004", 2, None, admitted=date(2026, 5, 20))  # admitted, not discharged
    sha = archive.add_file(session, first)
    session.commit()
    assert due_shas(session, NOW, years=5, keep_days=365, limit=100) == []
    assert tiers_holding(store, sha) == {"hot"}


def test_the_age_is_a_setting_and_an_argument(session, archive, store, monkeypatch):
    record = archive.record(session, "r", "A005", 1, date(2023, 3, 1))
    sha = archive.add_file(session, record)
    session.commit()
    assert move_due(session, store, NOW).moved == []  # default 5 years
    assert move_due(session, store, NOW, years=2).moved == [sha]


def test_without_a_cold_volume_nothing_moves_and_the_reason_is_given(session, archive, tmp_path):
    settings = Settings(home=tmp_path / "h", blob_volumes=str(tmp_path / "only-hot"), volume_reserve_mb=0)
    with pytest.raises(TierError, match="没有配置冷存储卷"):
        move_due(session, open_blob_store(settings), NOW, years=5)


def test_new_files_are_never_written_to_a_cold_volume(session, archive, store):
    record = archive.record(session, "r", "A006", 1, date(2026, 1, 1))
    shas = [archive.add_file(session, record) for _ in range(3)]
    assert all(tiers_holding(store, sha) == {"hot"} for sha in shas)


def test_a_cold_read_is_served_and_promotion_brings_the_file_back_to_hot(session, archive, store):
    old = archive.record(session, "old", "A007", 1, date(2016, 3, 1))
    sha = archive.add_file(session, old)
    session.commit()
    move_due(session, store, NOW, years=5)
    asked: list[str] = []
    store.on_cold_read = asked.append
    assert read_back(store, sha) == archive.files[sha]
    assert asked == [sha]

    later = NOW + timedelta(days=3)
    assert promote(session, store, asked, later).moved == [sha]
    assert tiers_holding(store, sha) == {"hot"}
    row = session.get(BlobTier, sha)
    assert (row.tier, row.settled, row.reason) == ("hot", True, "read")
    assert row.promoted_at.replace(tzinfo=None) == later.replace(tzinfo=None)  # SQLite gives it back naive
    assert read_back(store, sha) == archive.files[sha] and asked == [sha]  # hot reads ask nothing
    # kept hot for BINGAN_TIER_KEEP_PROMOTED_DAYS (365), then due again
    assert move_due(session, store, later + timedelta(days=30), years=5).moved == []
    assert move_due(session, store, later + timedelta(days=400), years=5).moved == [sha]
    assert_clean(session, store)


def test_promotion_on_read_is_a_setting(tmp_path):
    def opened(flag: bool) -> LocalBlobStore:
        store = open_blob_store(Settings(home=tmp_path, blob_volumes=f"{tmp_path}/h,{tmp_path}/c:cold",
                                         tier_promote_on_read=flag))
        assert isinstance(store, LocalBlobStore)
        return store
    assert opened(True).on_cold_read is request_promotion
    assert opened(False).on_cold_read is None


def test_a_read_racing_the_removal_of_the_hot_copy_is_served_from_the_cold_one(session, archive, store):
    old = archive.record(session, "old", "A008", 1, date(2016, 3, 1))
    sha = archive.add_file(session, old)
    with tier_lock(store):
        copy_to(store, sha, "cold")
        reader_context = store.open(sha)  # looked up now (hot), opened after the hot copy is gone
        drop_from(store, sha, "hot")
    with reader_context as reader:
        assert reader.read() == archive.files[sha]


# -- interrupted moves: the state a SIGKILL leaves at each step, then the rerun ----------------

def test_killed_after_the_cold_copy_before_the_commit_the_rerun_finishes(session, archive, store):
    old = archive.record(session, "old", "A009", 1, date(2016, 3, 1))
    sha = archive.add_file(session, old)
    session.commit()
    with tier_lock(store):
        copy_to(store, sha, "cold")
    assert tiers_holding(store, sha) == {"hot", "cold"} and session.get(BlobTier, sha) is None
    assert read_back(store, sha) == archive.files[sha]
    assert move_due(session, store, NOW, years=5).moved == [sha]
    assert tiers_holding(store, sha) == {"cold"}
    assert_clean(session, store)


def test_killed_after_the_commit_before_the_hot_copy_went_the_rerun_removes_it(session, archive, store):
    old = archive.record(session, "old", "A010", 1, date(2016, 3, 1))
    sha = archive.add_file(session, old)
    with tier_lock(store):
        cold = copy_to(store, sha, "cold")
    session.add(BlobTier(sha256=sha, tier="cold", volume=str(cold.path), settled=False, reason="age",
                         changed_at=NOW))
    session.commit()
    assert tier_problems(session, store)  # `bingan verify` says the move is unfinished
    result = move_due(session, store, NOW, years=5)
    assert result.finished == 1 and result.moved == []
    assert tiers_holding(store, sha) == {"cold"} and session.get(BlobTier, sha).settled
    assert_clean(session, store)


def test_killed_while_removing_the_hot_copy_the_rerun_removes_what_is_left(session, archive, store):
    old = archive.record(session, "old", "A011", 1, date(2016, 3, 1))
    sha = archive.add_file(session, old)
    with tier_lock(store):
        cold = copy_to(store, sha, "cold")
    session.add(BlobTier(sha256=sha, tier="cold", volume=str(cold.path), settled=False, changed_at=NOW))
    session.commit()
    hot = next(v for v in store.volumes if not v.cold)
    rel = committed_on(hot, sha)
    (hot.tmp / f"dead{MARK}intent").write_text(json.dumps({"blob": rel, "sha256": sha}))
    hot.pointer(sha).unlink()  # the pointer went, body and key did not
    assert read_back(store, sha) == archive.files[sha]
    assert str(hot.path / rel) in store.scan_orphan_temp()
    result = move_due(session, store, NOW, years=5)
    assert result.finished == 1 and result.debris >= 3
    assert not (hot.path / rel).exists() and store.scan_orphan_temp() == []
    assert_clean(session, store)


def test_killed_while_copying_the_rerun_removes_the_half_copy(session, archive, store):
    old = archive.record(session, "old", "A012", 1, date(2016, 3, 1))
    sha = archive.add_file(session, old)
    session.commit()
    cold = next(v for v in store.volumes if v.cold)
    cold.tmp.mkdir(parents=True, exist_ok=True)
    (cold.tmp / f"dead{MARK}part").write_bytes(archive.files[sha][:1000])
    (cold.tmp / f"dead{MARK}intent").write_text(json.dumps({"blob": "main/2016/03/A012/x.blob", "sha256": sha}))
    assert store.scan_orphan_temp()
    assert move_due(session, store, NOW, years=5).moved == [sha]
    assert store.scan_orphan_temp() == []
    assert_clean(session, store)


# -- the nightly job -----------------------------------------------------------------------------

def test_the_nightly_move_starts_once_a_night_after_its_hour_as_a_background_job(session, store):
    from datetime import UTC, datetime

    from bingan.records.tiers.scheduled import start_nightly_move
    from bingan.storage.models.jobs import Job
    from bingan.worker.timed import TIMED_JOBS

    assert TIMED_JOBS["tier_move_started"] is start_nightly_move
    early = datetime(2026, 6, 1, 17, tzinfo=UTC)  # 01:00 on 2 June in Shanghai
    assert start_nightly_move(session, early) == 0  # not before BINGAN_TIER_MOVE_HOUR (2)
    night = datetime(2026, 6, 1, 19, tzinfo=UTC)  # 03:00 on 2 June in Shanghai
    job_id = start_nightly_move(session, night)
    assert job_id and session.get(Job, job_id).kind == "tier.move"
    assert start_nightly_move(session, night + timedelta(hours=1)) == 0  # once a night


def test_the_nightly_job_runs_the_move(engine, session, archive, store):
    from bingan.records.jobs import run_job
    from bingan.records.tiers.scheduled import start_nightly_move
    from bingan.storage.models.jobs import Job

    old = archive.record(session, "old", "A013", 1, date(2001, 3, 1))
    sha = archive.add_file(session, old)
    job_id = start_nightly_move(session, NOW)
    session.commit()
    assert run_job(engine, store, job_id) == "done"
    assert tiers_holding(store, sha) == {"cold"}
    session.expire_all()
    assert session.get(Job, job_id).note.startswith("迁入冷存储 1 个文件")
