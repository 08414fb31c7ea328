"""SQLAlchemy models of the core domain; importing this module registers every table."""
from bingan.storage.models.access import (
    Announcement,
    BrowsingHistory,
    CategoryTemplate,
    Favourite,
    Grant,
    IpRule,
    LoginFailure,
    TagPermission,
    TotpEnrolment,
    UserScope,
    WebSession,
)
from bingan.storage.models.approvals import (
    ApprovalAction,
    ApprovalAttachment,
    ApprovalFlow,
    ApprovalRequest,
    ApprovalTask,
    Message,
)
from bingan.storage.models.audit import AuditEvent, SystemSetting
from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import (
    Category,
    Document,
    DocumentType,
    DocumentTypeAlias,
    Page,
    Version,
)
from bingan.storage.models.ingest import CollectedItem, CollectionRun, Source, SourceMapping
from bingan.storage.models.lifecycle import PendingChange
from bingan.storage.models.organisation import Campus, Department, PasswordHistory, Role, User
from bingan.storage.models.records import (
    Diagnosis,
    Operation,
    Patient,
    Record,
    RecordNumberAlias,
    Tag,
)
from bingan.storage.models.search import IndexAccessOutbox, SynonymGroup

__all__ = [
    "Announcement",
    "ApprovalAction",
    "ApprovalAttachment",
    "ApprovalFlow",
    "ApprovalRequest",
    "ApprovalTask",
    "AuditEvent",
    "Base",
    "BrowsingHistory",
    "Campus",
    "Category",
    "CategoryTemplate",
    "CollectedItem",
    "CollectionRun",
    "Department",
    "Diagnosis",
    "Document",
    "DocumentType",
    "DocumentTypeAlias",
    "Favourite",
    "Grant",
    "IndexAccessOutbox",
    "IpRule",
    "LoginFailure",
    "Message",
    "Operation",
    "Page",
    "PasswordHistory",
    "Patient",
    "PendingChange",
    "Record",
    "RecordNumberAlias",
    "Role",
    "Source",
    "SourceMapping",
    "SynonymGroup",
    "SystemSetting",
    "Tag",
    "TagPermission",
    "TotpEnrolment",
    "User",
    "UserScope",
    "Version",
    "WebSession",
    "utcnow",
]
