"""Who a user is at the hospital's identity providers: single sign-on subjects and login certificates."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User

# oidc: "issuer|sub" · cas: the CAS user name · certificate: the certificate's key (subject DN or issuer|serial)
IDENTITY_KINDS = ("oidc", "cas", "certificate")


class SsoIdentity(Base):
    """One identity a user signs in with instead of a password (统一身份认证, CA 证书).

    Written at the first single sign-on (or bound by the administrator for certificates); a user
    holding one is an SSO user, whom BINGAN_SSO_PASSWORD_LOGIN=false keeps from password login.
    """

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("kind", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()
