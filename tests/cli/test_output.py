"""What the CLI prints for people: one job's lines."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from functionalscaffold_client import Job
from functionalscaffold_client.cli.output import counted, echo_job
from functionalscaffold_client.models import Webhook, WebhookAttempt

_AT = datetime(2026, 11, 21, 4, 34, 34, tzinfo=timezone.utc)


def _job_with_attempts(count: int) -> Job:
    attempts = tuple(WebhookAttempt(1, n + 1, _AT, 0.01, 500, None) for n in range(count))
    webhook = Webhook("https://example.com/hook", "msg_1", "retrying", None, attempts)
    return Job("a1b2c3d4e5f6", "completed", "PrimeChecker", {"number": 17}, created_at=_AT, webhook=webhook)


@pytest.mark.parametrize(("count", "shown"), [(0, "0 attempts"), (1, "1 attempt"), (2, "2 attempts")])
def test_the_webhook_line_counts_attempts_in_good_english(capsys, count: int, shown: str) -> None:
    # Given a job whose webhook was tried `count` times, when the CLI shows it
    echo_job(_job_with_attempts(count))

    # Then the count reads as English ("1 attempt", never "1 attempts")
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("webhook")]
    assert line == f"webhook    https://example.com/hook (retrying, {shown})"


def test_counted_is_singular_for_exactly_one() -> None:
    assert [counted(n, "job") for n in (0, 1, 2, 21)] == ["0 jobs", "1 job", "2 jobs", "21 jobs"]
