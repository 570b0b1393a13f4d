"""Test infrastructure shared by the whole suite: service markers and browser fixtures.

Markers (registered in pyproject.toml):
- ``spec("4.new-account")``: the SPEC.md section a test proves (see ``tests/traceability.py``).
- ``postgres``, ``redis``, ``browser``: the test needs that service. Without it the test is
  skipped, except when ``REQUIRE_SERVICES=1`` (CI), where it fails instead. In CI any skipped test
  also makes the whole run fail, so a missing service can never pass unnoticed.

App fixtures (personas, factories) live in ``tests/<app>/conftest.py``, not here.
"""

import functools
import os
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _postgres_problem() -> str | None:
    from django.db import connections

    vendor = connections["default"].vendor
    if vendor != "postgresql":
        return f"needs PostgreSQL; the default database is {vendor} (set DATABASE_URL)"
    return None


@functools.cache
def _redis_problem() -> str | None:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return "needs Redis; REDIS_URL is not set"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # any failure means "not usable here"
        return f"needs Redis; {url} did not answer PING ({exc.__class__.__name__}: {exc})"
    return None


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _browser_problem() -> str | None:
    path = chromium_path()
    if not Path(path).is_file() or not os.access(path, os.X_OK):
        return f"needs Chromium; {path} does not exist (set CHROMIUM_PATH)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright Python package"
    return None


def _allow_orm_beside_playwright() -> None:
    # Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
    # ORM calls made from the test while a page is open.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def _service_problem(item: pytest.Item) -> tuple[str, str] | None:
    """(what is missing, the CI failure message) for the first service the test lacks."""
    if item.get_closest_marker("postgres") and (problem := _postgres_problem()):
        return problem, "PostgreSQL required in CI"
    if item.get_closest_marker("redis") and (problem := _redis_problem()):
        return problem, "Redis required in CI"
    if item.get_closest_marker("browser") and (problem := _browser_problem()):
        return problem, "Chromium required in CI"
    return None


def _bad_spec_markers(item: pytest.Item) -> list[str]:
    from tests.traceability import parse_section_id

    return [
        f"spec{marker.args!r}"
        for marker in item.iter_markers("spec")
        if not marker.args
        or not all(isinstance(arg, str) and parse_section_id(arg) for arg in marker.args)
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        missing = _service_problem(item)
        if missing and not services_required():
            # A skip marker (rather than pytest.skip in setup) reports the test's own location.
            item.add_marker(pytest.mark.skip(reason=missing[0]))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if bad := _bad_spec_markers(item):
        pytest.fail(
            f'{", ".join(bad)}: a spec marker names a SPEC.md section, like spec("4.new-account")',
            pytrace=False,
        )
    missing = _service_problem(item)
    if missing and services_required():
        pytest.fail(f"{missing[1]}: {missing[0]}", pytrace=False)
    if item.get_closest_marker("browser"):
        _allow_orm_beside_playwright()


# --- In CI, no test may be skipped ---------------------------------------------------------------

_skipped: list[str] = []


def _note_skip(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The xdist controller receives every worker's reports, so it alone decides.
    if services_required() and _skipped and not _is_xdist_worker(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if services_required() and _skipped and not _is_xdist_worker(config):
        terminalreporter.section("skipped tests are failures when REQUIRE_SERVICES=1", red=True)
        for line in _skipped:
            terminalreporter.write_line(line)


# --- Browser --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pw_browser():
    """A headless Chromium (the system one; Playwright never downloads a browser here)."""
    if problem := _browser_problem():
        if services_required():
            pytest.fail(f"Chromium required in CI: {problem}", pytrace=False)
        pytest.skip(problem)
    _allow_orm_beside_playwright()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def pw_page(pw_browser):
    """A fresh page in its own context (cookies, storage), Chinese locale, Beijing time."""
    context = pw_browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(30_000)  # CI runs two workers on two cores: pages can be slow
    # Every page must pass the Content-Security-Policy: a refused script or style, or a script
    # error, fails the test that opened it.
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == [], f"console errors on the pages: {problems}"
