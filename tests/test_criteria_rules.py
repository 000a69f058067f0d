"""The scoring rules of the seeds (DOMAIN.md rule 4; seeds 001 and 004), pure: no database."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from workflow import standing
from workflow.criteria_rules import (
    CriteriaTree,
    Entry,
    FlatNode,
    Rule,
    RuleError,
    build_tree,
    changed_codes,
    clean_value,
    flatten,
    logic_flags,
    parse_rule_text,
    rule_from_dict,
    rule_text,
    score_leaf,
    score_sheet,
)


def leaf(code, kind, maximum, rule=None, allow_na=False, groups=()):
    return FlatNode(code, f"Tiêu chí {code}", D(maximum), kind, rule_from_dict(kind, rule, D(maximum)),
                    groups=frozenset(groups), allow_na=allow_na)


def tree_of(*flat) -> CriteriaTree:
    return build_tree(flat)


SECTION = FlatNode("1", "Hạ tầng kỹ thuật CNTT", D(20))
RATIO_BANDS = {"bands": [{"min": 90, "points": 4}, {"min": 50, "points": 2}]}
TREE = tree_of(
    SECTION,
    leaf("1.1", "yes_no", 2),
    leaf("1.2", "number", 3, {"bands": [{"min": 10, "points": 3}, {"min": 5, "points": 1}]}),
    leaf("1.3", "ratio", 4, RATIO_BANDS),
    leaf("1.4", "ratio", 5, {"proportional": True}),
    leaf("1.5", "link", 2, allow_na=True),
    leaf("1.6", "choice", 4, {"levels": [{"value": "1", "label": "Mức 1", "points": 1},
                                         {"value": "4", "label": "Mức 4", "points": 4}]}),
)


def node(code):
    return TREE.by_code()[code]


# -- blank, N/A --------------------------------------------------------------

@pytest.mark.parametrize("code", ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"])
def test_blank_scores_nothing(code):
    assert clean_value(node(code), {}) == {}
    assert score_leaf(node(code), {}) == 0
    assert score_leaf(node(code), None) == 0


def test_not_applicable_scores_the_maximum_with_an_explanation():
    value = clean_value(node("1.5"), {"na": True, "explanation": "Đơn vị không có cổng thông tin riêng"})
    assert value == {"na": True, "explanation": "Đơn vị không có cổng thông tin riêng"}
    assert score_leaf(node("1.5"), value) == D(2)


def test_not_applicable_is_refused_without_an_explanation():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.5"), {"na": True, "explanation": "   "})
    assert exc.value.field == "explanation"
    assert "giải trình" in exc.value.message_vi
    # and a stored N/A without explanation (an old row) scores nothing and is flagged
    assert score_leaf(node("1.5"), {"na": True}) == 0
    assert [f.kind for f in logic_flags(TREE, "department", {"1.5": {"na": True}})] == ["na_unexplained"]


def test_not_applicable_is_refused_where_the_criterion_does_not_allow_it():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.1"), {"na": True, "explanation": "không có nhiệm vụ"})
    assert exc.value.field == "na"
    assert "không cho phép" in exc.value.message_vi
    assert score_leaf(node("1.1"), {"na": True, "explanation": "x"}) == 0


# -- links ------------------------------------------------------------------

def test_link_criterion_without_a_link_scores_nothing_and_is_flagged():
    assert score_leaf(node("1.5"), clean_value(node("1.5"), {"links": ["", "  "]})) == 0
    assert [f.kind for f in logic_flags(TREE, "department", {})] == ["link_missing"]


def test_link_criterion_with_a_link_scores_unless_marked_not_found():
    value = clean_value(node("1.5"), {"links": ["https://sotttt.caobang.gov.vn/chi-dao-dieu-hanh"]})
    assert score_leaf(node("1.5"), value) == 2
    assert score_leaf(node("1.5"), value, link_not_found=True) == 0
    assert score_sheet(TREE, "department", {"1.5": Entry(claimed=value, link_not_found=True)}).verified["1.5"] == 0


def test_a_link_that_is_no_address_is_refused():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.5"), {"links": ["Mục Chỉ đạo điều hành"]})
    assert exc.value.field == "links"


def test_a_link_rule_can_ask_for_several_links():
    n = build_tree([FlatNode("1", "S", D(2)), leaf("1.1", "link", 2, {"min_links": 2})]).by_code()["1.1"]
    assert score_leaf(n, {"links": ["https://a.gov.vn/x"]}) == 0
    assert score_leaf(n, {"links": ["https://a.gov.vn/x", "https://a.gov.vn/y"]}) == 2


# -- ratios ---------------------------------------------------------------------

def test_ratio_without_a_denominator_is_refused():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.3"), {"numerator": "45", "denominator": ""})
    assert exc.value.field == "denominator"
    assert "tử số và mẫu số" in exc.value.message_vi


def test_ratio_without_a_numerator_is_refused():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.3"), {"denominator": "50"})
    assert exc.value.field == "numerator"


def test_ratio_numerator_above_denominator_is_refused():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.3"), {"numerator": "51", "denominator": "50"})
    assert exc.value.field == "numerator"
    assert "lớn hơn mẫu số" in exc.value.message_vi


def test_ratio_with_a_zero_denominator_is_refused():
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.3"), {"numerator": "0", "denominator": "0"})
    assert exc.value.field == "denominator"


@pytest.mark.parametrize(("num", "den", "points"), [
    ("45", "50", D(4)),    # 90 % → the top band
    ("449", "500", D(2)),  # 89.8 % → the next
    ("25", "50", D(2)),    # 50 % exactly
    ("24", "50", D(0)),    # 48 % → no band
    ("0", "50", D(0)),
])
def test_ratio_percentage_bands(num, den, points):
    value = clean_value(node("1.3"), {"numerator": num, "denominator": den})
    assert score_leaf(node("1.3"), value) == points


@pytest.mark.parametrize(("num", "den", "points"), [
    ("50", "50", D("5.00")), ("1", "3", D("1.67")), ("0", "7", D("0.00")), ("2", "3", D("3.33")),
])
def test_ratio_proportional(num, den, points):
    value = clean_value(node("1.4"), {"numerator": num, "denominator": den})
    assert score_leaf(node("1.4"), value) == points


def test_a_decimal_comma_is_read():
    assert clean_value(node("1.4"), {"numerator": "12,5", "denominator": "25"}) == {"numerator": "12.5",
                                                                                    "denominator": "25"}


def test_a_ratio_flagged_when_an_import_bypassed_the_checks():
    flags = logic_flags(TREE, "department", {"1.3": {"numerator": "60", "denominator": "50"}, "1.5": {"links": ["https://x.vn"]}})
    assert [(f.code, f.kind) for f in flags] == [("1.3", "numerator_over_denominator")]
    assert "120%" in flags[0].message_vi
    assert score_leaf(node("1.3"), {"numerator": "60", "denominator": "50"}) == 0


# -- numbers, yes/no, choice, text, file, points --------------------------------

@pytest.mark.parametrize(("number", "points"), [("12", 3), ("10", 3), ("9", 1), ("5", 1), ("4", 0), ("0", 0)])
def test_number_bands(number, points):
    assert score_leaf(node("1.2"), clean_value(node("1.2"), {"number": number})) == points


def test_a_negative_or_non_numeric_number_is_refused():
    with pytest.raises(RuleError):
        clean_value(node("1.2"), {"number": "-1"})
    with pytest.raises(RuleError) as exc:
        clean_value(node("1.2"), {"number": "mười"})
    assert "không phải là số" in exc.value.message_vi


def test_yes_no():
    assert score_leaf(node("1.1"), clean_value(node("1.1"), {"yes": "có"})) == 2
    assert score_leaf(node("1.1"), clean_value(node("1.1"), {"yes": False})) == 0
    with pytest.raises(RuleError):
        clean_value(node("1.1"), {"yes": "có lẽ"})


def test_choice_of_levels():
    assert score_leaf(node("1.6"), clean_value(node("1.6"), {"level": "4"})) == 4
    assert score_leaf(node("1.6"), clean_value(node("1.6"), {"level": "1"})) == 1
    with pytest.raises(RuleError):
        clean_value(node("1.6"), {"level": "3"})


def test_text_file_and_self_scored_points():
    t = build_tree([FlatNode("1", "S", D(10)), leaf("1.1", "text", 1), leaf("1.2", "file", 2),
                    leaf("1.3", "points", 3)])
    n = t.by_code()
    assert score_leaf(n["1.1"], clean_value(n["1.1"], {"text": " Kế hoạch số 12/KH-UBND "})) == 1
    assert score_leaf(n["1.1"], clean_value(n["1.1"], {"text": "  "})) == 0
    assert score_leaf(n["1.2"], {"files": ["abc.pdf"]}) == 2
    assert score_leaf(n["1.3"], clean_value(n["1.3"], {"points": "2,5"})) == D("2.5")
    with pytest.raises(RuleError):
        clean_value(n["1.3"], {"points": "3.5"})


def test_a_number_inconsistent_with_another_is_flagged():
    t = build_tree([FlatNode("1", "S", D(6)),
                    leaf("1.1", "number", 3, {"bands": [{"min": 1, "points": 3}]}),
                    leaf("1.2", "ratio", 3, {"proportional": True, "not_above": "1.1"})])
    flags = logic_flags(t, "department", {"1.1": {"number": "40"}, "1.2": {"numerator": "30", "denominator": "45"}})
    assert [(f.code, f.kind) for f in flags] == [("1.2", "above_other")]
    assert logic_flags(t, "department", {"1.1": {"number": "45"}, "1.2": {"numerator": "30", "denominator": "45"}}) == []


# -- totals, tree, groups -------------------------------------------------------

def test_totals_are_bounded_by_the_maxima():
    t = build_tree([
        FlatNode("1", "Ứng dụng CNTT", D(5)),
        FlatNode("1.1", "Cổng thông tin", D(3)),
        leaf("1.1.1", "yes_no", 2), leaf("1.1.2", "yes_no", 2),  # up to 4 under a parent worth 3
        leaf("1.2", "yes_no", 3),
        FlatNode("2", "Nhân lực", D(2)), leaf("2.1", "yes_no", 2),
    ])
    yes = {"yes": True}
    s = score_sheet(t, "department", {c: Entry(claimed=yes) for c in ("1.1.1", "1.1.2", "1.2", "2.1")})
    assert s.claimed["1.1"] == 3      # 4 capped at the sub-section's 3
    assert s.claimed["1"] == 5        # 3 + 3 capped at 5
    assert s.claimed_total == 7 and s.maximum == 7
    # verified: the verifier's own points are bounded too
    s = score_sheet(t, "department", {"2.1": Entry(claimed=yes, verified_points=D(9))})
    assert s.verified["2.1"] == 2 and s.verified_total == 2


def test_criteria_apply_by_group():
    t = build_tree([
        FlatNode("1", "Chung", D(4)), leaf("1.1", "yes_no", 2),
        leaf("1.2", "yes_no", 2, groups=["district"]),
        FlatNode("2", "Một cửa cấp huyện", D(3), groups=frozenset({"district"})), leaf("2.1", "yes_no", 3),
    ])
    yes = {"yes": True}
    entries = {c: Entry(claimed=yes) for c in ("1.1", "1.2", "2.1")}
    assert [n.code for n in t.leaves("department")] == ["1.1"]
    assert score_sheet(t, "department", entries).claimed_total == 2
    assert score_sheet(t, "department", entries).maximum == 4  # section maxima of what applies
    assert score_sheet(t, "district", entries).claimed_total == 7


def test_verified_values_score_by_the_same_rule_and_changes_are_listed():
    claimed = {"numerator": "45", "denominator": "50"}
    entries = {"1.3": Entry(claimed=claimed, verified={"numerator": "40", "denominator": "50"}),
               "1.1": Entry(claimed={"yes": True})}
    s = score_sheet(TREE, "department", entries)
    assert (s.claimed["1.3"], s.verified["1.3"]) == (4, 2)
    assert (s.claimed["1.1"], s.verified["1.1"]) == (2, 2)  # not verified: the claim stands
    assert changed_codes(TREE, "department", entries) == ["1.3"]


def test_tiers_and_ranks_come_from_the_verified_totals():
    t = build_tree([FlatNode("1", "S", D(110)), leaf("1.1", "points", 110)])
    sheets = {"A": ("100", "96"), "B": ("90", "100"), "C": ("99", "96")}
    totals = {k: score_sheet(t, "department", {"1.1": Entry(claimed={"points": c}, verified={"points": v})})
              for k, (c, v) in sheets.items()}
    ranked = {r.key: r for r in standing.rank_within_groups(
        ((k, "department", s.verified_total) for k, s in totals.items()), standing.DEFAULT_TIERS)}
    assert ranked["B"].rank == 1 and ranked["B"].rating == "Tốt"
    assert ranked["A"].rank == ranked["C"].rank == 2 and ranked["A"].rating == "Khá"


@pytest.mark.parametrize(("rows", "field"), [
    ([FlatNode("1.1", "x", D(1), "yes_no")], "code"),                              # no parent
    ([FlatNode("1", "S", D(1)), FlatNode("1", "S", D(1))], "code"),                # twice
    ([FlatNode("1", "S", D(1)), FlatNode("1.1", "x", D(2), "yes_no")], "maximum"),  # above its parent
    ([FlatNode("1", "S", D(1))], "kind"),                                           # a leaf without kind
    ([FlatNode("A", "S", D(1), "yes_no")], "code"),
])
def test_a_bad_tree_is_refused_naming_the_field(rows, field):
    with pytest.raises(RuleError) as exc:
        build_tree(rows)
    assert exc.value.field == field


@pytest.mark.parametrize(("kind", "rule", "field"), [
    ("number", {}, "rule"), ("ratio", {}, "rule"), ("choice", {}, "rule"),
    ("number", {"bands": [{"min": 1, "points": 9}]}, "bands"),     # band above the maximum
    ("ratio", {"proportional": True, "bandz": []}, "bandz"),
    ("yes_no", {"bands": [{"min": 1, "points": 1}]}, "rule"),
    ("magic", {}, "kind"),
])
def test_a_bad_rule_is_refused(kind, rule, field):
    with pytest.raises(RuleError) as exc:
        rule_from_dict(kind, rule, D(3))
    assert exc.value.field == field


@pytest.mark.parametrize("code", ["1.2", "1.3", "1.4", "1.5", "1.6"])
def test_the_rule_text_round_trips(code):
    n = node(code)
    assert parse_rule_text(n.kind, rule_text(n.kind, n.rule), n.maximum) == n.rule


def test_rule_text_forms():
    assert rule_text("number", node("1.2").rule) == ">=10:3; >=5:1"
    assert rule_text("ratio", node("1.3").rule) == ">=90%:4; >=50%:2"
    assert rule_text("ratio", node("1.4").rule) == "tỷ lệ thuận"
    assert parse_rule_text("link", "ít nhất 2 link", D(1)) == Rule(min_links=2)
    with pytest.raises(RuleError) as exc:
        parse_rule_text("ratio", ">=90:4", D(4))
    assert "%" in exc.value.message_vi


def test_flatten_rebuilds_the_same_tree():
    assert build_tree(flatten(TREE)) == TREE


@pytest.mark.parametrize("text", ["1e999999999", "-1e30", "NaN", "Infinity", "1e-30"])
def test_absurd_numbers_are_refused_not_crashed(text):
    with pytest.raises(RuleError):
        clean_value(node("1.3"), {"numerator": text, "denominator": "50"})
    assert score_leaf(node("1.3"), {"numerator": text, "denominator": "50"}) == 0
