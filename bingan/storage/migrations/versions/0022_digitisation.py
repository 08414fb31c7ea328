"""Paper records (病案数字化加工): captured pages with quality verdicts and review state, review
decisions, boxes on shelves, which box holds a record, paper moves; scan.capture given to the
record room (issue 16).

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"archivist": ["scan.capture"]}


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kwargs)


def upgrade() -> None:
    op.create_table(
        "scan_pages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), _fk("scan_pages", "record_id", "records", ondelete="CASCADE"), **NOW),
        sa.Column("category_id", sa.Integer(), _fk("scan_pages", "category_id", "categories"), **NOW),
        sa.Column("position", sa.Integer(), **NOW), sa.Column("image_sha256", sa.String(64), **NOW),
        sa.Column("media_type", sa.String(32), **NOW), sa.Column("width", sa.Integer(), **NOW),
        sa.Column("height", sa.Integer(), **NOW), sa.Column("quality", sa.JSON(), **NOW),
        sa.Column("flagged", sa.Boolean(), **NOW), sa.Column("state", sa.String(16), **NOW),
        sa.Column("reject_reason", sa.Text(), **NOW), sa.Column("reshoots", sa.Integer(), **NOW),
        sa.Column("captured_by_id", sa.Integer(), _fk("scan_pages", "captured_by_id", "users")),
        sa.Column("captured_at", WHEN, **NOW),
        sa.Column("reviewed_by_id", sa.Integer(), _fk("scan_pages", "reviewed_by_id", "users")),
        sa.Column("reviewed_at", WHEN),
    )
    op.create_index("ix_scan_pages_queue", "scan_pages", ["state", "flagged"])
    op.create_index("ix_scan_pages_record", "scan_pages", ["record_id", "category_id", "position"])
    op.create_table(
        "scan_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("page_id", sa.Integer(), _fk("scan_reviews", "page_id", "scan_pages", ondelete="CASCADE"), **NOW),
        sa.Column("queue", sa.String(16), **NOW), sa.Column("decision", sa.String(16), **NOW),
        sa.Column("reason", sa.Text(), **NOW),
        sa.Column("reviewer_id", sa.Integer(), _fk("scan_reviews", "reviewer_id", "users"), **NOW),
        sa.Column("decided_at", WHEN, **NOW),
    )
    op.create_index("ix_scan_reviews_page_id", "scan_reviews", ["page_id"])
    op.create_table(
        "paper_boxes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("barcode", sa.String(32), **NOW), sa.Column("title", sa.String(100), **NOW),
        sa.Column("room", sa.String(64), **NOW), sa.Column("rack", sa.String(32), **NOW),
        sa.Column("level", sa.Integer()), sa.Column("position", sa.Integer()),
        sa.Column("created_at", WHEN, **NOW),
        sa.UniqueConstraint("barcode", name="uq_paper_boxes_barcode"),
    )
    op.create_table(
        "paper_placements",
        sa.Column("record_id", sa.Integer(), _fk("paper_placements", "record_id", "records", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("box_id", sa.Integer(), _fk("paper_placements", "box_id", "paper_boxes"), **NOW),
        sa.Column("placed_at", WHEN, **NOW),
        sa.Column("placed_by_id", sa.Integer(), _fk("paper_placements", "placed_by_id", "users")),
    )
    op.create_index("ix_paper_placements_box_id", "paper_placements", ["box_id"])
    op.create_table(
        "paper_moves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), **NOW),
        sa.Column("record_id", sa.Integer(), _fk("paper_moves", "record_id", "records", ondelete="CASCADE")),
        sa.Column("box_id", sa.Integer(), _fk("paper_moves", "box_id", "paper_boxes"), **NOW),
        sa.Column("place_from", sa.String(200), **NOW), sa.Column("place_to", sa.String(200), **NOW),
        sa.Column("actor_id", sa.Integer(), _fk("paper_moves", "actor_id", "users")),
        sa.Column("moved_at", WHEN, **NOW),
    )
    op.create_index("ix_paper_moves_record_id", "paper_moves", ["record_id"])
    op.create_index("ix_paper_moves_box_id", "paper_moves", ["box_id"])
    _give_permissions()


def _roles() -> sa.Table:
    return sa.table("roles", sa.column("id", sa.Integer()), sa.column("code", sa.String()),
                    sa.column("permissions", sa.JSON()))


def _give_permissions() -> None:
    """A built-in role gains each new permission; a role the administrators removed stays removed."""
    roles, bind = _roles(), op.get_bind()
    for role_code, codes in GIVEN.items():
        for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)
                                                 .where(roles.c.code == role_code)):
            missing = [code for code in codes if code not in (permissions or [])]
            if missing:
                bind.execute(roles.update().where(roles.c.id == role_id)
                             .values(permissions=[*(permissions or []), *missing]))


def downgrade() -> None:
    roles, bind = _roles(), op.get_bind()
    for role_code, codes in GIVEN.items():
        for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)
                                                 .where(roles.c.code == role_code)):
            bind.execute(roles.update().where(roles.c.id == role_id)
                         .values(permissions=[p for p in permissions or [] if p not in codes]))
    for table in ("paper_moves", "paper_placements", "paper_boxes", "scan_reviews", "scan_pages"):
        op.drop_table(table)
