"""Security review (issue 9): session lifetimes, second-factor resets, keyed audit chain, index access outbox.

Revision ID: 0005
Revises: 0004
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _sessions()
    _audit()
    _index()
    _files()


def _sessions() -> None:
    """Logins and the second factor: authenticator secrets move to a column wide enough for their
    sealed form (bingan/access/sealed_secrets.py) and are sealed; failed logins per client address
    feed the login throttle. (A new column rather than a wider one: widening users on SQLite means
    copying the table, and dropping it would cascade to every row that references a user.)"""
    op.add_column("users", sa.Column("totp_sealed", sa.String(255), server_default="", nullable=False))
    op.execute("UPDATE users SET totp_sealed = totp_secret")
    op.drop_column("users", "totp_secret")
    with op.batch_alter_table("totp_enrolments") as batch:
        batch.alter_column("pending_secret", type_=sa.String(255), existing_type=sa.String(64),
                           existing_nullable=False)
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_ip_at", "login_failures", ["client_ip", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])
    _seal_totp_secrets()


def _seal_totp_secrets() -> None:
    """Seal the secrets stored in clear until now with the master key of this installation's
    settings. Without a reachable key they stay as they are and are sealed at their next use."""
    from bingan.access.sealed_secrets import SecretBox, is_sealed
    from bingan.config import get_settings
    from bingan.storage.blobs.port import BlobError

    bind = op.get_bind()
    stores = (("users", "id", "totp_sealed"), ("totp_enrolments", "user_id", "pending_secret"))
    found = [(table, key, column, bind.execute(sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} != ''"))
              .all()) for table, key, column in stores]
    if not any(rows for *_, rows in found):
        return
    try:
        box = SecretBox.of(get_settings())
    except (BlobError, OSError):
        return
    for table, key, column, rows in found:
        for row_id, secret in rows:
            if not is_sealed(secret):
                bind.execute(sa.text(f"UPDATE {table} SET {column} = :sealed WHERE {key} = :id"),
                             {"sealed": box.seal(secret), "id": row_id})


def _audit() -> None:
    """The audit chain: existing events keep their unkeyed hash as chain version 1 (still verified,
    never rewritten); new events are keyed (2). The built-in record room role sees who read a record
    on its timeline (record.timeline_viewers)."""
    op.add_column("audit_events", sa.Column("chain_version", sa.Integer(), server_default="1", nullable=False))
    roles = sa.Table("roles", sa.MetaData(), autoload_with=op.get_bind())
    archivist = sa.and_(roles.c.code == "archivist", roles.c.builtin.is_(True))
    for permissions in op.get_bind().execute(sa.select(roles.c.permissions).where(archivist)).scalars():
        if "record.timeline_viewers" not in permissions:
            op.get_bind().execute(roles.update().where(archivist).values(
                permissions=[*permissions, "record.timeline_viewers"]))


def _index() -> None:
    """The search index's access terms: records whose access facts changed, until the worker
    has updated their pages in the index (bingan/storage/models/search.py)."""
    op.create_table(
        "index_access_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_access_outbox")),
    )
    op.create_index(op.f("ix_index_access_outbox_record_id"), "index_access_outbox", ["record_id"])


def _files() -> None:
    """A video's browser-playable rendition: what a user who may only view is shown (M6)."""
    op.add_column("versions", sa.Column("playable_sha256", sa.String(64), nullable=True))
