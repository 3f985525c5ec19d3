"""The ``functionalscaffold`` command, run as a user runs it, against the platform of the Procfile."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
from dataclasses import dataclass

import pytest
from support import WebhookReceiver, hostile_folder, platform_env, wait_until

from app.infra.embedded_redis import free_port

pytestmark = pytest.mark.slow


@dataclass
class Cli:
    """Runs ``functionalscaffold ARGS`` with a test's own key in the environment."""

    env: dict[str, str]
    key: str
    #: Run from a user's project folder with app.py, workers.py and algorithms.py of its own.
    folder: str

    def __call__(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["functionalscaffold", *args], env=self.env, capture_output=True, text=True, timeout=60, cwd=self.folder
        )
        if check is not None:
            assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done


@pytest.fixture
def cli(keyed_platform, tmp_path) -> Cli:
    key = keyed_platform.key()
    env = platform_env(FUNCTIONALSCAFFOLD_URL=keyed_platform.url, FUNCTIONALSCAFFOLD_API_KEY=key)
    return Cli(env, key, hostile_folder(tmp_path / "project"))


def test_submit_wait_prints_the_finished_job_in_one_command(cli: Cli) -> None:
    done = cli("submit", "PrimeChecker", "-p", "number=561", "--wait")

    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert lines["status"] == "completed"
    assert json.loads(lines["result"])["factors"] == [3, 11, 17]


def test_submit_prints_the_id_and_wait_follows_it_with_progress(cli: Cli, tmp_path) -> None:
    gate = tmp_path / "gate"  # the job runs until the test has seen `wait` tell it is running
    job_id = cli("submit", "Gated", "--params", json.dumps({"gate": str(gate)})).stdout.strip()

    waiting = subprocess.Popen(
        ["functionalscaffold", "wait", job_id, "--progress", "--timeout", "60"],  # ends by itself
        env=cli.env,
        cwd=cli.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [waiting.stderr.readline()]  # one line per change of status, as it happens
        while f"job {job_id}: running" not in lines[-1] and lines[-1]:
            lines.append(waiting.stderr.readline())
        gate.touch()
        out, rest = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert f"job {job_id}: waiting" in lines[0] and f"job {job_id}: running" in lines[-1], lines
    assert f"job {job_id}: completed" in rest and waiting.returncode == 0, (rest, out)
    assert "completed" in out and '"pid"' in out
    shown = json.loads(cli("status", job_id, "--json").stdout)
    assert shown["result"]["pid"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", shown["created_at"])  # as the API writes


def test_wait_on_a_terminal_draws_the_jobs_progress_bar(cli: Cli) -> None:
    number = 3 * (2**61 - 1) * (2**89 - 1)  # factoring it takes the whole budget, reporting as it goes
    job_id = cli("submit", "PrimeChecker", "--params", json.dumps({"number": number, "time_budget": 3})).stdout.strip()
    primary, secondary = pty.openpty()  # stderr a terminal, as a person waiting sees it
    try:
        waiting = subprocess.Popen(
            ["functionalscaffold", "wait", job_id],
            env=cli.env,
            cwd=cli.folder,
            stdout=subprocess.PIPE,
            stderr=secondary,
            text=True,
        )
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed: the command has ended
                break
            if not chunk:
                break
            drawn += chunk
        out, _ = waiting.communicate(timeout=30)
    finally:
        os.close(primary)
    assert waiting.returncode == 0 and "completed" in out
    bars = re.findall(rb"\[(#*)(-*)\] +(\d+)%", drawn)
    assert bars, drawn[-500:]
    percents = [int(percent) for _, _, percent in bars]
    assert max(percents) > min(percents)  # the bar moved while the job ran
    assert b"factoring" in drawn


def test_params_are_json_when_they_parse_as_json(cli: Cli) -> None:
    job = json.loads(cli("submit", "PrimeChecker", "-p", "number=97", "-p", "time_budget=0.5", "--json").stdout)

    assert job["params"] == {"number": 97, "time_budget": 0.5}


def test_invoke_prints_the_result(cli: Cli) -> None:
    assert json.loads(cli("invoke", "PrimeChecker", "-p", "number=91").stdout)["factors"] == [7, 13]
    full = json.loads(cli("invoke", "PrimeChecker", "-p", "number=91", "--json").stdout)
    assert full["metadata"]["algorithm"] == "PrimeChecker" and full["request_id"]


def test_exit_codes_tell_a_failed_job_from_one_still_running(cli: Cli) -> None:
    failed = cli("submit", "Failing", "-p", "n=1", "--wait", check=3)
    assert "failed" in failed.stdout and "number must be positive" in failed.stdout
    job_id = failed.stdout.split()[1]
    shown = cli("status", job_id).stdout  # the algorithm's traceback, with the job
    assert "traceback" in shown and "Traceback (most recent call last):" in shown and "in run" in shown

    slow = cli("submit", "Sleeping", "-p", "seconds=30", "--wait-timeout", "0.5", "--json", check=4)
    job = json.loads(slow.stdout)  # the job as it was when the wait ended
    assert job["status"] in ("pending", "running")
    assert f"functionalscaffold wait {job['job_id']}" in slow.stderr
    assert json.loads(cli("status", job["job_id"], "--json").stdout)["status"] in ("pending", "running")

    assert "cancel requested" in cli("cancel", job["job_id"]).stdout
    assert json.loads(cli("wait", job["job_id"], "--json", check=3).stdout)["status"] == "cancelled"
    refused = cli("cancel", job["job_id"], check=1)
    assert "JOB_ALREADY_FINISHED" in refused.stderr


def test_ctrl_c_stops_waiting_with_exit_130_and_the_job_goes_on(cli: Cli, tmp_path) -> None:
    job_id = cli("submit", "Sleeping", "-p", "seconds=30").stdout.strip()
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        waiting = subprocess.Popen(["functionalscaffold", "wait", job_id, "--progress"], env=cli.env, stderr=err)
    try:
        wait_until(lambda: "waiting" in stderr.read_text(), timeout=15, message="the wait to start")
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(timeout=10) == 130
    finally:
        waiting.kill()
        waiting.wait()
    assert f"stopped waiting; job {job_id} goes on" in stderr.read_text()
    assert "Traceback" not in stderr.read_text()
    assert json.loads(cli("status", job_id, "--json").stdout)["status"] in ("pending", "running")
    cli("cancel", job_id)


def test_list_shows_a_table_and_json(cli: Cli) -> None:
    ids = [cli("submit", "PrimeChecker", "-p", f"number={n}").stdout.strip() for n in (21, 22, 23)]
    for job_id in ids:
        cli("wait", job_id)

    table = cli("list").stdout.splitlines()
    assert table[0].split() == ["JOB", "STATUS", "ALGORITHM", "CREATED", "DURATION", "PARAMS"]
    assert [row.split()[0] for row in table[1:]] == ids[::-1]
    assert all(row.split()[1] == "completed" for row in table[1:])

    limited = cli("list", "--json", "--limit", "2")
    assert [job["job_id"] for job in json.loads(limited.stdout)] == ids[:0:-1]
    assert "--all for more" in limited.stderr
    assert json.loads(cli("list", "--json", "--status", "failed").stdout) == []


def test_algorithms_lists_names_versions_and_params(cli: Cli) -> None:
    rows = {line.split()[0]: line for line in cli("algorithms").stdout.splitlines()[1:]}

    assert "number: integer" in rows["PrimeChecker"]
    described = {a["name"]: a for a in json.loads(cli("algorithms", "--json").stdout)}
    assert described["PrimeChecker"]["params_schema"]["properties"]["number"]["type"] == "integer"


def test_redeliver_sends_the_webhook_again(cli: Cli) -> None:
    receiver = WebhookReceiver().start()
    try:
        job_id = cli("submit", "PrimeChecker", "-p", "number=7", "--webhook", receiver.url()).stdout.strip()
        wait_until(lambda: receiver.received, timeout=15, message="the webhook")

        shown = cli("redeliver", job_id)

        assert "webhook" in shown.stdout
        wait_until(lambda: len(receiver.received) == 2, timeout=10, message="the redelivery")
    finally:
        receiver.stop()


def test_user_mistakes_get_one_clear_message_and_their_exit_code(cli: Cli) -> None:
    unknown = cli("status", "ffffffffffff", check=1)
    assert unknown.stderr.startswith("Error: JOB_NOT_FOUND") and "request id" in unknown.stderr

    invalid = cli("submit", "PrimeChecker", "-p", "number=many", check=1)
    assert "VALIDATION_ERROR" in invalid.stderr and "params.number" in invalid.stderr

    missing = cli("invoke", "Nope", check=1)
    assert "available: " in missing.stderr and "PrimeChecker" in missing.stderr

    assert "is not KEY=VALUE" in cli("submit", "PrimeChecker", "-p", "number", check=2).stderr
    assert "must be a JSON object" in cli("submit", "PrimeChecker", "--params", "[1]", check=2).stderr
    assert "UNAUTHORIZED" in cli("algorithms", "--api-key", "wrong", check=1).stderr
    assert "is not a URL" in cli("list", "--url", "127.0.0.1:8000", check=2).stderr


def test_an_unreachable_platform_exits_5(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    down = cli("list", "--url", url, "--retry-for", "0.5", check=5)

    assert f"cannot reach {url} (Connection refused)" in down.stderr
