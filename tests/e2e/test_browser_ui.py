"""The Airflow UI in headless Chromium: log in, open the trigger form, trigger a run, see it succeed.

Debian's ``chromium`` (``make e2e-deps`` installs it) is driven by Playwright with an empty profile of its
own; Playwright downloads no browser. The REST API is the ground truth for the run's state; the page
must show the same. Screenshots go to a temporary folder, and to ``BANKING_E2E_SCREENSHOT_DIR`` when it
is set (``BANKING_E2E_SCREENSHOT_DIR=docs/img make e2e`` refreshes the README's pictures).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright
from scripts.e2e_stack import ADMIN, Stack

from tests.e2e.helpers import SETTINGS, publish_screenshot

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("BANKING_E2E_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
DAG = "banking_transactions"
# The form's fields, by the titles of the DAG's Params, and what the test types into them.
FORM = {
    "Window (minutes)": ("window_minutes", "2"),
    "Transactions per minute": ("rate_per_minute", "250"),
    "Injected fraud share": ("fraud_rate", "0.1"),
    "Stream variant": ("variant", "5"),
}
# The Params' JSON-schema bounds (dags/banking_transactions.py), as the form's fields announce them.
BOUNDS = {
    "window_minutes": ("1", "1440"),
    "rate_per_minute": ("0", "100000"),
    "fraud_rate": ("0", "0.5"),
    "variant": ("0", "2147483647"),
}
TIMEOUT_MS = 60_000
expect.set_options(timeout=30_000)


def show_params(dialog: Locator) -> None:
    """Open the form's "Run Parameters" section unless it is open."""
    section = dialog.get_by_role("button", name="Run Parameters")
    if section.get_attribute("aria-expanded") != "true":
        section.click()
    expect(section).to_have_attribute("aria-expanded", "true")
    expect(dialog.get_by_role("spinbutton", name="Window (minutes)", exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make e2e-deps` installs Debian's chromium (or set BANKING_E2E_CHROMIUM)"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture(scope="module")
def form(celery_stack: Stack, page: Page) -> Page:
    """Logged in, on banking_transactions, with its trigger form open."""
    page.goto(f"{celery_stack.base_url}/dags/{DAG}")
    # Not logged in: the simple auth manager's login page, which returns to the DAG afterwards.
    expect(page.get_by_text("Sign into Airflow")).to_be_visible()
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(celery_stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/dags/{DAG}$"))
    expect(page.get_by_role("heading", name=DAG)).to_be_visible()
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Trigger Dag - {DAG}")).to_be_visible()
    expect(dialog.get_by_text("Run Parameters")).to_be_visible()
    return page


def test_the_trigger_form_shows_the_typed_params(form: Page, screenshot_dir: Path) -> None:
    dialog = form.get_by_role("dialog")
    for label, (name, _) in FORM.items():
        # A number field with the Param's JSON-schema bounds, empty by default (the environment's setting).
        field = dialog.get_by_role("spinbutton", name=label, exact=True)
        expect(field).to_be_visible()
        expect(field).to_be_empty()
        low, high = BOUNDS[name]
        expect(field).to_have_attribute("aria-valuemin", low)
        expect(field).to_have_attribute("aria-valuemax", high)
    # The descriptions of the Params are shown under their fields.
    expect(dialog.get_by_text("Average transactions per minute.", exact=False)).to_be_visible()
    # A share above the schema's maximum is brought back to it when the field is left.
    fraud = dialog.get_by_role("spinbutton", name="Injected fraud share", exact=True)
    fraud.fill("0.9")
    fraud.press("Tab")
    expect(fraud).to_have_value("0.5")
    for label, (_, value) in FORM.items():
        dialog.get_by_role("spinbutton", name=label, exact=True).fill(value)
    dialog.get_by_role("spinbutton", name="Stream variant", exact=True).press("Tab")
    form.set_viewport_size({"width": 1280, "height": 1250})
    shot = screenshot_dir / "airflow-trigger-form.png"
    dialog.screenshot(path=str(shot))
    publish_screenshot(shot)
    # The run's conf, as the form will send it: numbers, not strings.
    advanced = dialog.get_by_role("button", name="Advanced Options")
    advanced.click()
    expect(advanced).to_have_attribute("aria-expanded", "true")
    conf = dialog.get_by_text("Configuration JSON").locator("xpath=..")
    for name, value in FORM.values():
        # (the editor separates with non-breaking spaces)
        expect(conf).to_contain_text(re.compile(rf'"{name}":\s*{re.escape(value)}\s*[,}}]'))
    # The sections are an accordion: going back to the params closes the advanced options.
    show_params(dialog)


def test_a_triggered_run_succeeds_and_the_ui_shows_it(
    celery_stack: Stack, form: Page, screenshot_dir: Path
) -> None:
    assert celery_stack.api is not None
    dialog = form.get_by_role("dialog")
    show_params(dialog)
    for label, (_, value) in FORM.items():  # (again, so that this test does not depend on the other)
        dialog.get_by_role("spinbutton", name=label, exact=True).fill(value)
    dialog.get_by_role("button", name="Trigger").click()
    # The UI opens the new run's page.
    form.wait_for_url(re.compile(rf"/dags/{DAG}/runs/[^/]+$"))
    run_id = unquote(form.url.rsplit("/runs/", 1)[1])

    run = celery_stack.wait_run(DAG, run_id, timeout=240)
    assert run["state"] == "success", run
    assert run["run_type"] == "manual"
    typed = {name: float(value) if "." in value else int(value) for name, value in FORM.values()}
    assert run["conf"] == typed, "the form did not send the typed values as the run's conf"

    form.set_viewport_size({"width": 1280, "height": 800})
    form.reload()
    header = form.get_by_text(run_id, exact=True).first
    expect(header).to_be_visible()
    # The run's state badge and the three task instances, all successful.
    expect(form.get_by_text("Success", exact=True)).to_have_count(4, timeout=TIMEOUT_MS)
    for task_id in ("generate", "score", "load"):
        expect(form.get_by_role("link", name=task_id, exact=True).first).to_be_visible()
    shot = screenshot_dir / "airflow-run-success.png"
    form.screenshot(path=str(shot))
    publish_screenshot(shot)

    expected = SETTINGS.with_overrides({k: v for k, v in typed.items() if k != "window_minutes"})
    with celery_stack.banking() as conn:
        batch = conn.execute(
            "SELECT sum(rows), array_agg(DISTINCT settings_digest), max(window_end) - min(window_start), "
            "min(window_start), max(window_end) FROM banking_batches WHERE run_id = %s",
            (run_id,),
        ).fetchone()
        assert batch[0] is not None, "the UI's run loaded no minute"
        rows, digests, length, first, last = batch
        assert digests == [expected.digest]
        assert length.total_seconds() == 120
        assert rows > 0
        assert conn.execute(
            'SELECT count(*) FROM banking_data WHERE "timestamp" >= %s AND "timestamp" < %s', (first, last)
        ).fetchone() == (rows,)
