"""The traceability report's parser, on a small sample spec and test module."""

from tests.traceability import (
    RULEBOOK,
    Coverage,
    Section,
    parse_section_id,
    read_clauses,
    read_sections,
    render,
    render_clauses,
    scan_source,
    scan_tests,
)

SAMPLE_SPEC = """\
# Product specification

## Who uses it
| role | ... |

## 1. Scope (§2)
All accounts.

## 4. When visits are due (§6)
- New account: within N business days.

### Not a section
## 7. Problem handling (§9)
"""

SAMPLE_TESTS = '''\
import pytest
from pytest import mark

pytestmark = [pytest.mark.django_db, pytest.mark.spec("1.scope")]


@pytest.mark.spec("4.new-account")
def test_it_is_due_in_five_business_days():
    """A new account is due by 17:00 of the fifth business day."""


@mark.spec("4.new-account", "7")
@pytest.mark.postgres
def test_it_joins_the_open_visit():
    pass


@pytest.mark.spec("4.periodic")
class TestPeriodic:
    pytestmark = pytest.mark.spec("4.high-risk")

    def test_it_halves_the_cycle(self):
        pass

    def helper(self):
        pass


class Helper:
    def test_not_collected(self):
        pass


def helper():
    pass
'''


def test_it_parses_section_ids():
    assert parse_section_id("4.new-account") == ("4", "new-account")
    assert parse_section_id("7.escalation.deadline") == ("7", "escalation.deadline")
    assert parse_section_id("3") == ("3", "")
    assert parse_section_id("sms") is None
    assert parse_section_id("4x.foo") is None


def test_it_reads_only_numbered_second_level_headings():
    assert read_sections(SAMPLE_SPEC) == [
        Section("1", "Scope (§2)"),
        Section("4", "When visits are due (§6)"),
        Section("7", "Problem handling (§9)"),
    ]


def test_it_collects_function_class_and_module_markers():
    coverage, unmarked = scan_source(SAMPLE_TESTS, "tests/visits/test_sample.py")

    found = {(c.section, c.label, c.test_id.split("::", 1)[1]) for c in coverage}
    assert found == {
        ("1", "scope", "test_it_is_due_in_five_business_days"),
        ("4", "new-account", "test_it_is_due_in_five_business_days"),
        ("1", "scope", "test_it_joins_the_open_visit"),
        ("4", "new-account", "test_it_joins_the_open_visit"),
        ("7", "", "test_it_joins_the_open_visit"),
        ("1", "scope", "TestPeriodic::test_it_halves_the_cycle"),
        ("4", "periodic", "TestPeriodic::test_it_halves_the_cycle"),
        ("4", "high-risk", "TestPeriodic::test_it_halves_the_cycle"),
    }
    assert unmarked == []
    first = next(c for c in coverage if c.test_id.endswith("five_business_days"))
    assert first.test_id == "tests/visits/test_sample.py::test_it_is_due_in_five_business_days"
    assert first.description == "A new account is due by 17:00 of the fifth business day."
    joins = next(c for c in coverage if c.test_id.endswith("joins_the_open_visit"))
    assert joins.description == "it joins the open visit"


def test_it_lists_tests_without_a_marker():
    source = "import pytest\n\ndef test_plain():\n    pass\n\nclass TestX:\n    def test_y(self):\n        pass\n"
    coverage, unmarked = scan_source(source, "tests/test_x.py")
    assert coverage == []
    assert unmarked == ["tests/test_x.py::test_plain", "tests/test_x.py::TestX::test_y"]


def test_it_scans_a_tests_tree(tmp_path):
    (tmp_path / "tests" / "visits").mkdir(parents=True)
    (tmp_path / "tests" / "visits" / "test_sample.py").write_text(SAMPLE_TESTS)
    (tmp_path / "tests" / "visits" / "conftest.py").write_text(SAMPLE_TESTS)  # not a test file
    coverage, unmarked = scan_tests(tmp_path / "tests", tmp_path)
    assert {c.test_id.split("::")[0] for c in coverage} == {"tests/visits/test_sample.py"}
    assert len(coverage) == 8
    assert unmarked == []


def test_the_report_groups_by_section_and_lists_gaps_and_unknown_sections():
    sections = read_sections(SAMPLE_SPEC)
    coverage = [
        Coverage("4", "new-account", "tests/a.py::test_b", "it is due"),
        Coverage("4", "", "tests/a.py::test_c", "it is generated"),
        Coverage("12", "nowhere", "tests/a.py::test_d", "it is lost"),
    ]
    report = render(sections, coverage, unmarked=["tests/test_infra.py::test_e"])
    lines = report.splitlines()

    assert "Tests with a specification reference: 3   without one (technical tests): 1" in lines
    assert "Specification sections covered: 1 of 3" in lines
    at = lines.index("Section 4. When visits are due (§6)  [2 test(s)]")
    assert lines[at + 1 : at + 7] == [
        "  - (the section as a whole)",
        "      it is generated",
        "          tests/a.py::test_c",
        "  - new-account",
        "      it is due",
        "          tests/a.py::test_b",
    ]
    gaps = lines.index("SECTIONS WITH NO TEST YET")
    assert lines[gaps + 1 : gaps + 3] == [
        "  Section 1. Scope (§2)",
        "  Section 7. Problem handling (§9)",
    ]
    assert '  spec("12.nowhere") on tests/a.py::test_d' in lines


def test_the_real_spec_has_numbered_sections():
    from tests.traceability import find_spec

    sections = read_sections(find_spec().read_text(encoding="utf-8"))
    assert [s.number for s in sections] == [str(n) for n in range(1, len(sections) + 1)]
    assert len(sections) >= 9


SAMPLE_RULEBOOK = """\
銀行回訪賬戶管理辦法

一、引言親愛的同事們,這是前言。

二、回訪目的1.確保客戶信息準確性:核實聯系方式。
2.提升賬戶安全性:提醒客戶。

三、監督與檢查1.內部監督:每月抽查。2.客戶監督:接受投訴。3
"""


def test_it_reads_the_rulebooks_clauses_and_the_one_cut_off():
    clauses = read_clauses(SAMPLE_RULEBOOK)
    assert [(c.number, c.cut_off) for c in clauses] == [
        ("一", False),
        ("二.1", False),
        ("二.2", False),
        ("三.1", False),
        ("三.2", False),
        ("三.3", True),
    ]
    assert clauses[1].title == "確保客戶信息準確性"


def test_the_real_rulebook_has_every_chapter_and_ends_inside_10_3():
    clauses = read_clauses(RULEBOOK.read_text(encoding="utf-8"))
    numbers = [c.number for c in clauses]
    assert {n.split(".")[0] for n in numbers} == set("一二三四五六七八九") | {"十"}
    assert "六.3" in numbers and "九.2" in numbers
    assert [c.number for c in clauses if c.cut_off] == ["十.3"]


def test_only_a_labelled_clause_without_a_test_is_declarative_the_rest_are_gaps():
    clauses = read_clauses(SAMPLE_RULEBOOK)
    coverage = [Coverage("2", "record", "tests/a.py::test_b", "it records", ("二.1", "三.1"))]
    lines = render_clauses(clauses, coverage, declarative={"一": "a preface", "二.1": "not so"})

    assert "  一 引言親愛的同事們  (declarative, nothing to test)  [0 test(s)]" in lines
    assert "  二.1 確保客戶信息準確性  [1 test(s)]" in lines  # a test wins over the label
    declared = lines.index("DECLARATIVE RULEBOOK CLAUSES: NOTHING TO TEST")
    assert lines[declared + 1 : declared + 3] == ["  一 引言親愛的同事們: a preface", ""]
    gaps = lines.index("RULEBOOK CLAUSES WITH NO TEST")
    assert lines[gaps + 1 :] == [
        "  二.2 提升賬戶安全性",
        "  三.2 客戶監督",
        "  三.3   (cut off in the source text: nothing to test)",
    ]
