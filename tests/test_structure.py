"""Guardrails on the shape of the code base (docs/ARCHITECTURE.md): modules stay small, imports
of another app sit at module top (where lint-imports sees them), comments do not point to
issue numbers nobody can see, and every scheduled job names a task that exists."""

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from callback_admin.celery import app as celery_app
from core.schedules import SCHEDULES

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "accounts", "visits", "escalations", "workspace", "supervision", "callback_admin")
MAX_LINES = 600
TASK_NAME = re.compile(rf"^({'|'.join(APPS)})\.tasks\.\w+$")
# The word issue followed by a number, or a hash sign and a number: a tracker reference.
ISSUE_REFERENCE = re.compile(r"\bissues?\s*#?\d+|(?<![\w&/])#\d+\b", re.IGNORECASE)


def _modules(*roots: str) -> list[Path]:
    found = []
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            found.append(path)
    assert found, "no module found: the paths of this test are stale"
    return found


def _product_modules() -> list[Path]:
    return _modules(*APPS)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_no_module_is_over_600_lines():
    """Migrations, tests and benchmarks aside: a module that grows past this is split by
    subject."""
    long = {
        _relative(path): lines
        for path in _product_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def _local_imports_of_other_apps(name: str, source: str) -> list[str]:
    """Imports of another first-party app inside a function body of module ``name`` (a path
    from the project root). The app's own apps.py may import in ``ready()`` (Django's place
    for signal wiring)."""
    own_app = name.split("/")[0]
    is_apps = name.endswith("/apps.py")
    tree = ast.parse(source, filename=name)
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if function is not None and isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.ImportFrom):
                    names = [child.module or ""] if child.level == 0 else []
                else:
                    names = [alias.name for alias in child.names]
                for imported in names:
                    app = imported.split(".")[0]
                    allowed = is_apps and function == "ready"
                    if app in APPS and app != own_app and not allowed:
                        found.append(f"{name}:{child.lineno} {function}() imports {imported}")
            visit(child, function)

    visit(tree, None)
    return found


def test_no_function_imports_another_app():
    """Layers are enforced by lint-imports, which sees imports wherever they are; an import
    hidden in a function is also one a reader does not see at the top of the module."""
    found = [
        line
        for path in _product_modules()
        for line in _local_imports_of_other_apps(_relative(path), path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_import_checker_finds_what_it_looks_for():
    source = (
        "import visits.rules\n"  # module top: fine
        "def f():\n"
        "    from supervision.models import Complaint\n"  # another app: found
        "    import escalations.services\n"  # found
        "    from visits.models import Visit\n"  # its own app: fine
        "    from . import rules\n"  # relative, so its own app: fine
        "    import json\n"  # not first-party: fine
        "class C:\n"
        "    def ready(self):\n"
        "        from core import signals\n"  # ready() outside apps.py: found
    )
    assert _local_imports_of_other_apps("visits/probe.py", source) == [
        "visits/probe.py:3 f() imports supervision.models",
        "visits/probe.py:4 f() imports escalations.services",
        "visits/probe.py:10 ready() imports core",
    ]
    assert _local_imports_of_other_apps("visits/apps.py", source)[-1].startswith("visits/apps.py:4")


def _comments(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type == tokenize.COMMENT]


def test_no_comment_cites_an_issue_number():
    """Issue numbers mean nothing to a reader of the code: a comment says why, in words."""
    found = [
        f"{_relative(path)}:{line} {comment}"
        for path in _modules(*APPS, "tests", "bench")
        for line, comment in _comments(path)
        if ISSUE_REFERENCE.search(comment.lstrip("#"))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("comment", "cites"),
    [
        ("# see issue 13", True),
        ("# (#8) keep", True),
        ("# issues #4 and #5", True),
        ("# 1 session, 2 user", False),
        ("# noqa: E501", False),
        ("# a # sign", False),
    ],
)
def test_the_issue_pattern(comment, cites):
    assert bool(ISSUE_REFERENCE.search(comment.lstrip("#"))) is cites


def _project_tasks() -> dict[str, object]:
    celery_app.loader.import_default_modules()
    return {name: task for name, task in celery_app.tasks.items() if not name.startswith("celery.")}


def test_task_names_are_app_tasks_name():
    tasks = _project_tasks()
    assert tasks, "no project task registered: autodiscovery found nothing"
    assert [name for name in tasks if not TASK_NAME.match(name)] == []
    # The name says where the task lives.
    misplaced = {
        name: task.run.__module__
        for name, task in tasks.items()
        if task.run.__module__ != name.rsplit(".", 1)[0]
    }
    assert misplaced == {}


def test_every_schedule_names_a_registered_task():
    tasks = _project_tasks()
    assert SCHEDULES
    assert [entry.task for entry in SCHEDULES if entry.task not in tasks] == []
    assert len({entry.name for entry in SCHEDULES}) == len(SCHEDULES)
