"""Copying and printing (复印打印): copy packages, applicant types with their papers, copy
requests with fees, the papers shown, the print register; copy.serve and copy.manage given to
the built-in roles (issue 15).

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

NOT_NULL = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"copy_clerk": ["copy.serve"], "archivist": ["copy.serve", "copy.manage"]}

# Papers per applicant type, 2013 规定 art. 17–20 (edited afterwards on the copy-rules page).
ID_CARD = {"code": "id_card", "name": "申请人有效身份证明"}
PATIENT_ID = {"code": "patient_id", "name": "患者有效身份证明"}
AGENCY = [{"code": "agency_proof", "name": "代理关系证明材料"}, {"code": "power_of_attorney", "name": "授权委托书"}]
HEIR = [{"code": "death_certificate", "name": "患者死亡证明"}, {"code": "heir_id", "name": "死亡患者法定继承人身份证明"},
        {"code": "inheritance_proof", "name": "继承关系证明材料"}]
AGENCY_PAPERS = [{"code": "legal_request", "name": "调取病历的法定证明材料（公函）"},
                 {"code": "officer_id", "name": "经办人有效身份证明"}, {"code": "work_id", "name": "经办人工作证明"}]
APPLICANT_TYPES = [
    # code, name, papers, outside (art. 19 list only), free
    ("patient", "患者本人", [ID_CARD], True, False),
    ("agent", "患者代理人", [PATIENT_ID, ID_CARD, *AGENCY], True, False),
    ("heir", "死亡患者法定继承人", [ID_CARD, *HEIR[:1], HEIR[2]], True, False),
    ("heir_agent", "继承人代理人", [ID_CARD, *HEIR, *AGENCY], True, False),
    ("police", "公安机关", AGENCY_PAPERS, False, True),
    ("court", "人民法院、检察院", AGENCY_PAPERS, False, True),
    ("social_security", "人力资源社会保障部门", AGENCY_PAPERS, False, False),
    ("insurer", "保险机构", [*AGENCY_PAPERS, {"code": "policy", "name": "保险合同复印件"},
                          {"code": "consent", "name": "患者或其法定继承人的书面同意书"}], True, False),
    ("appraisal", "医疗事故技术鉴定部门", AGENCY_PAPERS, False, False),
]
# code, name, category codes (0002's catalogue: C02 入院记录, C11 手术记录, C14 出院记录, C21 病理资料,
# C22 辅助检查报告单, C23 医学影像检查资料, C25 医嘱单), copies; [] = all the applicant may have.
PACKAGES = [
    ("reimbursement", "报销套餐", ["C02", "C11", "C14", "C21", "C25"], 1),
    ("follow_up", "复诊套餐", ["C14", "C21", "C22", "C23"], 1),
    ("all", "全部可复印资料", [], 1),
]


def _fk(target: str, name: str, **kw) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name, **kw)


def upgrade() -> None:
    packages = op.create_table(
        "copy_packages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), **NOT_NULL), sa.Column("name", sa.String(100), **NOT_NULL),
        sa.Column("categories", sa.JSON(), **NOT_NULL), sa.Column("copies", sa.Integer(), **NOT_NULL),
        sa.Column("sort_order", sa.Integer(), **NOT_NULL), sa.Column("active", sa.Boolean(), **NOT_NULL),
        sa.UniqueConstraint("code", name="uq_copy_packages_code"),
    )
    applicants = op.create_table(
        "copy_applicant_types",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), **NOT_NULL), sa.Column("name", sa.String(50), **NOT_NULL),
        sa.Column("papers", sa.JSON(), **NOT_NULL), sa.Column("outside", sa.Boolean(), **NOT_NULL),
        sa.Column("free", sa.Boolean(), **NOT_NULL), sa.Column("sort_order", sa.Integer(), **NOT_NULL),
        sa.Column("active", sa.Boolean(), **NOT_NULL),
        sa.UniqueConstraint("code", name="uq_copy_applicant_types_code"),
    )
    op.create_table(
        "copy_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), **NOT_NULL),
        sa.Column("applicant_type", sa.String(32), **NOT_NULL), sa.Column("applicant_name", sa.String(50), **NOT_NULL),
        sa.Column("applicant_id_number", sa.String(32), **NOT_NULL),
        sa.Column("applicant_phone", sa.String(32), **NOT_NULL),
        sa.Column("applicant_organisation", sa.String(100), **NOT_NULL),
        sa.Column("relation", sa.String(50), **NOT_NULL), sa.Column("purpose", sa.String(100), **NOT_NULL),
        sa.Column("card", sa.JSON(), **NOT_NULL), sa.Column("record_ids", sa.JSON(), **NOT_NULL),
        sa.Column("selection", sa.JSON(), **NOT_NULL), sa.Column("items", sa.JSON(), **NOT_NULL),
        sa.Column("copies", sa.Integer(), **NOT_NULL), sa.Column("pages", sa.Integer(), **NOT_NULL),
        sa.Column("stage", sa.Boolean(), **NOT_NULL), sa.Column("warnings", sa.JSON(), **NOT_NULL),
        sa.Column("watermark", sa.String(100), **NOT_NULL),
        sa.Column("fee_fen", sa.Integer(), **NOT_NULL), sa.Column("fee_lines", sa.JSON(), **NOT_NULL),
        sa.Column("payment_method", sa.String(16), **NOT_NULL),
        sa.Column("payment_reference", sa.String(64), **NOT_NULL),
        sa.Column("paid_at", WHEN),
        sa.Column("paid_by_id", sa.Integer(), _fk("users.id", "fk_copy_requests_paid_by_id_users")),
        sa.Column("refund_reason", sa.Text(), **NOT_NULL), sa.Column("refunded_at", WHEN),
        sa.Column("refunded_by_id", sa.Integer(), _fk("users.id", "fk_copy_requests_refunded_by_id_users")),
        sa.Column("job_id", sa.Integer(), _fk("jobs.id", "fk_copy_requests_job_id_jobs")),
        sa.Column("printed_at", WHEN),
        sa.Column("created_by_id", sa.Integer(), _fk("users.id", "fk_copy_requests_created_by_id_users"),
                  **NOT_NULL),
        sa.Column("created_at", WHEN, **NOT_NULL),
    )
    op.create_index("ix_copy_requests_status", "copy_requests", ["status", "created_at"])
    op.create_table(
        "copy_papers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(),
                  _fk("copy_requests.id", "fk_copy_papers_request_id_copy_requests", ondelete="CASCADE"), **NOT_NULL),
        sa.Column("code", sa.String(32), **NOT_NULL), sa.Column("name", sa.String(100), **NOT_NULL),
        sa.Column("sha256", sa.String(64), **NOT_NULL), sa.Column("media_type", sa.String(100), **NOT_NULL),
        sa.Column("size", sa.Integer(), **NOT_NULL),
        sa.Column("uploaded_by_id", sa.Integer(), _fk("users.id", "fk_copy_papers_uploaded_by_id_users"), **NOT_NULL),
        sa.Column("uploaded_at", WHEN, **NOT_NULL),
    )
    op.create_index("ix_copy_papers_request_id", "copy_papers", ["request_id"])
    op.create_table(
        "copy_prints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(),
                  _fk("copy_requests.id", "fk_copy_prints_request_id_copy_requests", ondelete="CASCADE"), **NOT_NULL),
        sa.Column("record_id", sa.Integer(), _fk("records.id", "fk_copy_prints_record_id_records", ondelete="CASCADE"),
                  **NOT_NULL),
        sa.Column("document_id", sa.Integer(), _fk("documents.id", "fk_copy_prints_document_id_documents")),
        sa.Column("title", sa.String(200), **NOT_NULL), sa.Column("version", sa.Integer()),
        sa.Column("pages", sa.String(500), **NOT_NULL), sa.Column("copies", sa.Integer(), **NOT_NULL),
        sa.Column("for_whom", sa.String(200), **NOT_NULL), sa.Column("printed_by", sa.String(64), **NOT_NULL),
        sa.Column("printed_at", WHEN, **NOT_NULL),
    )
    op.create_index("ix_copy_prints_request_id", "copy_prints", ["request_id"])
    op.create_index("ix_copy_prints_record_id", "copy_prints", ["record_id"])
    op.bulk_insert(packages, [{"code": code, "name": name, "categories": categories, "copies": copies,
                               "sort_order": order * 10, "active": True}
                              for order, (code, name, categories, copies) in enumerate(PACKAGES, start=1)])
    op.bulk_insert(applicants, [{"code": code, "name": name, "papers": papers, "outside": outside, "free": free,
                                 "sort_order": order * 10, "active": True}
                                for order, (code, name, papers, outside, free) in enumerate(APPLICANT_TYPES, start=1)])
    give_permissions(op.get_bind(), GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
    for table in ("copy_prints", "copy_papers", "copy_requests", "copy_applicant_types", "copy_packages"):
        op.drop_table(table)
