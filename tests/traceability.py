"""Traceability report: which automated tests prove which section of the specification.

    python -m tests.traceability            (or: make traceability)

Tests declare what they prove with a marker, ``@pytest.mark.spec("4.new-account")``: the number
before the first dot is the SPEC.md section (``## 4. When visits are due``), the rest is a free
label for the requirement inside it. The marker may sit on a test function, on a test class
(covering its methods) or in a module's ``pytestmark``. It may also name the clause of the
bank's rulebook (``seed/bank-callback-measures.zh.txt``) it proves:
``@pytest.mark.spec("4.burst", clause="六.3")`` (or a tuple of clauses). The report lists every
clause of the rulebook with its tests and the clauses without one.

The test files are read, not imported, so the report needs neither Django nor a database.
Exit status: 0, or 1 when a marker names a section that SPEC.md does not have.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SPEC = REPO_ROOT.parent / "shared" / "SPEC.md"
# The bank's rulebook, kept in docs/ beside the specification (a copy of shared/seed/).
RULEBOOK = REPO_ROOT / "docs" / "bank-callback-measures.zh.txt"
NUMERALS = "一二三四五六七八九十"
RULEBOOK_HEADING = re.compile(rf"^([{NUMERALS}]+)、(.*)$")
SUB_CLAUSE = re.compile(r"(?<![\d.])(\d+)\.(?=\S)")
LOCAL_SPEC = REPO_ROOT / "docs" / "SPEC.md"
# Clauses that state no behaviour the software could show, with the reason. Only these (and a
# clause cut off in the source text) may stand without a test.
DECLARATIVE = {
    "一": "the preface: why the rulebook was written, addressed to the staff; it sets no rule "
    "of its own (the purposes it mentions are the clauses 三.1-三.4, tested there)",
}

SECTION_ID = re.compile(r"^(\d+)(?:\.(.+))?$")
HEADING = re.compile(r"^##\s+(\d+)\.\s+(.+?)\s*$")


@dataclass(frozen=True)
class Section:
    number: str
    title: str


@dataclass(frozen=True)
class Coverage:
    """One test proving one section (and, optionally, a labelled requirement in it)."""

    section: str
    label: str
    test_id: str  # pytest node id, e.g. tests/visits/test_due.py::TestDue::test_it_skips_holidays
    description: str
    clauses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clause:
    """A clause of the rulebook: '六.3' (a numbered item of chapter 六) or '一' (a chapter
    without numbered items). ``cut_off``: the source text stops inside it."""

    number: str
    title: str
    cut_off: bool = False


def read_clauses(text: str) -> list[Clause]:
    """The chapters (一、 ... 十、) of the rulebook and their numbered items (1. 2. ...). A number
    standing alone at the very end of a chapter is an item whose text was cut off."""
    chapters: list[tuple[str, str]] = []
    for line in text.splitlines():
        match = RULEBOOK_HEADING.match(line.strip())
        if match:
            chapters.append((match.group(1), match.group(2)))
        elif chapters and line.strip():
            number, body = chapters[-1]
            chapters[-1] = (number, body + "\n" + line.strip())
    clauses: list[Clause] = []
    for number, body in chapters:
        items = list(SUB_CLAUSE.finditer(body))
        heading = re.split(r"[:：,，。1]", body, maxsplit=1)[0][:12]
        if not items:
            clauses.append(Clause(number, heading))
        for i, item in enumerate(items):
            end = items[i + 1].start() if i + 1 < len(items) else len(body)
            title = re.split(r"[:：,，。]", body[item.end() : end], maxsplit=1)[0][:16]
            clauses.append(Clause(f"{number}.{item.group(1)}", title))
        tail = re.search(r"(\d+)\s*$", body)
        if tail and not body.rstrip().endswith(f"{tail.group(1)}."):
            clauses.append(Clause(f"{number}.{tail.group(1)}", "", cut_off=True))
    return clauses


def parse_section_id(section_id: str) -> tuple[str, str] | None:
    """'4.new-account' -> ('4', 'new-account'); '4' -> ('4', ''); anything else -> None."""
    match = SECTION_ID.match(section_id.strip())
    if not match:
        return None
    return match.group(1), (match.group(2) or "").strip()


def read_sections(spec_text: str) -> list[Section]:
    """The numbered second-level headings: '## 4. When visits are due (§6)'."""
    sections = []
    for line in spec_text.splitlines():
        match = HEADING.match(line)
        if match:
            sections.append(Section(number=match.group(1), title=match.group(2)))
    return sections


def _spec_ids(node: ast.expr) -> list[str] | None:
    """The string arguments of a ``pytest.mark.spec(...)`` / ``mark.spec(...)`` call, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "spec"):
        return None
    owner = func.value
    if not (
        (isinstance(owner, ast.Attribute) and owner.attr == "mark")
        or (isinstance(owner, ast.Name) and owner.id == "mark")
    ):
        return None
    return [
        arg.value
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    ]


def _clause_ids(node: ast.expr) -> list[str]:
    """The ``clause=`` of a ``spec(...)`` mark: a string or a tuple/list of strings."""
    if not isinstance(node, ast.Call):
        return []
    for keyword in node.keywords:
        if keyword.arg == "clause":
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return [value.value]
            if isinstance(value, ast.List | ast.Tuple):
                return [
                    e.value
                    for e in value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                ]
    return []


def _marks_in(node: ast.expr) -> list[str]:
    """Spec ids in a decorator or ``pytestmark`` value (a single mark or a list/tuple of them).
    A clause rides along as ``<section id>@<clause>``."""
    if isinstance(node, ast.List | ast.Tuple):
        return [section_id for element in node.elts for section_id in _marks_in(element)]
    ids = _spec_ids(node) or []
    clauses = _clause_ids(node)
    return [f"{section_id}@{clause}" for section_id in ids for clause in clauses] or ids


def _describe(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The docstring's first line, else the name read as a sentence: test_it_x_y -> 'it x y'."""
    doc = ast.get_docstring(func)
    if doc:
        return doc.strip().splitlines()[0]
    return func.name.removeprefix("test_").replace("_", " ")


def _module_marks(tree: ast.Module) -> list[str]:
    ids: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark"
            for target in statement.targets
        ):
            ids += _marks_in(statement.value)
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == "pytestmark"
            and statement.value is not None
        ):
            ids += _marks_in(statement.value)
    return ids


def _class_marks(cls: ast.ClassDef) -> list[str]:
    ids = [section_id for decorator in cls.decorator_list for section_id in _marks_in(decorator)]
    for statement in cls.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark"
            for target in statement.targets
        ):
            ids += _marks_in(statement.value)
    return ids


def scan_source(source: str, relpath: str) -> tuple[list[Coverage], list[str]]:
    """(coverage found, ids of the tests that carry no spec marker) for one test module."""
    tree = ast.parse(source, filename=relpath)
    coverage: list[Coverage] = []
    unmarked: list[str] = []

    def visit(body, prefix: str, inherited: list[str]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                visit(node.body, f"{prefix}::{node.name}", inherited + _class_marks(node))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                test_id = f"{prefix}::{node.name}"
                own = [sid for decorator in node.decorator_list for sid in _marks_in(decorator)]
                ids = list(dict.fromkeys(inherited + own))
                if not ids:
                    unmarked.append(test_id)
                clauses: dict[str, list[str]] = {}
                for marked in ids:
                    section_id, _sep, clause = marked.partition("@")
                    clauses.setdefault(section_id, [])
                    if clause:
                        clauses[section_id].append(clause)
                for section_id, named in clauses.items():
                    parsed = parse_section_id(section_id)
                    section, label = parsed if parsed else (section_id, "")
                    coverage.append(
                        Coverage(section, label, test_id, _describe(node), tuple(named))
                    )

    visit(tree.body, relpath, _module_marks(tree))
    return coverage, unmarked


def scan_tests(tests_dir: Path, root: Path) -> tuple[list[Coverage], list[str]]:
    coverage: list[Coverage] = []
    unmarked: list[str] = []
    for path in sorted(tests_dir.rglob("test_*.py")):
        found, bare = scan_source(
            path.read_text(encoding="utf-8"), path.relative_to(root).as_posix()
        )
        coverage += found
        unmarked += bare
    return coverage, unmarked


def find_spec(root: Path = REPO_ROOT) -> Path:
    shared = root.parent / "shared" / "SPEC.md"
    return shared if shared.is_file() else root / "docs" / "SPEC.md"


def render_clauses(
    clauses: list[Clause],
    coverage: list[Coverage],
    declarative: dict[str, str] | None = None,
) -> list[str]:
    declarative = DECLARATIVE if declarative is None else declarative
    by_clause: dict[str, set[str]] = defaultdict(set)
    for item in coverage:
        for clause in item.clauses:
            by_clause[clause].add(item.test_id)
    out = ["", "RULEBOOK CLAUSES (银行回访账户管理办法) AND THE TESTS THAT PROVE THEM"]
    for clause in clauses:
        tests = sorted(by_clause.get(clause.number, ()))
        note = "  (cut off in the source text)" if clause.cut_off else ""
        if clause.number in declarative and not tests:
            note += "  (declarative, nothing to test)"
        out.append(f"  {clause.number} {clause.title}{note}  [{len(tests)} test(s)]")
        out += [f"      {test_id}" for test_id in tests]
    labelled = [c for c in clauses if c.number in declarative and c.number not in by_clause]
    if labelled:
        out += ["", "DECLARATIVE RULEBOOK CLAUSES: NOTHING TO TEST"]
        out += [f"  {c.number} {c.title}: {declarative[c.number]}" for c in labelled]
    untested = [c for c in clauses if c.number not in by_clause and c.number not in declarative]
    out += ["", "RULEBOOK CLAUSES WITH NO TEST"]
    out += [
        f"  {c.number} {c.title}"
        + ("  (cut off in the source text: nothing to test)" if c.cut_off else "")
        for c in untested
    ] or ["  none"]
    known = {c.number for c in clauses}
    unknown = sorted({c for item in coverage for c in item.clauses} - known)
    if unknown:
        out += ["", "MARKERS NAMING A CLAUSE THE RULEBOOK DOES NOT HAVE"]
        out += [f"  {c}" for c in unknown]
    return out


def render(
    sections: list[Section],
    coverage: list[Coverage],
    unmarked: list[str],
    clauses: list[Clause] | None = None,
) -> str:
    known = {section.number for section in sections}
    by_section: dict[str, dict[str, list[Coverage]]] = defaultdict(lambda: defaultdict(list))
    for item in coverage:
        by_section[item.section][item.label].append(item)
    marked_tests = {item.test_id for item in coverage}

    out = [
        "TRACEABILITY: SPECIFICATION SECTIONS AND THE AUTOMATED TESTS THAT PROVE THEM",
        "",
        f"Tests with a specification reference: {len(marked_tests)}"
        f"   without one (technical tests): {len(unmarked)}",
        f"Specification sections covered: {sum(1 for s in sections if s.number in by_section)}"
        f" of {len(sections)}",
        "(§ numbers in section titles refer to the bank's rulebook.)",
    ]
    for section in sections:
        labels = by_section.get(section.number, {})
        count = len({item.test_id for items in labels.values() for item in items})
        out += ["", f"Section {section.number}. {section.title}  [{count} test(s)]"]
        if not labels:
            out.append("    no test yet")
        for label in sorted(labels, key=lambda value: (value != "", value)):
            out.append(f"  - {label or '(the section as a whole)'}")
            for item in sorted(labels[label], key=lambda c: c.test_id):
                out.append(f"      {item.description}")
                out.append(f"          {item.test_id}")

    untested = [section for section in sections if section.number not in by_section]
    out += ["", "SECTIONS WITH NO TEST YET"]
    out += [f"  Section {s.number}. {s.title}" for s in untested] or ["  none"]

    if clauses:
        out += render_clauses(clauses, coverage)

    unknown = sorted(
        (item for item in coverage if item.section not in known), key=lambda c: c.test_id
    )
    if unknown:
        out += ["", "ERROR: MARKERS NAMING A SECTION THE SPECIFICATION DOES NOT HAVE"]
        for item in unknown:
            section_id = f"{item.section}.{item.label}" if item.label else item.section
            out.append(f'  spec("{section_id}") on {item.test_id}')
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, help="SPEC.md to read (default: ../shared or docs/)")
    parser.add_argument("--tests", type=Path, default=REPO_ROOT / "tests")
    args = parser.parse_args(argv)

    spec = args.spec or find_spec()
    sections = read_sections(spec.read_text(encoding="utf-8"))
    root = args.tests.resolve().parent
    coverage, unmarked = scan_tests(args.tests.resolve(), root)

    print(f"Specification: {spec}")
    if (
        spec == SHARED_SPEC
        and LOCAL_SPEC.is_file()
        and LOCAL_SPEC.read_bytes() != spec.read_bytes()
    ):
        print(f"Warning: {LOCAL_SPEC.relative_to(REPO_ROOT)} differs from {spec}; copy it over.")
    clauses = read_clauses(RULEBOOK.read_text(encoding="utf-8")) if RULEBOOK.is_file() else []
    print(render(sections, coverage, unmarked, clauses), end="")
    known = {section.number for section in sections}
    return 1 if any(item.section not in known for item in coverage) else 0


if __name__ == "__main__":
    sys.exit(main())
