"""Statistics at a million records (issue 20): covering indexes for the per-record document facts
and for the workload, borrowing and copying reports by date.

Revision ID: 0037
Revises: 0036
"""
from alembic import op


revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

NEW = [
    ("ix_qc_reviews_finished", "qc_reviews", ["finished_at", "status", "passed_by_id", "record_id"]),
    ("ix_qc_returns_returned", "qc_returns", ["returned_at", "returned_by_id", "record_id"]),
    ("ix_scan_pages_captured", "scan_pages", ["captured_at", "captured_by_id", "record_id"]),
    ("ix_scan_reviews_decided", "scan_reviews", ["decided_at", "reviewer_id", "decision", "page_id"]),
    ("ix_copy_requests_created", "copy_requests", ["created_at"]),
    ("ix_borrowings_created", "borrowings", ["created_at"]),
]


def upgrade() -> None:
    op.drop_index("ix_documents_record_type", table_name="documents")
    op.create_index("ix_documents_record_type", "documents",
                    ["record_id", "document_type_id", "removed", "current_version_id", "written_at", "signed_at",
                     "origin"])
    for name, table, columns in NEW:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(NEW):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_documents_record_type", table_name="documents")
    op.create_index("ix_documents_record_type", "documents", ["record_id", "document_type_id"])
