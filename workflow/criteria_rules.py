"""Criteria sheets scored by declared rules (seed 001, seed 004, DOMAIN.md rule 4).

Pure: no Flask, no database.  A criteria set is a tree of nodes (sections →
criteria → optional sub-criteria), each with a code (``1.2.3``), a title, a
maximum, guidance and the groups of units it applies to.  A leaf has a kind and
a rule; a node with children scores the sum of its children, bounded by its
maximum.  What a unit claims (and what a verifier sets) is a small JSON-able
mapping per leaf; :func:`score_leaf` turns it into points by the leaf's rule.

The rules, from the seeds:

- blank scores nothing ("để trống … sẽ không được tính điểm");
- "not applicable" only where the criterion allows it, scores the maximum and
  needs a written explanation ("phải báo cáo làm rõ");
- a link criterion scores nothing without a link, nor when the verifier marks
  it not found;
- a ratio needs numerator and denominator ("phải cung cấp số liệu về tử số và
  mẫu số"); a numerator above its denominator, or a zero denominator, is
  refused.

Values (all optional; an empty mapping is blank):

=========  ==========================================================
yes_no     ``{"yes": true}``
number     ``{"number": "12"}``
ratio      ``{"numerator": "45", "denominator": "50"}``
link       ``{"links": ["https://…", …]}``
choice     ``{"level": "2"}``
text       ``{"text": "…"}``
file       ``{"files": ["stored-name", …]}``
points     ``{"points": "3.5"}``  (a self-scored sheet: points typed, ≤ maximum)
any        ``{"na": true, "explanation": "…"}``  (not applicable)
=========  ==========================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

#: kind -> (vi, en)
KINDS: dict[str, tuple[str, str]] = {
    "yes_no": ("Có/Không", "Yes/no"),
    "number": ("Số lượng (theo mức)", "Number (bands)"),
    "ratio": ("Tỷ lệ (tử số/mẫu số)", "Ratio (numerator/denominator)"),
    "link": ("Đường link", "Link"),
    "choice": ("Lựa chọn mức", "Choice of level"),
    "text": ("Nội dung mô tả", "Text"),
    "file": ("Tệp minh chứng", "Evidence file"),
    "points": ("Điểm tự chấm", "Self-scored points"),
}

CODE_RE = re.compile(r"^\d+(\.\d+)*$")
CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)


class RuleError(ValueError):
    """A value or a rule refused; messages in Vietnamese and English, and the field at fault."""

    def __init__(self, message_vi: str, message_en: str, field: str = "", code: str = ""):
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field
        #: The criterion at fault, when one is.
        self.code = code


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: Any, what_vi: str, what_en: str, field: str = "") -> Decimal | None:
    """A number typed by a person: "12", "12,5", 12.5; blank is None; anything else refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RuleError(f"{what_vi} phải là một số.", f"{what_en} must be a number.", field)
    text = str(value).strip().replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # Vietnamese decimal comma
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RuleError(f"{what_vi} “{value}” không phải là số.", f"{what_en} {value!r} is not a number.",
                        field) from None
    if not number.is_finite():
        raise RuleError(f"{what_vi} “{value}” không phải là số.", f"{what_en} {value!r} is not a number.", field)
    if number and not -6 <= number.adjusted() < 12:  # adjusted(): the exponent, no context arithmetic
        raise RuleError(f"{what_vi} “{value}” nằm ngoài khoảng cho phép.", f"{what_en} {value!r} is out of range.",
                        field)
    return number.quantize(Decimal("0.000001")).normalize() if number != number.to_integral_value() else number


# -- rules -------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """At least ``min`` (a count, or a percentage for ratios) gives ``points``."""

    min: Decimal
    points: Decimal


@dataclass(frozen=True)
class Level:
    value: str
    label: str
    points: Decimal


@dataclass(frozen=True)
class Rule:
    """How a leaf's value becomes points.

    ``bands`` (number, ratio: best first), ``proportional`` (ratio: maximum × ratio),
    ``levels`` (choice), ``min_links`` (link), ``not_above`` (number, ratio: the
    code of another number criterion this one cannot exceed — a logic check).
    """

    bands: tuple[Band, ...] = ()
    proportional: bool = False
    levels: tuple[Level, ...] = ()
    min_links: int = 1
    not_above: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.bands:
            out["bands"] = [{"min": _plain(b.min), "points": _plain(b.points)} for b in self.bands]
        if self.proportional:
            out["proportional"] = True
        if self.levels:
            out["levels"] = [{"value": lv.value, "label": lv.label, "points": _plain(lv.points)} for lv in self.levels]
        if self.min_links != 1:
            out["min_links"] = self.min_links
        if self.not_above:
            out["not_above"] = self.not_above
        return out


def _plain(d: Decimal) -> str:
    """12, 2.5 — no trailing zeros, no exponent."""
    text = format(d.normalize(), "f")
    return text


def rule_from_dict(kind: str, data: Mapping[str, Any] | None, maximum: Decimal) -> Rule:
    """Build and check a rule; raise RuleError naming the field."""
    data = data or {}
    known = {"bands", "proportional", "levels", "min_links", "not_above"}
    for key in data:
        if key not in known:
            raise RuleError(f"Khóa không hợp lệ trong cách tính điểm: “{key}”.",
                            f"unknown rule key {key!r}; known: {', '.join(sorted(known))}", str(key))
    bands: list[Band] = []
    for i, b in enumerate(data.get("bands") or []):
        if not isinstance(b, Mapping) or "min" not in b or "points" not in b:
            raise RuleError("Mỗi mức điểm cần “min” và “points”.", f"band {i + 1} needs min and points", "bands")
        lo = to_decimal(b["min"], "Ngưỡng", "band min", "bands")
        pts = to_decimal(b["points"], "Điểm", "band points", "bands")
        if lo is None or pts is None:
            raise RuleError("Mỗi mức điểm cần “min” và “points”.", f"band {i + 1} needs min and points", "bands")
        if pts < 0 or pts > maximum:
            raise RuleError(f"Điểm của mức {i + 1} vượt quá điểm tối đa {_plain(maximum)}.",
                            f"band {i + 1} gives {pts} points, outside 0..{_plain(maximum)}", "bands")
        bands.append(Band(lo, pts))
    bands.sort(key=lambda b: b.min, reverse=True)
    proportional = bool(data.get("proportional", False))
    levels: list[Level] = []
    for i, lv in enumerate(data.get("levels") or []):
        if not isinstance(lv, Mapping) or "points" not in lv:
            raise RuleError("Mỗi mức lựa chọn cần “points”.", f"level {i + 1} needs points", "levels")
        pts = to_decimal(lv["points"], "Điểm", "level points", "levels")
        if pts is None or pts < 0 or pts > maximum:
            raise RuleError(f"Điểm của mức {i + 1} phải từ 0 đến {_plain(maximum)}.",
                            f"level {i + 1} points must be within 0..{_plain(maximum)}", "levels")
        value = str(lv.get("value", i + 1)).strip()
        levels.append(Level(value, str(lv.get("label") or f"Mức {value}"), pts))
    if len({lv.value for lv in levels}) != len(levels):
        raise RuleError("Hai mức lựa chọn trùng giá trị.", "two levels share a value", "levels")
    min_links = data.get("min_links", 1)
    if isinstance(min_links, bool) or not isinstance(min_links, int) or min_links < 1:
        raise RuleError("Số đường link tối thiểu phải là số nguyên ≥ 1.", "min_links must be a whole number ≥ 1",
                        "min_links")
    not_above = str(data.get("not_above") or "").strip()
    if not_above and not CODE_RE.match(not_above):
        raise RuleError(f"“{not_above}” không phải là mã tiêu chí.", f"{not_above!r} is not a criterion code",
                        "not_above")
    rule = Rule(tuple(bands), proportional, tuple(levels), min_links, not_above)
    _check_rule_for_kind(kind, rule)
    return rule


def _check_rule_for_kind(kind: str, rule: Rule) -> None:
    if kind not in KINDS:
        raise RuleError(f"Loại tiêu chí không hợp lệ: “{kind}”.",
                        f"unknown kind {kind!r}; known: {', '.join(KINDS)}", "kind")
    if kind == "number" and not rule.bands:
        raise RuleError("Tiêu chí số lượng cần các mức điểm (bands).", "a number criterion needs bands", "rule")
    if kind == "ratio" and not (rule.bands or rule.proportional):
        raise RuleError("Tiêu chí tỷ lệ cần các mức điểm theo % hoặc cách tính tỷ lệ thuận (proportional).",
                        "a ratio criterion needs percentage bands or proportional", "rule")
    if kind == "ratio" and rule.bands and rule.proportional:
        raise RuleError("Tiêu chí tỷ lệ: chọn mức điểm theo % hoặc tỷ lệ thuận, không cả hai.",
                        "a ratio criterion has either bands or proportional, not both", "rule")
    if kind == "choice" and not rule.levels:
        raise RuleError("Tiêu chí lựa chọn cần các mức (levels).", "a choice criterion needs levels", "rule")
    if kind not in ("number", "ratio") and rule.bands:
        raise RuleError("Chỉ tiêu chí số lượng hoặc tỷ lệ có mức điểm (bands).",
                        "only number and ratio criteria have bands", "rule")
    if kind != "choice" and rule.levels:
        raise RuleError("Chỉ tiêu chí lựa chọn có các mức (levels).", "only choice criteria have levels", "rule")


# -- the rule as one line of text (the XLSX template's "Cách tính điểm" column) ----

def rule_text(kind: str, rule: Rule) -> str:
    """The canonical one-line form, parsed back by :func:`parse_rule_text`.

    ``>=10:2; >=5:1`` (number) · ``>=90%:3; >=50%:1`` or ``tỷ lệ thuận`` (ratio) ·
    ``1=Mức 1:1; 2=Mức 2:2`` (choice) · ``ít nhất 2 link`` (link) · ``≤ 1.2`` appended for not_above.
    """
    parts: list[str] = []
    if kind == "number":
        parts.append("; ".join(f">={_plain(b.min)}:{_plain(b.points)}" for b in rule.bands))
    elif kind == "ratio":
        parts.append("tỷ lệ thuận" if rule.proportional
                     else "; ".join(f">={_plain(b.min)}%:{_plain(b.points)}" for b in rule.bands))
    elif kind == "choice":
        parts.append("; ".join(f"{lv.value}={lv.label}:{_plain(lv.points)}" for lv in rule.levels))
    elif kind == "link" and rule.min_links != 1:
        parts.append(f"ít nhất {rule.min_links} link")
    if rule.not_above:
        parts.append(f"không vượt quá {rule.not_above}")
    return " | ".join(p for p in parts if p)


_BAND_RE = re.compile(r"^>=\s*([0-9.,]+)\s*(%?)\s*:\s*([0-9.,]+)$")
_LEVEL_RE = re.compile(r"^([^=]+)=(.*):\s*([0-9.,]+)$")
_LINKS_RE = re.compile(r"^ít nhất\s+(\d+)\s+link$", re.IGNORECASE)
_NOT_ABOVE_RE = re.compile(r"^không vượt quá\s+(\S+)$", re.IGNORECASE)


def parse_rule_text(kind: str, text: str, maximum: Decimal) -> Rule:
    """Read the one-line rule of :func:`rule_text`; RuleError names what is wrong."""
    data: dict[str, Any] = {}
    for part in (p.strip() for p in (text or "").split("|")):
        if not part:
            continue
        m = _NOT_ABOVE_RE.match(part)
        if m:
            data["not_above"] = m.group(1)
            continue
        m = _LINKS_RE.match(part)
        if m:
            data["min_links"] = int(m.group(1))
            continue
        if part.lower() in ("tỷ lệ thuận", "ty le thuan", "proportional"):
            data["proportional"] = True
            continue
        items = [i.strip() for i in part.split(";") if i.strip()]
        if kind in ("number", "ratio"):
            bands = []
            for item in items:
                bm = _BAND_RE.match(item)
                if not bm:
                    raise RuleError(f"Không đọc được mức điểm “{item}” (dạng: >=10:2; >=5:1).",
                                    f"cannot read band {item!r} (form: >=10:2; >=5:1)", "rule")
                if kind == "ratio" and not bm.group(2):
                    raise RuleError(f"Mức điểm của tỷ lệ phải theo %: “{item}” (dạng: >=90%:3).",
                                    f"a ratio band is a percentage: {item!r} (form: >=90%:3)", "rule")
                bands.append({"min": bm.group(1), "points": bm.group(3)})
            data["bands"] = bands
        elif kind == "choice":
            levels = []
            for item in items:
                lm = _LEVEL_RE.match(item)
                if not lm:
                    raise RuleError(f"Không đọc được mức “{item}” (dạng: 1=Mức 1:1; 2=Mức 2:2).",
                                    f"cannot read level {item!r} (form: 1=Mức 1:1; 2=Mức 2:2)", "rule")
                levels.append({"value": lm.group(1).strip(), "label": lm.group(2).strip(), "points": lm.group(3)})
            data["levels"] = levels
        else:
            raise RuleError(f"Tiêu chí loại “{kind}” không có cách tính điểm “{part}”.",
                            f"a {kind} criterion takes no rule {part!r}", "rule")
    return rule_from_dict(kind, data, maximum)


# -- the tree ------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """A section, criterion or sub-criterion.  A leaf has a kind; a parent has children."""

    code: str
    title: str
    maximum: Decimal
    kind: str = ""
    rule: Rule = field(default_factory=Rule)
    guidance: str = ""
    #: Groups of units it applies to; empty: every group of the set.
    groups: frozenset[str] = frozenset()
    allow_na: bool = False
    children: tuple[Node, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def depth(self) -> int:
        return self.code.count(".")

    def applies_to(self, group: str) -> bool:
        return not self.groups or group in self.groups


@dataclass(frozen=True)
class CriteriaTree:
    nodes: tuple[Node, ...]  # the sections (top level)

    def walk(self, group: str | None = None) -> Iterable[Node]:
        """Every node depth first, in order; only those applying to ``group`` when given."""
        def visit(n: Node) -> Iterable[Node]:
            if group is not None and not n.applies_to(group):
                return
            yield n
            for c in n.children:
                yield from visit(c)
        for n in self.nodes:
            yield from visit(n)

    def leaves(self, group: str | None = None) -> list[Node]:
        return [n for n in self.walk(group) if n.is_leaf]

    def by_code(self) -> dict[str, Node]:
        return {n.code: n for n in self.walk()}

    def maximum(self, group: str | None = None) -> Decimal:
        return sum((n.maximum for n in self.nodes if group is None or n.applies_to(group)), ZERO)


@dataclass(frozen=True)
class FlatNode:
    """A node as stored or written in a file: the tree is rebuilt from the codes."""

    code: str
    title: str
    maximum: Decimal
    kind: str = ""
    rule: Rule = field(default_factory=Rule)
    guidance: str = ""
    groups: frozenset[str] = frozenset()
    allow_na: bool = False
    where: str = ""  # "line 12", "row 7": named in errors


def parent_code(code: str) -> str:
    return code.rsplit(".", 1)[0] if "." in code else ""


def build_tree(flat: Sequence[FlatNode]) -> CriteriaTree:
    """Rebuild the tree from flat rows in order; check codes, parents, kinds and maxima.

    A child's parent is its code without the last part (1.2.3 → 1.2); parents
    have no kind, leaves must have one; the children's maxima may add up to more
    than the parent's (a choice of ways to earn it) but no child exceeds it.
    """
    seen: dict[str, FlatNode] = {}
    children: dict[str, list[str]] = {}
    order: list[str] = []
    for f in flat:
        def fail(vi: str, en: str, fld: str, f: FlatNode = f) -> None:
            where = f" ({f.where})" if f.where else ""
            raise RuleError(f"Tiêu chí {f.code}{where}: {vi}", f"criterion {f.code}{where}: {en}", fld, f.code)
        if not CODE_RE.match(f.code):
            raise RuleError(f"“{f.code}” không phải là mã tiêu chí (dạng 1, 1.2, 1.2.3)"
                            + (f" ({f.where})" if f.where else "") + ".",
                            f"{f.code!r} is not a criterion code (form 1, 1.2, 1.2.3)"
                            + (f" ({f.where})" if f.where else ""), "code", f.code)
        if f.code in seen:
            fail("mã bị trùng.", "the code appears twice.", "code")
        parent = parent_code(f.code)
        if parent and parent not in seen:
            fail(f"chưa có mục cha {parent} ở trước.", f"its parent {parent} is not listed before it.", "code")
        if f.maximum < 0:
            fail("điểm tối đa âm.", "the maximum is negative.", "maximum")
        if parent and f.maximum > seen[parent].maximum:
            fail(f"điểm tối đa {_plain(f.maximum)} lớn hơn của mục cha {parent} ({_plain(seen[parent].maximum)}).",
                 f"its maximum {_plain(f.maximum)} exceeds its parent {parent}'s ({_plain(seen[parent].maximum)}).",
                 "maximum")
        if parent and seen[parent].kind:
            fail(f"mục cha {parent} là tiêu chí có loại “{seen[parent].kind}”, không thể có tiêu chí con.",
                 f"its parent {parent} has kind {seen[parent].kind!r} and cannot have sub-criteria.", "kind")
        if parent and seen[parent].groups and f.groups and not f.groups <= seen[parent].groups:
            fail("áp dụng cho khối mà mục cha không áp dụng.", "applies to a group its parent does not.", "groups")
        seen[f.code] = f
        children.setdefault(parent, []).append(f.code)
        order.append(f.code)
    for code in order:
        f = seen[code]
        if code not in children and not f.kind:
            where = f" ({f.where})" if f.where else ""
            raise RuleError(f"Tiêu chí {code}{where}: cần loại tiêu chí (không có tiêu chí con).",
                            f"criterion {code}{where}: a criterion without sub-criteria needs a kind.", "kind", code)
        if f.kind:
            try:
                _check_rule_for_kind(f.kind, f.rule)
            except RuleError as exc:
                exc.code = code
                raise
    codes = set(order)
    for code in order:
        target = seen[code].rule.not_above
        if target and (target not in codes or seen[target].kind not in ("number", "ratio")):
            raise RuleError(f"Tiêu chí {code}: “không vượt quá {target}” cần một tiêu chí số lượng {target}.",
                            f"criterion {code}: not_above {target} needs a number criterion {target}.", "rule", code)

    def make(code: str) -> Node:
        f = seen[code]
        return Node(f.code, f.title, f.maximum, f.kind, f.rule, f.guidance, f.groups, f.allow_na,
                    tuple(make(c) for c in children.get(code, [])))
    return CriteriaTree(tuple(make(c) for c in children.get("", [])))


def flatten(tree: CriteriaTree) -> list[FlatNode]:
    return [FlatNode(n.code, n.title, n.maximum, n.kind, n.rule, n.guidance, n.groups, n.allow_na)
            for n in tree.walk()]


# -- values and points ---------------------------------------------------------

def is_blank(node: Node, value: Mapping[str, Any] | None) -> bool:
    if not value:
        return True
    if value.get("na"):
        return False
    kind = node.kind
    if kind == "yes_no":
        return value.get("yes") is None
    if kind == "number":
        return _blank(value.get("number"))
    if kind == "ratio":
        return _blank(value.get("numerator")) and _blank(value.get("denominator"))
    if kind == "link":
        return not [u for u in value.get("links") or [] if str(u).strip()]
    if kind == "choice":
        return _blank(value.get("level"))
    if kind == "text":
        return _blank(value.get("text"))
    if kind == "file":
        return not value.get("files")
    if kind == "points":
        return _blank(value.get("points"))
    return True


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _url_ok(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in url.strip()


def clean_value(node: Node, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check what a unit (or a verifier) typed; return the stored form or raise RuleError.

    Blank is allowed (it scores nothing).  Refused: N/A where the criterion does
    not allow it or without an explanation; a ratio with one side missing, a
    zero denominator or a numerator above the denominator; negative numbers; a
    link that is not an http(s) address; a level the rule does not list; points
    above the maximum.
    """
    value = dict(value or {})
    code = node.code
    if value.get("na"):
        if not node.allow_na:
            raise RuleError(f"Tiêu chí {code} không cho phép chọn “không áp dụng”.",
                            f"Criterion {code} cannot be marked not applicable.", "na")
        explanation = str(value.get("explanation") or "").strip()
        if not explanation:
            raise RuleError(f"Tiêu chí {code}: chọn “không áp dụng” phải giải trình lý do bằng văn bản.",
                            f"Criterion {code}: not applicable needs a written explanation.", "explanation")
        return {"na": True, "explanation": explanation}
    kind = node.kind
    if kind == "yes_no":
        yes = value.get("yes")
        if yes is None or (isinstance(yes, str) and not yes.strip()):
            return {}
        if isinstance(yes, str):
            low = yes.strip().lower()
            if low in ("1", "true", "yes", "có", "co", "x"):
                yes = True
            elif low in ("0", "false", "no", "không", "khong"):
                yes = False
            else:
                raise RuleError(f"Tiêu chí {code}: chọn Có hoặc Không.", f"Criterion {code}: answer yes or no.", "yes")
        return {"yes": bool(yes)}
    if kind == "number":
        n = to_decimal(value.get("number"), f"Tiêu chí {code}: số liệu", f"Criterion {code}: the number", "number")
        if n is None:
            return {}
        if n < 0:
            raise RuleError(f"Tiêu chí {code}: số liệu không được âm.", f"Criterion {code}: the number is negative.",
                            "number")
        return {"number": _plain(n)}
    if kind == "ratio":
        num = to_decimal(value.get("numerator"), f"Tiêu chí {code}: tử số", f"Criterion {code}: the numerator",
                         "numerator")
        den = to_decimal(value.get("denominator"), f"Tiêu chí {code}: mẫu số", f"Criterion {code}: the denominator",
                         "denominator")
        if num is None and den is None:
            return {}
        if den is None:
            raise RuleError(f"Tiêu chí {code}: tiêu chí tỷ lệ phải có cả tử số và mẫu số (thiếu mẫu số).",
                            f"Criterion {code}: a ratio needs both numerator and denominator (denominator missing).",
                            "denominator")
        if num is None:
            raise RuleError(f"Tiêu chí {code}: tiêu chí tỷ lệ phải có cả tử số và mẫu số (thiếu tử số).",
                            f"Criterion {code}: a ratio needs both numerator and denominator (numerator missing).",
                            "numerator")
        if num < 0 or den < 0:
            raise RuleError(f"Tiêu chí {code}: tử số và mẫu số không được âm.",
                            f"Criterion {code}: numerator and denominator cannot be negative.", "numerator")
        if den == 0:
            raise RuleError(f"Tiêu chí {code}: mẫu số bằng 0, không tính được tỷ lệ.",
                            f"Criterion {code}: the denominator is 0; no ratio can be computed.", "denominator")
        if num > den:
            raise RuleError(f"Tiêu chí {code}: tử số ({_plain(num)}) lớn hơn mẫu số ({_plain(den)}).",
                            f"Criterion {code}: the numerator ({_plain(num)}) is larger than the denominator "
                            f"({_plain(den)}).", "numerator")
        return {"numerator": _plain(num), "denominator": _plain(den)}
    if kind == "link":
        raw = value.get("links") or []
        if isinstance(raw, str):
            raw = raw.split()
        links = [str(u).strip() for u in raw if str(u).strip()]
        for u in links:
            if not _url_ok(u):
                raise RuleError(f"Tiêu chí {code}: “{u}” không phải là đường link (http:// hoặc https://).",
                                f"Criterion {code}: {u!r} is not a link (http:// or https://).", "links")
        return {"links": links} if links else {}
    if kind == "choice":
        level = value.get("level")
        if _blank(level):
            return {}
        level = str(level).strip()
        if level not in {lv.value for lv in node.rule.levels}:
            raise RuleError(f"Tiêu chí {code}: mức “{level}” không có trong danh sách.",
                            f"Criterion {code}: level {level!r} is not one of the listed levels.", "level")
        return {"level": level}
    if kind == "text":
        text = str(value.get("text") or "").strip()
        return {"text": text} if text else {}
    if kind == "file":
        files = [str(f) for f in value.get("files") or [] if str(f).strip()]
        return {"files": files} if files else {}
    if kind == "points":
        pts = to_decimal(value.get("points"), f"Tiêu chí {code}: điểm", f"Criterion {code}: the points", "points")
        if pts is None:
            return {}
        if pts < 0 or pts > node.maximum:
            raise RuleError(f"Tiêu chí {code}: điểm phải từ 0 đến {_plain(node.maximum)}.",
                            f"Criterion {code}: points must be within 0..{_plain(node.maximum)}.", "points")
        return {"points": _plain(pts)}
    raise RuleError(f"Tiêu chí {code} không có loại.", f"Criterion {code} has no kind.", "kind")


def score_leaf(node: Node, value: Mapping[str, Any] | None, *, link_not_found: bool = False) -> Decimal:
    """Points of one leaf from a value already checked by :func:`clean_value`.

    Blank is 0; N/A is the maximum; never above the maximum nor below 0.
    A value that does not pass the checks (an old row, an import) scores 0.
    """
    if not value:
        return ZERO
    if value.get("na"):
        return node.maximum if node.allow_na and str(value.get("explanation") or "").strip() else ZERO
    kind, rule, maximum = node.kind, node.rule, node.maximum
    points = ZERO
    try:
        if kind == "yes_no":
            points = maximum if value.get("yes") is True else ZERO
        elif kind == "number":
            n = to_decimal(value.get("number"), "", "")
            if n is not None and n >= 0:
                points = next((b.points for b in rule.bands if n >= b.min), ZERO)
        elif kind == "ratio":
            num = to_decimal(value.get("numerator"), "", "")
            den = to_decimal(value.get("denominator"), "", "")
            if num is not None and den is not None and den > 0 and 0 <= num <= den:
                if rule.proportional:
                    points = maximum * num / den
                else:
                    pct = num * HUNDRED / den
                    points = next((b.points for b in rule.bands if pct >= b.min), ZERO)
        elif kind == "link":
            links = [u for u in value.get("links") or [] if str(u).strip()]
            points = maximum if len(links) >= rule.min_links and not link_not_found else ZERO
        elif kind == "choice":
            level = str(value.get("level") or "").strip()
            points = next((lv.points for lv in rule.levels if lv.value == level), ZERO)
        elif kind in ("text", "file"):
            points = ZERO if is_blank(node, value) else maximum
        elif kind == "points":
            p = to_decimal(value.get("points"), "", "")
            points = p if p is not None else ZERO
    except RuleError:
        return ZERO
    return _q(max(ZERO, min(points, maximum)))


@dataclass(frozen=True)
class Entry:
    """What is known of one leaf: claimed and (when verified) verified."""

    claimed: Mapping[str, Any] | None = None
    verified: Mapping[str, Any] | None = None
    #: The verifier's points, overriding the rule (a field inspection's finding).
    verified_points: Decimal | None = None
    link_not_found: bool = False


@dataclass(frozen=True)
class SheetScore:
    """Points per node (leaves and parents), for claimed and verified values, and the totals."""

    claimed: dict[str, Decimal]
    verified: dict[str, Decimal]
    claimed_total: Decimal
    verified_total: Decimal
    maximum: Decimal


def verified_leaf(node: Node, entry: Entry) -> Decimal:
    """The verified points: the verifier's points if set, else the rule on the verified
    value (the claimed one when the verifier did not change it), with "not found" applied."""
    if entry.verified_points is not None:
        return _q(max(ZERO, min(entry.verified_points, node.maximum)))
    value = entry.verified if entry.verified is not None else entry.claimed
    return score_leaf(node, value, link_not_found=entry.link_not_found)


def score_sheet(tree: CriteriaTree, group: str, entries: Mapping[str, Entry]) -> SheetScore:
    """Every node's points for one unit of ``group``; parents bounded by their maxima."""
    claimed: dict[str, Decimal] = {}
    verified: dict[str, Decimal] = {}

    def visit(n: Node) -> tuple[Decimal, Decimal]:
        if n.is_leaf:
            e = entries.get(n.code) or Entry()
            c, v = score_leaf(n, e.claimed), verified_leaf(n, e)
        else:
            c = v = ZERO
            for child in n.children:
                if child.applies_to(group):
                    cc, vv = visit(child)
                    c, v = c + cc, v + vv
            c, v = min(c, n.maximum), min(v, n.maximum)
        claimed[n.code], verified[n.code] = c, v
        return c, v

    ct = vt = ZERO
    for n in tree.nodes:
        if n.applies_to(group):
            c, v = visit(n)
            ct, vt = ct + c, vt + v
    return SheetScore(claimed, verified, ct, vt, tree.maximum(group))


# -- logic checks (the preliminary review's automatic flags) ----------------------

@dataclass(frozen=True)
class Flag:
    code: str
    kind: str  # ratio_over_100 | numerator_over_denominator | above_other | link_missing | na_unexplained | invalid
    message_vi: str
    message_en: str


def logic_flags(tree: CriteriaTree, group: str, values: Mapping[str, Mapping[str, Any] | None]) -> list[Flag]:
    """What a reviewer should look at in the claimed values (which may come from an
    import or an old sheet, so every rule is checked again here)."""
    flags: list[Flag] = []
    leaves = {n.code: n for n in tree.leaves(group)}
    for code, n in leaves.items():
        v = values.get(code) or {}
        if v.get("na"):
            if not str(v.get("explanation") or "").strip():
                flags.append(Flag(code, "na_unexplained", f"{code}: chọn “không áp dụng” nhưng không giải trình.",
                                  f"{code}: not applicable without an explanation."))
            elif not n.allow_na:
                flags.append(Flag(code, "invalid", f"{code}: tiêu chí không cho phép “không áp dụng”.",
                                  f"{code}: not applicable is not allowed here."))
            continue
        if n.kind == "ratio" and not is_blank(n, v):
            num = _safe(v.get("numerator"))
            den = _safe(v.get("denominator"))
            if num is None or den is None:
                flags.append(Flag(code, "invalid", f"{code}: thiếu tử số hoặc mẫu số.",
                                  f"{code}: numerator or denominator missing."))
            elif den == 0:
                flags.append(Flag(code, "invalid", f"{code}: mẫu số bằng 0.", f"{code}: the denominator is 0."))
            elif num > den:
                flags.append(Flag(code, "numerator_over_denominator",
                                  f"{code}: tỷ lệ {_plain(_q(num * HUNDRED / den))}% vượt 100% "
                                  f"(tử số {_plain(num)} > mẫu số {_plain(den)}).",
                                  f"{code}: ratio {_plain(_q(num * HUNDRED / den))}% is over 100% "
                                  f"(numerator {_plain(num)} > denominator {_plain(den)})."))
        if n.kind == "link" and is_blank(n, v):
            flags.append(Flag(code, "link_missing", f"{code}: không cung cấp đường link.", f"{code}: no link given."))
        if n.rule.not_above and n.rule.not_above in leaves:
            mine = _number_of(n, v)
            other_node = leaves[n.rule.not_above]
            other = _number_of(other_node, values.get(n.rule.not_above) or {})
            if mine is not None and other is not None and mine > other:
                flags.append(Flag(code, "above_other",
                                  f"{code}: số liệu {_plain(mine)} lớn hơn số liệu của {other_node.code} "
                                  f"({_plain(other)}).",
                                  f"{code}: {_plain(mine)} is larger than {other_node.code}'s {_plain(other)}."))
    return flags


def _safe(v: Any) -> Decimal | None:
    try:
        return to_decimal(v, "", "")
    except RuleError:
        return None


def _number_of(n: Node, v: Mapping[str, Any]) -> Decimal | None:
    """The count a not_above check compares: a number, or a ratio's denominator."""
    if n.kind == "number":
        return _safe(v.get("number"))
    if n.kind == "ratio":
        return _safe(v.get("denominator"))
    return None


def changed_codes(tree: CriteriaTree, group: str, entries: Mapping[str, Entry]) -> list[str]:
    """Leaves whose verified points differ from the claimed ones (what the unit must look at)."""
    out = []
    for n in tree.leaves(group):
        e = entries.get(n.code) or Entry()
        if score_leaf(n, e.claimed) != verified_leaf(n, e) or (e.verified is not None and e.verified != e.claimed):
            out.append(n.code)
    return out
