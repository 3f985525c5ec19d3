"""``functionalscaffold batch``: submit a file of jobs at once, follow it with a progress bar, cancel it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from app.cli import output
from app.cli.options import EXIT_INTERRUPTED, client_command, fail, json_option
from app.client import Batch, Client

#: Seconds between two looks at a batch being followed.
FOLLOW_SECONDS = 1.0


@click.group()
def batch() -> None:
    """Submit many jobs at once and follow them together."""


def _jobs_from(path: Path) -> list[dict]:
    """One job per line (JSON objects as POST /jobs takes them); blank lines and # comments skipped."""
    jobs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            job = json.loads(line)
        except ValueError as exc:
            raise click.BadParameter(f"line {number} is not JSON ({exc})", param_hint="PATH") from None
        if not isinstance(job, dict):
            raise click.BadParameter(f"line {number} is not a JSON object", param_hint="PATH")
        jobs.append(job)
    if not jobs:
        raise click.BadParameter("holds no job", param_hint="PATH")
    return jobs


@client_command("submit")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--webhook", metavar="URL", help="Where to POST the counts once every job has ended.")
@click.option("--idempotency-key", metavar="KEY", help="Submitting again with the same KEY returns the same batch.")
@json_option
def submit(client: Client, path: Path, webhook: str | None, idempotency_key: str | None, as_json: bool) -> None:
    """Submit the jobs of PATH (JSON Lines: one job per line, as POST /jobs takes it); print the batch id.

    \\b
    Example line: {"algorithm": "PrimeChecker", "params": {"number": 561}, "priority": 7}
    """
    made = client.submit_batch(_jobs_from(path), webhook, idempotency_key=idempotency_key)
    if as_json:
        output.echo_json(made)
    else:
        click.echo(made.batch_id)


@client_command("status")
@click.argument("batch_id")
@click.option(
    "--follow/--no-follow",
    default=None,
    help="Follow it with a live progress bar until every job has ended (default: on a terminal).",
)
@json_option
def status(client: Client, batch_id: str, follow: bool | None, as_json: bool) -> None:
    """Show a batch: how many of its jobs are in each status."""
    found = client.get_batch(batch_id, limit=1)
    if follow is None:
        follow = not as_json and click.get_text_stream("stderr").isatty()
    if follow and not found.finished:
        try:
            found = _follow(client, found)
        except KeyboardInterrupt:
            fail(f"stopped following; batch {batch_id} goes on", EXIT_INTERRUPTED)
    if as_json:
        output.echo_json(found)
    else:
        _show(found)


@client_command("cancel")
@click.argument("batch_id")
@json_option
def cancel(client: Client, batch_id: str, as_json: bool) -> None:
    """Cancel the batch's jobs that have not started, stop those running."""
    found = client.cancel_batch(batch_id)
    if as_json:
        output.echo_json(found)
    else:
        _show(found)


def _ended(found: Batch) -> int:
    return sum(found.counts.get(s, 0) for s in ("completed", "failed", "cancelled"))


def _follow(client: Client, found: Batch) -> Batch:
    stderr = click.get_text_stream("stderr")
    with click.progressbar(length=found.total, label=f"batch {found.batch_id}", file=stderr) as bar:
        shown = _ended(found)
        bar.update(shown)
        while not found.finished:
            time.sleep(FOLLOW_SECONDS)
            found = client.get_batch(found.batch_id, limit=1)
            ended = _ended(found)
            bar.update(ended - shown)
            shown = ended
    return found


def _show(found: Batch) -> None:
    counts = ", ".join(f"{n} {s}" for s, n in found.counts.items() if n)
    click.echo(f"batch      {found.batch_id}")
    click.echo(f"status     {found.status} ({_ended(found)} of {found.total} ended)")
    click.echo(f"jobs       {counts or '-'}")
    click.echo(f"created    {output.when(found.created_at)}")
    click.echo(f"finished   {output.when(found.completed_at)}")


batch.add_command(submit)
batch.add_command(status)
batch.add_command(cancel)
COMMANDS = (batch,)
