"""Browser tests: Debian's Chromium driven by Playwright against Django's live server.

They need ``/usr/bin/chromium`` (``apt-get install -y chromium``; Playwright's own browser
download does not work here). Without it they are skipped, unless ``FLOWBOARD_REQUIRE_E2E=1``
(CI), where a skipped browser test fails. Screenshots go to ``tests/e2e/artifacts/``.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def pytest_collection_modifyitems(config, items):
    missing = not Path(CHROMIUM).exists()
    for item in items:
        if "tests/e2e/" in item.nodeid:
            item.add_marker(pytest.mark.e2e)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}"))


def pytest_collection_finish(session):
    """Playwright's sync API runs an event loop in the test thread, and the tests' own database
    set-up and checks (not the live server's requests) run beside it: Django's async guard is
    lifted for a run that selected browser tests, and only for it."""
    if any(item.get_closest_marker("e2e") for item in session.items):
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1000}}


@pytest.fixture
def shot():
    """Save a screenshot of a page under tests/e2e/artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
