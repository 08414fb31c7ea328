"""The core domain model on SQLite and PostgreSQL: migrations, constraints, catalogue, identity numbers."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bingan.storage.migrate import is_up_to_date
from bingan.storage.models import (
    Base,
    Category,
    Department,
    Diagnosis,
    Document,
    DocumentType,
    DocumentTypeAlias,
    Operation,
    Page,
    Patient,
    Record,
    RecordNumberAlias,
    Role,
    Version,
)
from bingan.storage.models.identity import InvalidIdNumber, normalise_id_number, sex_of

VALID_ID = "11010519491231002X"


def _patient(session: Session, number: str = "0012345") -> Patient:
    patient = Patient(record_number=number, name="张三", sex="M", id_number=VALID_ID)
    session.add(patient)
    session.flush()
    return patient


def _record(session: Session, patient: Patient, stay: int = 1) -> Record:
    record = Record(
        patient=patient,
        record_number=patient.record_number,
        stay_number=stay,
        admitted_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        discharged_at=datetime(2026, 3, 8, 15, 0, tzinfo=UTC),
    )
    session.add(record)
    session.flush()
    return record


def _document_type(session: Session, name: str) -> DocumentType:
    return session.scalars(sa.select(DocumentType).where(DocumentType.name == name)).one()


def test_migrations_reach_head_and_match_the_models(engine):
    assert is_up_to_date(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_standard_categories_follow_the_archive_filing_order(session):
    names = session.scalars(sa.select(Category.name).order_by(Category.filing_order)).all()
    assert names[0] == "住院病案首页"
    assert names[1] == "入院记录"
    assert names.index("手术记录") < names.index("出院记录") < names.index("死亡记录")
    assert names.index("医学影像检查资料") < names.index("医嘱单")


def test_every_standard_category_has_a_document_type(session):
    for category in session.scalars(sa.select(Category)):
        assert category.document_types, category.name


def test_copyable_categories_follow_article_19(session):
    copyable = set(session.scalars(sa.select(Category.name).where(Category.copyable)))
    assert {"体温单", "医嘱单", "入院记录", "手术记录", "出院记录", "病理资料"} <= copyable
    assert "病程记录" not in copyable


def test_separation_of_duty_roles_are_built_in(session):
    codes = set(session.scalars(sa.select(Role.code)))
    assert {"sysadmin", "secadmin", "auditor"} <= codes


def test_record_number_and_stay_identify_a_record(session):
    patient = _patient(session)
    _record(session, patient, stay=1)
    _record(session, patient, stay=2)
    with pytest.raises(IntegrityError):
        _record(session, patient, stay=2)


def test_stay_number_must_be_positive(session):
    patient = _patient(session)
    with pytest.raises(IntegrityError):
        _record(session, patient, stay=0)


def test_foreign_keys_are_enforced(session):
    session.add(Diagnosis(record_id=999_999, code="J18.9", name="肺炎"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_front_page_keeps_coded_diagnoses_and_operations_in_order(session):
    record = _record(session, _patient(session))
    record.diagnoses = [
        Diagnosis(seq=1, code="E11.900", name="2型糖尿病"),
        Diagnosis(seq=0, code="I25.103", name="冠状动脉粥样硬化性心脏病"),
    ]
    record.operations = [Operation(seq=0, code="36.0601", name="经皮冠状动脉支架置入术")]
    record.front_page = {"A48": "0012345", "B34C": "1"}
    session.flush()
    session.expire_all()
    loaded = session.get(Record, record.id)
    assert [d.code for d in loaded.diagnoses] == ["I25.103", "E11.900"]
    assert loaded.operations[0].name == "经皮冠状动脉支架置入术"
    assert loaded.front_page["B34C"] == "1"


def test_length_of_stay_counts_admission_and_discharge_day_once(session):
    record = _record(session, _patient(session))
    assert record.length_of_stay == 7


def test_alias_resolves_to_a_record_number(session):
    _patient(session, "0012345")
    session.add(RecordNumberAlias(alias="ZY2019-88", record_number="0012345", kind="old"))
    session.flush()
    found = session.scalars(
        sa.select(RecordNumberAlias.record_number).where(RecordNumberAlias.alias == "ZY2019-88")
    ).one()
    assert found == "0012345"


def test_document_versions_and_pages_keep_their_hashes(session):
    record = _record(session, _patient(session))
    document = Document(
        record=record,
        document_type=_document_type(session, "手术记录"),
        source_system="EMR",
        source_document_id="OP-1",
    )
    first = Version(document=document, number=1, sha256="a" * 64, size=10, page_count=1)
    first.pages = [Page(number=1, text_hash="t1", image_hash="i1", text="手术经过顺利")]
    session.add(first)
    session.flush()
    document.current_version = first
    second = Version(
        document=document, number=2, sha256="b" * 64, change_kind="updated",
        page_changes={"updated": [1]},
    )
    session.add(second)
    document.current_version = second
    session.flush()
    session.expire_all()
    loaded = session.get(Document, document.id)
    assert [v.number for v in loaded.versions] == [1, 2]
    assert loaded.current_version.sha256 == "b" * 64
    assert loaded.versions[0].pages[0].text == "手术经过顺利"


def test_a_source_document_is_one_document_per_record(session):
    record = _record(session, _patient(session))
    doc_type = _document_type(session, "出院记录")
    for _ in range(2):
        session.add(Document(record=record, document_type=doc_type, source_system="EMR", source_document_id="D1"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_document_type_alias_maps_a_source_name_to_the_standard_type(session):
    standard = _document_type(session, "首次病程记录")
    session.add(DocumentTypeAlias(source_system="EMR", alias="首程", document_type=standard))
    session.flush()
    alias = session.scalars(sa.select(DocumentTypeAlias).where(DocumentTypeAlias.alias == "首程")).one()
    assert alias.document_type.category.name == "病程记录"


def test_departments_belong_to_a_campus(session):
    session.add(Department(code="0301", name="心内科", kind="inpatient", campus_id=1))
    session.flush()
    assert session.scalars(sa.select(Department)).one().campus.name == "本院"


def test_patient_rejects_an_invalid_resident_id(session):
    with pytest.raises(InvalidIdNumber, match="校验位"):
        Patient(record_number="1", name="李四", id_number="110105194912310021")


def test_patient_keeps_a_passport_number_unvalidated(session):
    patient = Patient(record_number="2", name="John", id_type="passport", id_number="E12345678")
    assert patient.id_number == "E12345678"


@pytest.mark.parametrize(
    ("raw", "message"),
    [("1234", "18位"), ("11010519491331002X", "出生日期"), ("11010519491231002A", "数字或X")],
)
def test_id_number_errors_are_explained_in_chinese(raw, message):
    with pytest.raises(InvalidIdNumber, match=message):
        normalise_id_number(raw)


def test_id_number_is_normalised_and_tells_sex():
    assert normalise_id_number(" 11010519491231002x ") == VALID_ID
    assert sex_of(VALID_ID) == "F"
