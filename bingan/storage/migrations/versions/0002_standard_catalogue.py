"""Standard catalogue: categories in archive filing order, document types, built-in roles, the main campus

Initial data, editable later in the UI; this migration inserts it once and never overwrites edits.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (category, copyable per 2013 规定 art. 19, [document types]) in the filing order of art. 9.
CATALOGUE = [
    ("住院病案首页", False, ["住院病案首页"]),
    ("入院记录", True, ["入院记录", "再次或多次入院记录", "24小时内入出院记录", "24小时内入院死亡记录"]),
    ("病程记录", False, [
        "首次病程记录", "日常病程记录", "上级医师查房记录", "疑难病例讨论记录", "交接班记录",
        "转科记录", "阶段小结", "抢救记录", "有创诊疗操作记录", "出院前讨论记录",
    ]),
    ("术前讨论记录", False, ["术前讨论记录", "术前小结"]),
    ("手术同意书", True, ["手术知情同意书"]),
    ("麻醉同意书", True, ["麻醉知情同意书"]),
    ("麻醉术前访视记录", False, ["麻醉术前访视记录"]),
    ("手术安全核查记录", False, ["手术安全核查记录"]),
    ("手术清点记录", False, ["手术清点记录"]),
    ("麻醉记录", True, ["麻醉记录"]),
    ("手术记录", True, ["手术记录"]),
    ("麻醉术后访视记录", False, ["麻醉术后访视记录"]),
    ("术后病程记录", False, ["术后首次病程记录", "术后病程记录"]),
    ("出院记录", True, ["出院记录"]),
    ("死亡记录", False, ["死亡记录"]),
    ("死亡病例讨论记录", False, ["死亡病例讨论记录"]),
    ("输血治疗知情同意书", True, ["输血治疗知情同意书", "输血记录"]),
    ("特殊检查(特殊治疗)同意书", True, ["特殊检查(特殊治疗)同意书", "其他知情同意书"]),
    ("会诊记录", False, ["会诊记录"]),
    ("病危(重)通知书", False, ["病危(重)通知书"]),
    ("病理资料", True, ["病理报告", "冰冻病理报告"]),
    ("辅助检查报告单", True, [
        "检验报告", "心电图报告", "超声报告", "内镜报告", "肺功能报告", "脑电图报告", "其他检查报告",
    ]),
    ("医学影像检查资料", True, ["CT报告", "MRI报告", "X线报告", "核医学报告", "影像图像"]),
    ("体温单", True, ["体温单"]),
    ("医嘱单", True, ["长期医嘱单", "临时医嘱单"]),
    ("病重(病危)患者护理记录", True, ["病重(病危)患者护理记录", "一般护理记录", "护理评估单"]),
    ("门(急)诊病历", False, ["门诊病历", "急诊病历", "门诊处方"]),
    ("其他资料", False, ["费用清单", "手术视频", "扫描资料", "其他"]),
]

# Built-in roles; access/ defines what each permission code allows.
ROLES = [
    ("sysadmin", "系统管理员"),
    ("secadmin", "安全管理员"),
    ("auditor", "审计管理员"),
    ("archivist", "病案管理员"),
    ("qc", "质控员"),
    ("clinician", "临床医生"),
    ("nurse", "护士"),
    ("medical_affairs", "医务处"),
    ("copy_clerk", "复印窗口"),
]


def upgrade() -> None:
    meta = sa.MetaData()
    categories = sa.Table("categories", meta, autoload_with=op.get_bind())
    types = sa.Table("document_types", meta, autoload_with=op.get_bind())
    roles = sa.Table("roles", meta, autoload_with=op.get_bind())
    campuses = sa.Table("campuses", meta, autoload_with=op.get_bind())
    bind = op.get_bind()
    for order, (name, copyable, type_names) in enumerate(CATALOGUE, start=1):
        code = f"C{order:02d}"
        category_id = bind.execute(
            categories.insert().values(
                code=code, name=name, filing_order=order * 10, copyable=copyable, active=True
            )
        ).inserted_primary_key[0]
        for position, type_name in enumerate(type_names, start=1):
            bind.execute(
                types.insert().values(
                    code=f"{code}{position:02d}", name=type_name, category_id=category_id,
                    filing_order=position * 10, active=True,
                )
            )
    for code, name in ROLES:
        bind.execute(roles.insert().values(code=code, name=name, permissions=[], builtin=True))
    bind.execute(campuses.insert().values(code="main", name="本院", active=True))


def downgrade() -> None:
    op.execute("DELETE FROM document_types")
    op.execute("DELETE FROM categories")
    op.execute("DELETE FROM roles WHERE builtin")
    op.execute("DELETE FROM campuses WHERE code = 'main'")
