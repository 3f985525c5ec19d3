"""``batch``: submit a file of jobs at once, follow it with a progress bar, cancel it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from functionalscaffold_client.cli import output
from functionalscaffold_client.cli.arguments import EXIT_INTERRUPTED, UsageError, json_option
from functionalscaffold_client.cli.commands import Command
from functionalscaffold_client.client import Client
from functionalscaffold_client.models import Batch

#: Seconds between two looks at a batch being followed.
FOLLOW_SECONDS = 1.0


def _jobs_from(path: Path) -> list[dict[str, Any]]:
    """One job per line (JSON objects as POST /jobs takes them); blank lines and # comments skipped."""
    if not path.is_file():
        raise UsageError(f"file {str(path)!r} does not exist", "PATH")
    jobs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            job = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"line {number} is not JSON ({exc})", "PATH") from None
        if not isinstance(job, dict):
            raise UsageError(f"line {number} is not a JSON object", "PATH")
        jobs.append(job)
    if not jobs:
        raise UsageError("holds no job", "PATH")
    return jobs


def _submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH")
    parser.add_argument("--webhook", metavar="URL", help="Where to POST the counts once every job has ended.")
    parser.add_argument(
        "--idempotency-key", metavar="KEY", help="Submitting again with the same KEY returns the same batch."
    )
    json_option(parser)


def _submit(client: Client, args: argparse.Namespace, prog: str) -> None:
    made = client.submit_batch(_jobs_from(args.path), args.webhook, idempotency_key=args.idempotency_key)
    if args.as_json:
        output.echo_json(made)
    else:
        output.echo(made.batch_id)


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch_id", metavar="BATCH_ID")
    parser.add_argument(
        "--follow",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Follow it with a live progress bar until every job has ended (default: on a terminal).",
    )
    json_option(parser)


def _status(client: Client, args: argparse.Namespace, prog: str) -> None:
    from functionalscaffold_client.cli.main import fail

    found = client.get_batch(args.batch_id, limit=1)
    follow = args.follow if args.follow is not None else not args.as_json and sys.stderr.isatty()
    if follow and not found.finished:
        try:
            found = _follow(client, found)
        except KeyboardInterrupt:
            fail(f"stopped following; batch {args.batch_id} goes on", EXIT_INTERRUPTED)
    if args.as_json:
        output.echo_json(found)
    else:
        _show(found)


def _batch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch_id", metavar="BATCH_ID")
    json_option(parser)


def _cancel(client: Client, args: argparse.Namespace, prog: str) -> None:
    found = client.cancel_batch(args.batch_id)
    if args.as_json:
        output.echo_json(found)
    else:
        _show(found)


def _ended(found: Batch) -> int:
    return sum(found.counts.get(s, 0) for s in ("completed", "failed", "cancelled"))


def _follow(client: Client, found: Batch) -> Batch:
    """Redraw ``batch ID [###---] 40%`` on stderr each second until every job has ended."""
    while True:
        fraction = _ended(found) / found.total if found.total else 1.0
        output.echo(f"\rbatch {found.batch_id}  {output.bar(fraction)}", err=True, end="")
        if found.finished:
            output.echo(err=True)
            return found
        time.sleep(FOLLOW_SECONDS)
        found = client.get_batch(found.batch_id, limit=1)


def _show(found: Batch) -> None:
    counts = ", ".join(f"{n} {s}" for s, n in found.counts.items() if n)
    output.echo(f"batch      {found.batch_id}")
    output.echo(f"status     {found.status} ({_ended(found)} of {found.total} ended)")
    output.echo(f"jobs       {counts or '-'}")
    output.echo(f"created    {output.when(found.created_at)}")
    output.echo(f"finished   {output.when(found.completed_at)}")


COMMANDS = (
    Command(
        "batch",
        "Submit many jobs at once and follow them together.",
        children=(
            Command(
                "submit",
                "Submit the jobs of PATH (JSON Lines: one job per line, as POST /jobs takes it); print the batch id."
                '\n\nExample line: {"algorithm": "PrimeChecker", "params": {"number": 561}, "priority": 7}',
                _submit_arguments,
                _submit,
            ),
            Command("status", "Show a batch: how many of its jobs are in each status.", _status_arguments, _status),
            Command(
                "cancel", "Cancel the batch's jobs that have not started, stop those running.", _batch_argument, _cancel
            ),
        ),
    ),
)
