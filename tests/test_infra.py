"""The traceability report's parser, on a small sample spec and test module."""

from tests.traceability import (
    Coverage,
    Section,
    parse_section_id,
    read_sections,
    render,
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
