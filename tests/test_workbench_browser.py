"""padu serve in a real browser (Debian's chromium through Playwright), over a warehouse made
by running padu: open a finding, go to its resident, review five pairs with the keyboard,
run the region again while the workbench is serving, and see the decisions applied and the
decided pairs gone from the queue. A hostile name is shown as text, never run."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn
from test_workbench import HOSTILE_READ, WHOLE_NUMBER, make_region, query

from pipelines.cli import run_pipeline
from workbench import ServeSettings, create_app


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI; the workbench's browser tests must run")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, generated):  # type: ignore[no-untyped-def]
    """The workbench served by uvicorn on a free port, in a thread of the test process."""
    base = tmp_path_factory.mktemp("browser")
    url, landing = make_region(base, generated)
    port = _free_port()
    config = uvicorn.Config(
        create_app(ServeSettings(url, port=port)), host="127.0.0.1", port=port, log_level="warning"
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        assert time.monotonic() < deadline, "the workbench did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", url, landing
    served.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    assert not dialogs, "a script from the data ran"
    context.close()


def _keys_on(page) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    form = page.locator("form#decide")
    return (
        form.locator('input[name="left_key"]').get_attribute("value"),
        form.locator('input[name="right_key"]').get_attribute("value"),
    )


def _resident(url: str, key: str) -> str:
    return str(
        query(url, "SELECT resident_id FROM resident_link WHERE record_key = :k", {"k": key}).iloc[
            0, 0
        ]
    )


def test_finding_resident_and_five_reviews_by_keyboard_hold_after_a_rerun(server, page):
    base, url, landing = server
    page.goto(f"{base}/discrepancies")
    page.locator("a.resident").first.click()
    page.wait_for_url("**/resident/**")
    assert page.locator("h1").inner_text().startswith("Resident")
    assert page.locator("text=Linked source rows").is_visible()
    assert not WHOLE_NUMBER.search(page.content())

    page.goto(f"{base}/review")
    queued = len(query(url, "SELECT 1 AS x FROM review_queue"))
    assert queued >= 5
    assert page.locator("#progress").inner_text().startswith(f"0 decided / {queued} queued")
    assert page.locator("svg.waterfall").is_visible()
    decided: dict[tuple[str, str], str] = {}
    for i, key in enumerate("mnmnn"):
        pair = _keys_on(page)
        assert pair not in decided
        with page.expect_navigation():
            page.keyboard.press(key)
        decided[pair] = "match" if key == "m" else "no_match"
        assert page.locator("#progress").inner_text().startswith(f"{i + 1} decided /")
    stored = query(url, "SELECT left_key, right_key, decision, decided_by FROM review_decision")
    assert len(stored) == 5 and set(stored["decided_by"]) == {getpass.getuser()}
    assert {(r.left_key, r.right_key): r.decision for r in stored.itertuples()} == {
        tuple(sorted(p)): d for p, d in decided.items()
    }

    # The region's next run, while the workbench keeps serving the same file.
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    waiting = query(url, "SELECT left_key, right_key FROM review_queue")
    left_in_queue = {
        frozenset(p) for p in zip(waiting["left_key"], waiting["right_key"], strict=True)
    }
    assert not left_in_queue & {frozenset(p) for p in decided}
    for (left, right), decision in decided.items():
        same = _resident(url, left) == _resident(url, right)
        assert same == (decision == "match"), (left, right, decision)
    page.goto(f"{base}/review")
    assert page.locator("#progress").inner_text().startswith(f"0 decided / {len(waiting)} queued")
    if len(waiting):
        assert _keys_on(page) not in decided


def test_hostile_name_shows_as_text(server, page):
    base, url, _ = server
    resident_id = query(
        url,
        "SELECT l.resident_id FROM resident_link l JOIN restricted.source_record r "
        "ON r.source_file = l.source_file AND r.source_row = l.source_row "
        "WHERE r.name_raw = :name",
        {"name": HOSTILE_READ},
    ).iloc[0, 0]
    page.goto(f"{base}/resident/{resident_id}")
    assert page.get_by_text(HOSTILE_READ).first.is_visible()
    assert page.evaluate("() => document.querySelectorAll('main script').length") == 0
    assert page.evaluate("() => typeof window.PWNED") == "undefined"
