"""The audit events' names in Chinese: one table for the audit viewer, its export and the record timeline."""
from __future__ import annotations

ACTION_NAMES = {
    # sign-in and the user's own account
    "login": "登录", "second_factor": "二次验证", "login_failed": "登录失败", "logout": "退出", "locked": "账号锁定",
    "session_timeout": "会话超时", "password_change": "修改密码", "totp_enrol": "绑定动态口令",
    # reading
    "view": "查阅", "page_view": "查看页面", "download": "下载", "print": "打印", "export": "导出",
    "search": "检索", "lookup": "批量查询", "denied": "拒绝访问", "favourite": "收藏", "checks_view": "查看自检结果",
    "job.result_download": "下载任务结果", "approval.attachment_view": "查看审批附件",
    # a record changed
    "change": "修改", "tag": "标签", "status": "病案状态变更", "version": "版本处理",
    "pending_change": "归档后变更审核", "submit": "提交归档", "mark": "标记缺项", "mark_close": "缺项补收",
    "recollect": "重新采集", "collection.retry": "重新采集失败项", "record.destroy": "到期销毁",
    "record.prints": "查看打印记录",
    # who may reach a record
    "grant": "授权", "revoke": "撤销授权", "grant_extend": "延长授权",
    "seal": "封存", "unseal": "解封", "seal.sealed": "封存", "seal.unsealed": "解除封存", "seal.view": "查看封存",
    "seal.reminder": "封存提醒", "seal.package_download": "下载封存件", "seal.list": "查看封存登记",
    "seal.list_print": "打印封存登记", "seal.certificate": "安装封存签名证书",
    "legal_hold": "法律保全", "legal_hold_release": "解除法律保全",
    # approvals
    "approval": "审批", "approval.attach": "上传审批附件", "approval.flow_save": "保存审批流程",
    "approval.flow_delete": "删除审批流程",
    # archive QC and signatures
    "qc.comment": "质控意见", "qc.comment_delete": "删除质控意见", "qc.return": "质控退回", "qc.pass": "质控通过",
    "qc.take": "开始质控", "qc.reply": "整改说明", "qc.resubmit": "整改后重新提交", "qc.pass_step": "质控环节通过",
    "archive.sign": "归档签章", "archive.verify": "验证归档签章", "archive.copy_download": "下载签章归档副本",
    "signing.certificate": "安装签章证书",
    "signature.online_check": "联机验证文书签名证书",
    "archive_deadline": "修改归档时限", "calendar_day": "修改节假日", "calendar_year": "导入年度节假日",
    "completeness.rule_save": "保存完整性规则", "completeness.rule_delete": "删除完整性规则",
    "completeness.visit_scope": "修改住院/门诊适用范围",
    "special_kind_add": "添加特殊病案类型", "special_kind_enable": "启用/停用特殊病案类型",
    # recall
    "recall": "召回", "recall.resubmit": "召回后重新提交", "recall.overdue": "召回逾期",
    # borrowing
    "borrow.search": "借阅检索", "borrow.export": "导出借阅记录", "borrow.remind": "借阅到期提醒",
    "borrow.settings": "修改借阅设置", "borrow.purpose_add": "添加借阅目的", "borrow.purpose_retire": "停用借阅目的",
    # copying, exports and share links
    "copy.find": "复印查找病案", "copy.view": "查看复印申请", "copy.list": "查看复印申请列表",
    "copy.request": "复印申请", "copy.paper_add": "上传证明材料", "copy.paper_view": "查看证明材料",
    "copy.pay": "收费", "copy.refund": "退费", "copy.cancel": "取消复印申请", "copy.print": "复印打印",
    "copy.print_open": "打开复印件", "copy.ledger_view": "查看复印登记", "copy.rules_change": "修改复印规则",
    "copy.package_save": "保存复印套餐", "copy.applicant_type_save": "保存申请人类型",
    "copy.copyable_change": "修改可复印分类", "copy.seal_set": "上传医院印章图片",
    "copy.seal_remove": "删除医院印章图片", "copy.receipt": "打印收费收据", "copy.application_form": "打印复印申请表",
    "copy.online_apply": "网上复印申请", "copy.online_approve": "网上复印审核通过",
    "copy.online_reject": "驳回网上复印申请", "copy.online_download": "患者下载复印件",
    "copy.online_refused": "患者下载复印件被拒", "copy.online_view": "查看网上复印申请",
    "copy.online_list": "查看网上复印审核队列",
    "copy.kiosk_identify": "自助机识别患者", "copy.kiosk_refused": "自助机拒绝患者",
    "copy.kiosk_records": "自助机查看本人病案", "copy.kiosk_choose": "自助机选择复印套餐",
    "copy.kiosk_apply": "自助机复印申请", "copy.kiosk_view": "自助机查看复印申请",
    "copy.kiosk_pay": "自助机缴费", "copy.kiosk_cancel": "自助机取消复印申请",
    "copy.kiosk_print_open": "自助机打开复印件",
    "export.request": "申请导出", "job.start": "开始后台任务",
    "share_link.create": "创建分享链接", "share_link.revoke": "撤销分享链接", "share_link.open": "分享链接被打开",
    "share_link.page": "分享链接查看页面", "share_link.refused": "分享链接打开被拒", "share_link.list": "查看分享链接",
    "share_link.view": "查看分享链接详情",
    # paper records
    "scan.capture": "拍摄/扫描页面", "scan.delete": "删除扫描页", "scan.edit": "调整扫描页", "scan.finish": "拍摄完成",
    "scan.refile": "调整扫描页分类", "scan.reorder": "调整扫描页顺序", "scan.reshoot": "要求重拍",
    "scan.review": "扫描审核", "scan.import": "历史扫描件导入", "scan.import_pause": "暂停导入",
    "scan.import_resume": "继续导入", "paper.box": "装盒", "paper.move": "移动纸质病案",
    # storage
    "tier.move": "文件转入冷存储", "tier.prefetch": "预取回热存储", "retention.rule": "修改保存期限",
    "locate_export": "命令行解密导出",
    # final QC (终末质控)
    "scoring.open": "打开终末质控评分", "scoring.review": "终末质控评分提交", "scoring.standard_save": "保存评分标准",
    "scoring.standard_current": "启用评分标准版本", "scoring.task_create": "创建抽查任务",
    "scoring.task_close": "关闭抽查任务",
    # statistics
    "indicator_input": "填报质控指标", "indicator_requirement_add": "添加指标必备文书",
    "indicator_requirement_remove": "删除指标必备文书", "saved_report_save": "保存自定义报表",
    "saved_report_delete": "删除自定义报表",
    # administration
    "audit_export": "导出审计日志", "audit_purge": "清理审计日志", "settings": "修改设置",
    "user_change": "用户管理", "role_change": "角色权限", "access_rule": "访问规则", "announcement": "公告",
    "leak_trace": "泄露溯源", "api_token.create": "创建接口令牌", "api_token.revoke": "吊销接口令牌",
    "embed_system.create": "登记嵌入系统", "embed_system.enable": "启用/停用嵌入系统", "embed_refused": "嵌入链接被拒",
    "source_create": "新建采集源", "source_change": "修改采集源", "source_fields": "修改采集源字段",
    "source_mapping": "保存采集映射", "source_mapping_delete": "删除采集映射", "source_run": "立即采集",
    "source_test": "测试采集源连接", "source_key_revoke": "吊销推送密钥",
    "alias_save": "保存病案号别名", "alias_delete": "删除病案号别名", "alias_sync": "同步病案号别名",
    "document_type_alias_add": "添加文书类型别名", "document_type_alias_remove": "删除文书类型别名",
}
