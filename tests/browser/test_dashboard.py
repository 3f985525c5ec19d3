"""The dashboard in a real browser, against the Procfile's processes on a real Redis.

Timeouts are what each awaited thing may take, not guesses at how long to sleep: the jobs and
workers views poll every second, the overview every 2 s, a worker leaves the registry
``WORKER_LEASE_SECONDS`` after its last heartbeat, a free worker starts a queued job in well under a
second (here given seconds, for a busy CI machine).
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from dashboards import WORKER_LEASE_SECONDS, Dashboard, Tab, open_tab, sign_in
from playwright.sync_api import expect
from support import wait_until

pytestmark = pytest.mark.browser

#: The jobs and workers views poll once a second; a poll's answer needs a moment more to show.
POLL_MS = 1000
#: Room for a busy machine (two CPU hogs on two cores) beyond any interval the dashboard keeps.
SLACK_MS = 4000
#: A free worker starts a queued job in milliseconds; this is the room a loaded machine gets.
JOB_START_MS = 10_000


def _job_row(tab: Tab, job_id: str) -> Any:
    return tab.page.locator(f'#jobs-listing tr[data-job-id="{job_id}"]')


def _status(dashboard: Dashboard, job_id: str) -> str:
    return dashboard.api("GET", f"/jobs/{job_id}")["status"]


def test_a_client_key_sees_the_admin_key_prompt_and_no_data(dashboard: Dashboard, tab: Tab) -> None:
    # Given a job on the platform
    job_id = dashboard.submit("Sleeping", {"seconds": 0.01})

    # When the dashboard is opened with no key, it only asks for one
    tab.page.goto(dashboard.url + "/dashboard#/jobs")
    expect(tab.page.locator("#gate-message")).to_contain_text("requires an API key")
    expect(tab.page.locator("#view")).to_be_hidden()

    # When a client key is given, the API answers 403 and the dashboard says an admin key is needed
    sign_in(tab, dashboard, key=dashboard.client_key, fragment="#/jobs")
    expect(tab.page.locator("#gate-message")).to_contain_text("needs an admin key")
    expect(tab.page.locator("#nav")).to_be_hidden()
    expect(tab.page.locator("#view")).to_be_hidden()
    assert tab.page.locator("#view *").count() == 0
    assert job_id not in tab.page.content()
    tab.page.screenshot(path=dashboard.artifacts / "gate-client-key-light.png")

    # And the refused key is not kept, and went in no URL
    assert tab.page.evaluate("sessionStorage.length") == 0
    assert not [url for url in tab.requests if dashboard.client_key in url]

    # And a wrong key is told apart from a client key
    sign_in(tab, dashboard, key="not-a-key")
    expect(tab.page.locator("#gate-message")).to_contain_text("not accepted")
    expect(tab.page.locator("#view")).to_be_hidden()


def test_a_submitted_job_shows_in_the_table_within_2_s_and_its_status_changes_live(
    dashboard: Dashboard, tab: Tab, tmp_path: Path
) -> None:
    # Given an operator looking at the jobs table
    sign_in(tab, dashboard, fragment="#/jobs")
    expect(tab.page.locator("#jobs-listing table")).to_be_visible()

    # When a client submits a job over the API, it is in the table within 2 s
    gate = tmp_path / "gate"
    job_id = dashboard.submit("Gated", {"gate": str(gate)})
    row = _job_row(tab, job_id)
    expect(row).to_be_visible(timeout=2000)

    # And its status follows the job without reloading the page: running, then completed
    expect(row).to_have_attribute("data-status", "running", timeout=JOB_START_MS + POLL_MS)
    gate.touch()
    expect(row).to_have_attribute("data-status", "completed", timeout=JOB_START_MS + POLL_MS)
    assert _status(dashboard, job_id) == "completed"


def test_filters_narrow_the_table_and_search_finds_a_job_or_a_batch(dashboard: Dashboard, tab: Tab) -> None:
    # Given a failed job and a batch
    failed = dashboard.submit("Failing", {"n": 1})
    one_job = {"jobs": [{"algorithm": "Sleeping", "params": {"seconds": 0}}]}
    batch = dashboard.api("POST", "/batches", key=dashboard.client_key, json=one_job)["batch_id"]
    wait_until(lambda: _status(dashboard, failed) == "failed", timeout=JOB_START_MS / 1000, message="the job failed")
    sign_in(tab, dashboard, fragment="#/jobs")

    # When the operator filters on status failed and algorithm Failing, only such jobs are listed
    filters = tab.page.locator("#job-filters")
    filters.get_by_label("Status").select_option("failed")
    expect(filters.get_by_label("Algorithm").locator("option[value=Failing]")).to_be_attached()
    filters.get_by_label("Algorithm").select_option("Failing")
    filters.get_by_role("button", name="Apply").click()
    expect(_job_row(tab, failed)).to_be_visible(timeout=POLL_MS + SLACK_MS)
    rows = tab.page.locator("#jobs-listing tr[data-job-id]")
    expect(rows.filter(has_not_text="Failing")).to_have_count(0, timeout=POLL_MS + SLACK_MS)
    assert set(rows.evaluate_all("rows => rows.map(row => row.dataset.status)")) == {"failed"}

    # When they search for the batch's id, its page opens; for the job's id, the job's page with its error
    search = tab.page.get_by_label("Job or batch id")
    search.fill(batch)
    search.press("Enter")
    expect(tab.page).to_have_url(re.compile(f"#/batches/{batch}$"))
    expect(tab.page.locator("#view tr[data-job-id]")).to_have_count(1, timeout=POLL_MS + SLACK_MS)
    tab.page.goto(dashboard.url + "/dashboard/#/jobs")
    tab.page.get_by_label("Job or batch id").fill(failed)
    tab.page.get_by_label("Job or batch id").press("Enter")
    expect(tab.page.locator("#job-error")).to_contain_text("number must be positive")


def test_progress_moves_live_on_the_job_page(dashboard: Dashboard, tab: Tab, tmp_path: Path) -> None:
    # Given a job that advances one step of four each time the test opens a gate
    job_id = dashboard.submit("Stepping", {"gates": str(tmp_path), "steps": 4})
    sign_in(tab, dashboard, fragment=f"#/jobs/{job_id}")
    bar = tab.page.locator("#job-progress [role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", "0", timeout=JOB_START_MS)
    expect(bar).to_contain_text("step 0 of 4")  # its own report, not a placeholder

    # When it advances, the page's progress bar moves with it (from the job's event stream)
    for step in range(1, 5):
        (tmp_path / str(step)).touch()
        expect(bar).to_have_attribute("aria-valuenow", str(25 * step), timeout=SLACK_MS)
        if step == 2:
            tab.page.screenshot(path=dashboard.artifacts / "job-running-light.png", full_page=True)

    # Then the page shows it completed, with its result, and it followed the job's events
    expect(tab.page.locator("#job-status")).to_have_attribute("data-status", "completed", timeout=SLACK_MS)
    expect(tab.page.locator("#job-result")).to_contain_text('"steps": 4')
    assert [url for url in tab.requests if url.endswith(f"/jobs/{job_id}/events")]


def test_cancel_from_the_job_page_asks_first_then_cancels(dashboard: Dashboard, tab: Tab, tmp_path: Path) -> None:
    # Given a running job (it waits at a gate that never opens) open on its page
    job_id = dashboard.submit("Gated", {"gate": str(tmp_path / "never")})
    sign_in(tab, dashboard, fragment=f"#/jobs/{job_id}")
    status = tab.page.locator("#job-status")
    expect(status).to_have_attribute("data-status", "running", timeout=JOB_START_MS)
    cancel = tab.page.locator("#cancel-job")
    questions: list[str] = []

    # When the operator presses Cancel but declines the question, nothing is sent
    def decline(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    tab.page.once("dialog", decline)
    cancel.click()
    assert questions and "Cancel job" in questions[0]
    assert not [url for url in tab.requests if url.endswith("/cancel")]
    assert _status(dashboard, job_id) == "running"

    # When they press it again and accept, the job is cancelled (the API says so) and the page shows it
    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    tab.page.once("dialog", accept)
    cancel.click()
    assert len(questions) == 2
    wait_until(lambda: _status(dashboard, job_id) == "cancelled", timeout=SLACK_MS / 1000, message="the job cancelled")
    expect(status).to_have_attribute("data-status", "cancelled", timeout=SLACK_MS)
    expect(cancel).to_be_disabled()


def test_a_worker_killed_with_sigkill_leaves_the_workers_page(dashboard: Dashboard, tab: Tab) -> None:
    # Given the workers page showing a jobs worker process
    sign_in(tab, dashboard, fragment="#/workers")
    workers = dashboard.api("GET", "/workers")["workers"]
    victim = next(worker for worker in workers if worker["role"] == "jobs")
    row = tab.page.locator(f'#workers-listing tr[data-pid="{victim["pid"]}"]')
    expect(row).to_be_visible(timeout=POLL_MS + SLACK_MS)

    # When that process is killed with SIGKILL (no chance to deregister)
    os.kill(victim["pid"], signal.SIGKILL)

    # Then its row goes once its last heartbeat is WORKER_LEASE_SECONDS old (and a poll has shown it)
    expect(row).to_have_count(0, timeout=WORKER_LEASE_SECONDS * 1000 + POLL_MS + SLACK_MS)
    # And the supervisor's replacement shows up as a new process
    replacement = tab.page.locator('#workers-listing tr[data-role="jobs"]')
    expect(replacement).to_have_count(1, timeout=JOB_START_MS + POLL_MS)
    assert replacement.get_attribute("data-pid") != str(victim["pid"])


def _populate(dashboard: Dashboard, gates: Path) -> dict[str, str]:
    """Something to show: a batch, a finished job, a failed one (with a traceback), and one running
    halfway (until the gate ``gates/2`` opens)."""
    batch = dashboard.api(
        "POST",
        "/batches",
        key=dashboard.client_key,
        json={"jobs": [{"algorithm": "Sleeping", "params": {"seconds": 0.05 * n}} for n in range(6)]},
    )
    failed = dashboard.submit("Deep", {"depth": 3, "length": 40})
    done = dashboard.submit("PrimeChecker", {"number": 561})
    running = dashboard.submit("Stepping", {"gates": str(gates), "steps": 2})
    (gates / "1").touch()
    for job_id in [failed, done, *batch["job_ids"]]:
        wait_until(lambda job_id=job_id: _status(dashboard, job_id) in ("completed", "failed"), timeout=30)
    halfway = lambda: (dashboard.api("GET", f"/jobs/{running}").get("progress") or {}).get("fraction") == 0.5  # noqa: E731
    wait_until(halfway, timeout=JOB_START_MS / 1000, message="the running job halfway")
    return {"batch": batch["batch_id"], "failed": failed, "done": done, "running": running}


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("light", {"color_scheme": "light"}),
        ("dark", {"color_scheme": "dark"}),
        ("phone", {"color_scheme": "light", "viewport": {"width": 390, "height": 844}, "is_mobile": True}),
    ],
)
def test_every_page_loads_only_from_the_platform_in_light_dark_and_phone_width(
    dashboard: Dashboard, browser: Any, mode: str, options: dict[str, Any], tmp_path: Path
) -> None:
    made = _populate(dashboard, tmp_path)
    try:
        _tour(dashboard, browser, mode, options, made)
    finally:
        (tmp_path / "2").touch()  # the running job ends


def _tour(dashboard: Dashboard, browser: Any, mode: str, options: dict[str, Any], made: dict[str, str]) -> None:
    """Every page, checked and photographed; then what the browser asked for."""
    for tab in open_tab(browser, **options):
        page = tab.page
        sign_in(tab, dashboard)
        expect(page.locator("#nav")).to_be_visible()
        tab.errors.clear()  # the 401 that made the dashboard ask for a key
        pages = [
            ("overview", "#/", "#view .card"),
            ("jobs", "#/jobs", "#jobs-listing tr[data-job-id]"),
            ("job", f"#/jobs/{made['failed']}", "#job-error pre"),
            ("workers", "#/workers", f'#workers-listing a[href="#/jobs/{made["running"]}"]'),
            ("batches", "#/batches", "#batches-listing tr[data-batch-id]"),
            ("batch", f"#/batches/{made['batch']}", "#view tr[data-job-id]"),
        ]
        for name, fragment, shown in pages:
            page.goto(dashboard.url + "/dashboard/" + fragment)
            expect(page.locator(shown).first).to_be_visible(timeout=2 * POLL_MS + SLACK_MS)
            if name == "overview":
                expect(page.locator(".chart svg rect").first).to_be_attached(timeout=2 * POLL_MS + SLACK_MS)
            if name == "job":
                expect(page.locator("#job-error pre")).to_contain_text("in _down")
            page.screenshot(path=dashboard.artifacts / f"{name}-{mode}.png")
            # Nothing wider than the screen but the tables' own scrolling frames
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name

        # Every request went to the platform, and none carried the key in its URL
        origin = dashboard.url + "/"
        assert tab.requests and not [url for url in tab.requests if not url.startswith(origin)]
        assert not [url for url in tab.requests if dashboard.admin_key in url]
        # And nothing failed or was blocked by the page's Content-Security-Policy
        assert not tab.errors
        if mode == "dark":
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert sum(int(part) for part in background[4:-1].split(",")) < 3 * 80, background
