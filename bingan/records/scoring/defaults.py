"""The scoring standard shipped with Bingan: 100 points in the structure of the published provincial
standards (浙江省住院病历质量评价标准 2021, DOMAIN.md §2), item texts written for Bingan. Stored as
version 1 of 住院病历质量评分标准（默认） the first time scoring needs a standard; a hospital edits it
(a new version) or imports its own (xlsx)."""
from __future__ import annotations

NAME = "住院病历质量评分标准（默认）"
THRESHOLDS = {"甲": 90, "乙": 80}


def _i(text: str, deduction: float, *, max_times: int | None = None, cap: float | None = None, veto: str = "",
       veto_points: float = 10, check: str = "") -> dict:
    return {"text": text, "deduction": deduction, "max_times": max_times, "cap": cap, "veto": veto,
            "veto_points": veto_points, "check": check}


SECTIONS: list[dict] = [
    {"name": "病案首页", "points": 10, "items": [
        _i("首页必填项目缺项或填写错误（每项）", 0.5, check="front_page"),
        _i("主要诊断选择错误", 3, max_times=1),
        _i("其他诊断漏填或填写不规范（每项）", 0.5, cap=2),
        _i("主要手术及操作选择错误或漏填", 2, max_times=1),
        _i("疾病或手术编码不符合规范（每项）", 0.5, check="codes"),
        _i("医师签名缺失或不可辨认", 1, max_times=1),
    ]},
    {"name": "入院记录—主诉", "points": 2, "items": [
        _i("主诉缺失，或不能反映主要症状（体征）及持续时间", 2, max_times=1),
        _i("主诉描述不精练、超过20字或使用诊断名称代替症状", 1, max_times=1),
    ]},
    {"name": "入院记录—现病史", "points": 6, "items": [
        _i("起病情况、主要症状特点及其发展变化描述不清", 2, max_times=1),
        _i("伴随症状或有鉴别意义的阴性症状缺失", 1, max_times=1),
        _i("入院前诊治经过及结果未记录（含用药名称、剂量）", 2, max_times=1),
        _i("一般情况（饮食、睡眠、大小便、体重）未记录", 1, max_times=1),
        _i("现病史与主诉不符", 2, max_times=1),
    ]},
    {"name": "入院记录—既往史", "points": 2, "items": [
        _i("既往重要疾病、手术外伤史、输血史缺项（每项）", 0.5),
        _i("药物过敏史未记录或与其他记录矛盾", 1, max_times=1),
    ]},
    {"name": "入院记录—个人史、婚育史、月经史、家族史", "points": 3, "items": [
        _i("个人史、婚育史缺项（每项）", 0.5),
        _i("女性患者月经史缺失", 1, max_times=1),
        _i("家族史未记录，或遗传病相关家族史未询问", 1, max_times=1),
    ]},
    {"name": "入院记录—专项评估", "points": 3, "items": [
        _i("营养、疼痛、跌倒、血栓风险等入院评估缺项（每项）", 1),
        _i("康复、心理评估应做未做", 1, max_times=1),
    ]},
    {"name": "入院记录—体格检查", "points": 2, "items": [
        _i("体格检查项目缺项（每项）", 0.5),
        _i("专科检查描述不全面或与病情不符", 1, max_times=1),
    ]},
    {"name": "入院记录—辅助检查", "points": 2, "items": [
        _i("入院前重要辅助检查结果未记录或未注明检查机构及日期", 1, max_times=2),
    ]},
    {"name": "入院记录—诊断", "points": 4, "items": [
        _i("入院记录未在患者入院后24小时内完成", 0, veto="fixed", check="timeliness:入院记录"),
        _i("初步诊断不规范、不全面或主次不分", 1, max_times=2),
        _i("诊断依据不足或与病史、体征不符", 2, max_times=1),
    ]},
    {"name": "首次病程记录", "points": 6, "items": [
        _i("首次病程记录缺失或未在患者入院8小时内完成", 0, veto="fixed", check="timeliness:首次病程"),
        _i("病例特点未归纳或照抄入院记录", 2, max_times=1),
        _i("拟诊讨论（诊断依据及鉴别诊断）缺乏分析", 2, max_times=1),
        _i("诊疗计划不具体、无针对性", 2, max_times=1),
    ]},
    {"name": "上级医师查房记录", "points": 5, "items": [
        _i("入院48小时内无主治医师首次查房记录", 2, max_times=1),
        _i("入院72小时内无副主任医师及以上查房记录", 2, max_times=1),
        _i("查房记录无上级医师对病情的分析和诊疗意见（每次）", 1),
    ]},
    {"name": "日常病程记录", "points": 18, "items": [
        _i("病程记录未按规定频次记录（病危每天、病重每2天、一般每3天，每次）", 1),
        _i("病情变化、重要检查结果异常未记录分析及处理（每次）", 2),
        _i("重要医嘱更改（抗菌药物、化疗、输血等）未记录理由（每次）", 1),
        _i("有创诊疗操作无操作记录（每次）", 2),
        _i("输血病历无输血前评估、输血记录或输血后效果评价", 2, max_times=2),
        _i("阶段小结、交接班记录、转科记录缺失或不规范（每项）", 1),
        _i("病程记录存在不合理复制（内容雷同）", 2, max_times=2),
    ]},
    {"name": "围手术期记录", "points": 12, "items": [
        _i("无手术记录或手术记录未在术后24小时内完成", 0, veto="fixed", check="timeliness:手术记录"),
        _i("术前小结、术前讨论缺失或内容不全", 2, max_times=2),
        _i("麻醉术前访视、麻醉记录、麻醉术后访视缺项（每项）", 1),
        _i("手术安全核查表、手术风险评估表缺失或未签名（每项）", 2),
        _i("术后首次病程记录未即时完成或内容不全", 1, max_times=1),
        _i("术后3天内无每天病程记录", 1, max_times=1),
    ]},
    {"name": "出院（死亡）记录", "points": 5, "items": [
        _i("出院（死亡）记录缺失", 0, veto="fixed"),
        _i("出院记录未在出院后24小时内完成", 1, max_times=1, check="timeliness:出院记录"),
        _i("入院情况、诊疗经过、出院情况描述不全（每项）", 1),
        _i("出院医嘱不具体（带药名称、剂量、复诊时间）", 1, max_times=1),
        _i("死亡病例讨论记录缺失或未在1周内完成", 2, max_times=1),
    ]},
    {"name": "知情同意书", "points": 10, "items": [
        _i("手术、麻醉、输血、特殊检查治疗应签署知情同意书而未签署", 0, veto="grade"),
        _i("知情同意书内容不全（风险、替代方案等，每份）", 2),
        _i("患者或授权委托人签名缺失、无授权委托书（每份）", 2),
        _i("病危（重）通知书未告知或无签字", 2, max_times=1),
    ]},
    {"name": "会诊记录", "points": 4, "items": [
        _i("会诊申请单无申请理由或目的（每次）", 1),
        _i("会诊意见未在规定时限内完成或未记录在病程中（每次）", 1),
    ]},
    {"name": "医嘱单", "points": 2, "items": [
        _i("医嘱开具、停止时间不明确或无医师签名（每处）", 0.5),
        _i("医嘱与病程记录、检查报告不对应（每处）", 0.5),
    ]},
    {"name": "病历书写基本要求", "points": 4, "items": [
        _i("病历中有缺失的记录或报告单（每项）", 1, check="completeness"),
        _i("记录未按规定时限完成（每处）", 0.5, check="timeliness"),
        _i("缺医师电子签名或签名不可辨认（每处）", 0.5, check="signatures"),
        _i("错别字、涂改、字迹不清、使用非规范缩写（每处）", 0.5, cap=2),
        _i("归档质控意见未整改（每条）", 0.5, check="qc_comment"),
        _i("伪造、篡改、隐匿病历", 0, veto="grade"),
    ]},
]
