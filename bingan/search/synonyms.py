"""The medical synonym and abbreviation dictionary (检索词典) and the switch "同义词扩展".

A group is a list of spellings of one concept (心衰、心力衰竭、心功能不全). With the switch on,
every page-text, 诊断: and 手术: term whose words equal a spelling of a group — compared as the
analyser cuts them, so COPD = copd = ＣＯＰＤ and OCR spaces do not matter — becomes
(term OR each other spelling), each a phrase of its own; a term that only contains a spelling
(慢性心衰) is not expanded. Expansion is one step: the spellings added are not expanded again.
The hospital edits the groups on /admin/synonyms (stored by bingan/records/dictionary.py);
``DEFAULT_GROUPS`` is what a new installation starts with (migration 0006).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from bingan.errors import Refusal
from bingan.search import negation
from bingan.search import query as q
from bingan.search.analysis import analyze, fold, normalize

EXPANDED_FIELDS = (None, "diagnosis", "operation")
MAX_TERM_CHARS = 50
MAX_GROUP_TERMS = 20

# Common diagnoses, procedures and tests with their Chinese short forms and English abbreviations.
# Ambiguous abbreviations (AD, PD, PE, RA, MI) are left out: each names several things in records.
DEFAULT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("心衰", "心力衰竭", "心功能不全"),
    ("慢阻肺", "COPD", "慢性阻塞性肺疾病", "慢性阻塞性肺病"),
    ("冠心病", "冠状动脉粥样硬化性心脏病", "CHD"),
    ("房颤", "心房颤动", "AF"),
    ("房扑", "心房扑动"),
    ("高血压", "高血压病", "原发性高血压", "HTN"),
    ("糖尿病", "DM"),
    ("2型糖尿病", "T2DM", "非胰岛素依赖型糖尿病"),
    ("1型糖尿病", "T1DM", "胰岛素依赖型糖尿病"),
    ("急性心梗", "急性心肌梗死", "急性心肌梗塞", "AMI"),
    ("心梗", "心肌梗死", "心肌梗塞"),
    ("脑梗", "脑梗死", "脑梗塞", "缺血性脑卒中"),
    ("脑出血", "脑溢血", "ICH"),
    ("脑卒中", "中风", "卒中"),
    ("短暂性脑缺血发作", "TIA"),
    ("慢性肾脏病", "慢性肾病", "CKD"),
    ("慢性肾衰", "慢性肾衰竭", "慢性肾功能衰竭", "CRF"),
    ("急性肾损伤", "急性肾衰竭", "AKI"),
    ("肺心病", "慢性肺源性心脏病"),
    ("慢支", "慢性支气管炎"),
    ("上感", "上呼吸道感染", "URI"),
    ("社区获得性肺炎", "CAP"),
    ("医院获得性肺炎", "HAP"),
    ("结核", "结核病", "TB"),
    ("肺结核", "PTB"),
    ("乙肝", "乙型肝炎", "乙型病毒性肝炎", "HBV感染"),
    ("丙肝", "丙型肝炎", "丙型病毒性肝炎", "HCV感染"),
    ("艾滋病", "获得性免疫缺陷综合征", "AIDS"),
    ("上消化道出血", "UGIB"),
    ("胃食管反流病", "GERD"),
    ("尿路感染", "泌尿系感染", "UTI"),
    ("深静脉血栓", "深静脉血栓形成", "DVT"),
    ("肺栓塞", "肺动脉栓塞", "肺血栓栓塞症"),
    ("急性呼吸窘迫综合征", "ARDS"),
    ("弥散性血管内凝血", "DIC"),
    ("多器官功能障碍综合征", "MODS"),
    ("脓毒症", "败血症"),
    ("系统性红斑狼疮", "红斑狼疮", "SLE"),
    ("类风湿关节炎", "类风湿性关节炎"),
    ("甲亢", "甲状腺功能亢进", "甲状腺功能亢进症"),
    ("甲减", "甲状腺功能减退", "甲状腺功能减退症"),
    ("高脂血症", "高血脂", "血脂异常"),
    ("缺铁性贫血", "IDA"),
    ("良性前列腺增生", "前列腺增生", "BPH"),
    ("阿尔茨海默病", "老年性痴呆"),
    ("肺癌", "肺恶性肿瘤", "支气管肺癌"),
    ("胃癌", "胃恶性肿瘤"),
    ("肝癌", "肝恶性肿瘤", "原发性肝癌"),
    ("乳腺癌", "乳腺恶性肿瘤"),
    ("剖宫产", "剖腹产", "剖宫产术"),
    ("经皮冠状动脉介入治疗", "冠脉介入", "PCI"),
    ("冠状动脉旁路移植术", "冠脉搭桥", "CABG"),
    ("冠状动脉造影", "冠脉造影", "CAG"),
    ("心电图", "ECG", "EKG"),
    ("超声心动图", "心脏彩超", "UCG"),
    ("磁共振", "核磁共振", "磁共振成像", "MRI"),
    ("重症监护病房", "重症监护室", "ICU"),
    ("糖化血红蛋白", "HbA1c"),
    ("脑钠肽", "B型钠尿肽", "BNP"),
    ("降钙素原", "PCT"),
    ("C反应蛋白", "CRP"),
)

_SEPARATORS_RE = re.compile("[、,，;；=＝\n]")


class DictionaryError(Refusal, ValueError):
    """A group the dictionary refuses; ``str(error)`` is the Chinese message (a Refusal: the web
    answers it with the one handler)."""


def words(text: str) -> tuple[str, ...]:
    """A spelling as the index compares it (the analyser's tokens of the folded text)."""
    return tuple(analyze(fold(normalize(text))))


def split_terms(text: str) -> list[str]:
    """Spellings typed as 心衰、心力衰竭，心功能不全 (also , ; = or one per line), duplicates removed."""
    seen: set[tuple[str, ...]] = set()
    terms = []
    for term in (t.strip() for t in _SEPARATORS_RE.split(text)):
        key = words(term)
        if key and key not in seen:
            seen.add(key)
            terms.append(" ".join(term.split()))
    return terms


def check_group(terms: Sequence[str], others: Iterable[Sequence[str]]) -> None:
    """Refuses a group that expands nothing or whose spelling already stands in another group
    (it would mean two concepts at once)."""
    if len(terms) < 2:
        raise DictionaryError("一组同义词至少需要两个不同的写法，用顿号、逗号或等号分隔")
    if len(terms) > MAX_GROUP_TERMS:
        raise DictionaryError(f"一组同义词最多 {MAX_GROUP_TERMS} 个写法")
    long = [t for t in terms if len(t) > MAX_TERM_CHARS]
    if long:
        raise DictionaryError(f"写法过长（最多 {MAX_TERM_CHARS} 个字符）：{long[0]}")
    taken = {words(t): t for group in others for t in group}
    clash = [t for t in terms if words(t) in taken]
    if clash:
        raise DictionaryError(f"“{clash[0]}”已在另一组同义词中（{taken[words(clash[0])]}），每个写法只能属于一组")


class Dictionary:
    """The groups, looked up by a term's words; pure (records.dictionary builds it from the database)."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        self._others: dict[tuple[str, ...], list[str]] = {}
        for group in groups:
            for term in group:
                key = words(term)
                others = self._others.setdefault(key, [])
                others += [t for t in group if words(t) != key and t not in others]

    def spellings(self, tokens: tuple[str, ...]) -> list[str]:
        """The other spellings of every group holding these words (none when it is in none)."""
        return self._others.get(tokens, [])

    def expand_term(self, term: q.Term) -> q.Node:
        """(term OR each other spelling) for a page-text, 诊断: or 手术: term of the dictionary."""
        if term.field not in EXPANDED_FIELDS:
            return term
        others = self.spellings(term.tokens)
        if not others:
            return term
        spelled = (replace(term, text=fold(normalize(o)), tokens=words(o)) for o in others)
        return q.Or((term, *spelled))

    def expand(self, node: q.Node) -> q.Node:
        """The query with every term of the dictionary expanded (the switch "同义词扩展")."""
        if isinstance(node, q.Term):
            return self.expand_term(node)
        if isinstance(node, q.Not):
            return q.Not(self.expand(node.child))
        if isinstance(node, q.And | q.Or):
            return type(node)(tuple(map(self.expand, node.children)))
        return node



def switched(parsed: q.ParsedQuery, *, dictionary: Dictionary | None, affirmed: bool) -> q.ParsedQuery:
    """The parsed query with the search form's switches applied: 同义词扩展 (``dictionary``
    given) and 排除否定描述 (``affirmed``); both off leaves it as it is."""
    root = dictionary.expand(parsed.root) if dictionary is not None else parsed.root
    return replace(parsed, root=negation.exclude_negated(root) if affirmed else root)
