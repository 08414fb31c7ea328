"""Permission codes and what the built-in roles hold by default.

Separation of duties (等保 level 3): the system administrator runs the system but reads no
audit trail and grants nothing; the security administrator manages users, roles, IP rules,
grants and leak tracing; the audit administrator only reads the audit trail.
"""
from __future__ import annotations

from dataclasses import dataclass

# Record actions a role or a category template is given as ``record.<action>``.
RECORD_ACTIONS = ("view", "download", "print", "export", "change", "approve", "tag")

PERMISSIONS: dict[str, str] = {
    "record.view": "查阅病案",
    "record.download": "下载病案文件",
    "record.print": "打印病案",
    "record.export": "导出病案",
    "record.change": "修改病案",
    "record.approve": "审批",
    "record.tag": "给病案加标签",
    "scope.all_departments": "全院数据范围",
    "record.timeline_viewers": "查看病案的查阅人及地址",
    "search.use": "检索",
    "lookup.use": "批量查询病案号",
    "tags.manage": "管理标签",
    "audit.read": "查看审计日志",
    "audit.export": "导出审计日志",
    "users.manage": "管理用户",
    "roles.manage": "管理角色与权限",
    "ip_rules.manage": "管理访问地址规则",
    "grants.manage": "授予临时权限",
    "leak.trace": "泄露溯源",
    "system.settings": "系统设置",
    "system.status": "系统状态",
    "announcements.manage": "发布公告",
    "borrow.apply": "申请借阅",
    "seal.apply": "申请封存与解封",
    "seal.manage": "封存管理（封存清单、导出封存件）",
    "flows.manage": "管理审批流程",
    "record.submit": "提交归档",
    "record.mark": "标记缺项与特殊病案",
    "completeness.manage": "维护完整性规则与文书对照",
    "qc.review": "归档质控",
    "changes.review": "审核归档后变更",
    "calendar.manage": "维护节假日与归档时限",
    "reports.view": "查看统计报表",
    "borrow.manage": "借阅管理（全部借阅、收回）",
    "recall.apply": "申请召回",
    "retention.manage": "保存期限与到期销毁",
    "copy.serve": "复印登记与收费",
    "copy.manage": "复印套餐与收费标准",
    "copy.ledger": "复印收费台账与统计",
    "copy.online": "网上复印申请（患者端应用的接口令牌）",
    "copy.kiosk": "自助复印打印机（患者刷身份证复印本人病案；仅能使用自助机页面）",
    "scan.capture": "数字化拍摄（拍摄、上传、重拍、返工）",
    "scan.review": "数字化影像审核（初审、复审）",
    "collection.monitor": "采集监控（来源状态、失败重试、告警）",
    "bigscreen.view": "大屏展示",
    "scan.import": "历史病案批量导入",
    "statistics.view": "查看统计报表与质控指标",
    "statistics.manage": "维护指标月度数据、必备文书与自定义报表",
    "scoring.manage": "终末质控管理（评分标准、抽查任务）",
    "scoring.review": "终末质控评分",
}

_READER = ["record.view", "search.use", "lookup.use"]

ROLE_DEFAULTS: dict[str, list[str]] = {
    "sysadmin": ["system.settings", "system.status", "announcements.manage", "flows.manage", "calendar.manage",
                 "collection.monitor", "bigscreen.view"],
    "secadmin": ["users.manage", "roles.manage", "ip_rules.manage", "grants.manage", "leak.trace"],
    "auditor": ["audit.read", "audit.export"],
    "archivist": [*_READER, "record.download", "record.print", "record.export", "record.change",
                  "record.tag", "scope.all_departments", "tags.manage", "announcements.manage",
                  "record.timeline_viewers", "record.mark", "completeness.manage", "qc.review", "changes.review",
                  "reports.view", "borrow.manage", "recall.apply", "copy.serve", "copy.manage",
                  "retention.manage", "scan.capture", "scan.review", "collection.monitor", "bigscreen.view",
                  "scan.import",
                  "copy.ledger", "statistics.view", "statistics.manage", "scoring.manage", "scoring.review"],
    "qc": [*_READER, "record.change", "record.tag", "scope.all_departments", "qc.review", "changes.review",
           "reports.view", "statistics.view", "scoring.manage", "scoring.review"],
    "clinician": [*_READER, "record.print", "record.tag", "borrow.apply", "record.submit", "record.mark",
                  "recall.apply"],
    # 科主任: a clinician who also approves (借阅、召回的科室审核) within the department only.
    "dept_head": [*_READER, "record.print", "record.tag", "record.approve", "borrow.apply", "record.submit",
                  "record.mark", "recall.apply"],
    "nurse": ["record.view", "search.use"],
    "medical_affairs": [*_READER, "record.export", "record.approve", "scope.all_departments", "grants.manage",
                        "seal.apply", "seal.manage", "reports.view", "borrow.manage", "copy.ledger",
                        "statistics.view", "statistics.manage"],
    "copy_clerk": [*_READER, "record.print", "scope.all_departments", "copy.serve", "copy.ledger"],
    # 自助机: the service account of the self-service copy kiosk; it holds this one permission and
    # reaches nothing but the kiosk's pages (bingan/web/kiosk.py), whatever other role it is given.
    "kiosk": ["copy.kiosk"],
}

# The three administrator families (三员); nobody holds permissions of two of them.
ADMIN_FAMILIES: dict[str, frozenset[str]] = {
    "系统管理": frozenset({"system.settings", "system.status", "flows.manage"}),
    "安全管理": frozenset({"users.manage", "roles.manage", "ip_rules.manage", "grants.manage", "leak.trace"}),
    "审计管理": frozenset({"audit.read", "audit.export"}),
}

# Running the system, its accounts and its audit trail. A holder of these reads no patient data
# (三员分立): a role or user combining them with PATIENT_DATA is refused.
ADMINISTRATION = frozenset({"system.settings", "system.status", "flows.manage", "users.manage", "roles.manage",
                            "ip_rules.manage", "audit.read", "audit.export"})
PATIENT_DATA = frozenset({*(f"record.{action}" for action in RECORD_ACTIONS), "scope.all_departments",
                          "search.use", "lookup.use", "borrow.apply", "seal.apply", "seal.manage", "record.submit",
                          "record.mark", "qc.review", "changes.review", "reports.view", "borrow.manage",
                          "copy.serve", "copy.kiosk", "recall.apply", "retention.manage", "scan.capture", "scan.review",
                          "scan.import", "copy.ledger", "statistics.view", "statistics.manage", "scoring.manage",
                          "scoring.review"})

# Whoever holds one of these must use a second factor (等保 level 3: two factors, one
# cryptographic): every administrative or granting right, and data rights over the whole hospital.
# Approving (record.approve) counts as granting: an approved borrowing becomes a grant.
SECOND_FACTOR = ADMINISTRATION | frozenset({"grants.manage", "leak.trace", "tags.manage", "announcements.manage",
                                            "scope.all_departments", "seal.manage", "record.approve"})

# Who sees on a record's timeline who read it and from where: the record room and auditors.
SEES_RECORD_READERS = frozenset({"record.timeline_viewers", "audit.read"})

ACTION_NAMES = {
    "view": "查阅", "download": "下载", "print": "打印", "export": "导出",
    "change": "修改", "approve": "审批", "tag": "加标签",
    "apply_borrow": "申请借阅", "apply_seal": "申请封存", "apply_unseal": "申请解封",
    "seal_list": "打印封存清单", "seal_export": "导出封存件",
    "submit": "提交归档", "mark": "标记缺项", "qc": "归档质控", "review_change": "审核变更",
    "apply_recall": "申请召回", "copy": "复印", "apply_destroy": "申请销毁", "scan": "数字化拍摄",
    "scan_review": "数字化影像审核",
}


@dataclass(frozen=True)
class ActionRule:
    """What the gate asks of a user for one action on one record, besides who the user is
    (active, allowed address): ``access`` stays about who; what a record's *state* allows
    (only archived records print…) belongs to the workflow domain.

    ``department_scope``: the record must be within the user's data scope — departments,
    campuses, confidentiality level, restricted tags. Applying for something (to borrow a
    record you may not see) does not need it: the approval flow decides.
    ``while_sealed``: allowed on a sealed record (applying to unseal, the seal manager's list
    and export). ``grantable``: a grant on the record can give it instead of the permission.
    """

    permission: str
    department_scope: bool = True
    while_sealed: bool = False
    grantable: bool = False


ACTION_RULES: dict[str, ActionRule] = {
    "view": ActionRule("record.view", grantable=True),
    "download": ActionRule("record.download", grantable=True),
    "print": ActionRule("record.print", grantable=True),
    "export": ActionRule("record.export", grantable=True),
    "change": ActionRule("record.change"),
    "approve": ActionRule("record.approve"),
    "tag": ActionRule("record.tag"),
    "apply_borrow": ActionRule("borrow.apply", department_scope=False),
    "apply_seal": ActionRule("seal.apply", department_scope=False),
    "apply_unseal": ActionRule("seal.apply", department_scope=False, while_sealed=True),
    "seal_list": ActionRule("seal.manage", department_scope=False, while_sealed=True),
    "seal_export": ActionRule("seal.manage", department_scope=False, while_sealed=True),
    "submit": ActionRule("record.submit"),
    "mark": ActionRule("record.mark"),
    "qc": ActionRule("qc.review"),
    "review_change": ActionRule("changes.review"),
    "apply_recall": ActionRule("recall.apply"),
    "apply_destroy": ActionRule("retention.manage"),
    "copy": ActionRule("copy.serve"),
    "scan": ActionRule("scan.capture"),
    "scan_review": ActionRule("scan.review"),
}
GRANTABLE = tuple(action for action, rule in ACTION_RULES.items() if rule.grantable)


def permission_for(action: str) -> str:
    return ACTION_RULES[action].permission
