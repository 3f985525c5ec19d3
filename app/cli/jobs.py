"""The commands that use a running platform: algorithms, invoke, submit, status, wait, list, cancel.

They talk to it over HTTP with ``app.client``, at ``--url`` / ``$FUNCTIONALSCAFFOLD_URL`` with
``--api-key`` / ``$FUNCTIONALSCAFFOLD_API_KEY``. Errors become a message on stderr and an exit code
(``app.cli.options``).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import click

from app.cli import output
from app.cli.options import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_STILL_RUNNING,
    client_command,
    fail,
    json_option,
    params_options,
    parse_params,
    progress_option,
    schedule_arguments,
    schedule_options,
)
from app.client import Client, ClientError, Job, WaitTimeout

#: How long one request of a wait with a progress line is held: long enough to spare the rate
#: limit, short enough that the line shows a job going from pending to running.
PROGRESS_POLL_SECONDS = 10.0


@client_command()
@json_option
def algorithms(client: Client, as_json: bool) -> None:
    """List the algorithms, with their params."""
    found = client.algorithms()
    if as_json:
        output.echo_json(found)
        return
    rows = []
    for algorithm in found:
        properties = algorithm.params_schema.get("properties", {})
        required = set(algorithm.params_schema.get("required", []))
        params = ", ".join(
            f"{name}{'' if name in required else '?'}: {spec.get('type', 'any')}" for name, spec in properties.items()
        )
        summary = algorithm.description.splitlines()[0] if algorithm.description else ""
        rows.append((algorithm.name, algorithm.version, params, summary))
    output.echo_table(("NAME", "VERSION", "PARAMS", "DESCRIPTION"), rows)


@client_command()
@click.argument("algorithm")
@params_options
@json_option
def invoke(client: Client, algorithm: str, pairs: tuple[str, ...], params_json: str | None, as_json: bool) -> None:
    """Run ALGORITHM now and print its result.

    \b
    Example: functionalscaffold invoke PrimeChecker -p number=561
    """
    invocation = client.invoke(algorithm, **parse_params(pairs, params_json))
    output.echo_json(invocation if as_json else invocation.result)


@client_command()
@click.argument("algorithm")
@params_options
@click.option("--webhook", metavar="URL", help="Where to POST the result when the job ends.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop the job if it runs longer (default: the algorithm's, or the platform's).",
)
@click.option("--wait", is_flag=True, help="Wait for the job to end and print it.")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="With --wait, give up waiting after this long (exit 4; the job goes on).",
)
@click.option("--idempotency-key", metavar="KEY", help="Submitting again with the same KEY returns the same job.")
@schedule_options
@json_option
@progress_option
def submit(
    client: Client,
    algorithm: str,
    pairs: tuple[str, ...],
    params_json: str | None,
    webhook: str | None,
    timeout: float | None,
    wait: bool,
    wait_timeout: float | None,
    idempotency_key: str | None,
    as_json: bool,
    progress: bool | None,
    **schedule: Any,
) -> None:
    """Queue a job of ALGORITHM; print its id, or with --wait, the finished job.

    \b
    Examples:
      functionalscaffold submit PrimeChecker -p number=561 --wait
      functionalscaffold submit PrimeChecker -p number=561 --wait-timeout 30
      functionalscaffold submit PrimeChecker -p number=561 --retry 3 --backoff 2 --at 2026-12-01T09:00Z --priority 9
      JOB=$(functionalscaffold submit PrimeChecker -p number=561)
    """
    job = client.submit(
        algorithm,
        parse_params(pairs, params_json),
        webhook,
        timeout=timeout,
        idempotency_key=idempotency_key,
        **schedule_arguments(**schedule),
    )
    if not wait and wait_timeout is None:
        if as_json:
            output.echo_json(job)
        else:
            click.echo(job.job_id)
        return
    _wait_and_show(client, job.job_id, wait_timeout, as_json, progress)


@client_command()
@click.argument("job_id")
@json_option
def status(client: Client, job_id: str, as_json: bool) -> None:
    """Show a job: its status, params, times and result."""
    _show(client.get(job_id), as_json)


@client_command()
@click.argument("job_id")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="Give up after this long.")
@json_option
@progress_option
def wait(client: Client, job_id: str, timeout: float | None, as_json: bool, progress: bool | None) -> None:
    """Wait for a job to end and show it (exit 3 if it failed or was cancelled)."""
    _wait_and_show(client, job_id, timeout, as_json, progress)


@client_command("list")
@click.option(
    "--status",
    "status_",
    type=click.Choice(["scheduled", "pending", "running", "completed", "failed", "cancelled"]),
    help="Only jobs with this status.",
)
@click.option("--algorithm", help="Only jobs of this algorithm.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many jobs.")
@click.option("--all", "everything", is_flag=True, help="Every job (all pages), ignoring --limit.")
@json_option
def list_jobs(
    client: Client, status_: str | None, algorithm: str | None, limit: int, everything: bool, as_json: bool
) -> None:
    """List your jobs, newest first."""
    found = client.list(status=status_, algorithm=algorithm, page_size=100 if everything else min(limit + 1, 100))
    jobs = list(found if everything else itertools.islice(found, limit + 1))
    more = not everything and len(jobs) > limit
    jobs = jobs[:limit]
    if more:
        click.echo(f"(the newest {limit}; --limit N or --all for more)", err=True)
    if as_json:
        output.echo_json(jobs)
        return
    rows = [
        (
            job.job_id,
            output.status(job),
            job.algorithm,
            output.when(job.created_at),
            output.duration(job),
            output.compact(job.params),
        )
        for job in jobs
    ]
    output.echo_table(("JOB", "STATUS", "ALGORITHM", "CREATED", "DURATION", "PARAMS"), rows)


@client_command()
@click.argument("job_id")
@json_option
def cancel(client: Client, job_id: str, as_json: bool) -> None:
    """Cancel a pending job, or stop a running one."""
    job = client.cancel(job_id)
    if as_json:
        output.echo_json(job)
    elif job.finished:
        click.echo(f"job {job.job_id}: {output.status(job)}")
    else:
        click.echo(f"job {job.job_id}: {job.status}, cancel requested (it stops within a second or so)")


@client_command()
@click.argument("job_id")
@json_option
def redeliver(client: Client, job_id: str, as_json: bool) -> None:
    """Send a finished job's webhook again."""
    _show(client.redeliver_webhook(job_id), as_json)


def _wait_and_show(client: Client, job_id: str, timeout: float | None, as_json: bool, progress: bool | None) -> None:
    """Wait, print the job, and exit with what scripts need to know: completed (0), not (3), not yet (4)."""
    try:
        if progress or (progress is None and click.get_text_stream("stderr").isatty()):
            with output.Progress(job_id) as shown:
                # Live events draw the bar; the wait itself (its timeout, its answer) is the long poll's.
                threading.Thread(target=_follow, args=(client, job_id, shown), daemon=True).start()
                job = client.wait(job_id, timeout, shown.update, interval=PROGRESS_POLL_SECONDS)
        else:
            job = client.wait(job_id, timeout)
    except WaitTimeout as exc:
        _show(exc.job, as_json)
        fail(f"{exc}; run `functionalscaffold wait {job_id}` to wait again", EXIT_STILL_RUNNING)
    except KeyboardInterrupt:
        fail(f"stopped waiting; job {job_id} goes on (`functionalscaffold wait {job_id}`)", EXIT_INTERRUPTED)
    _show(job, as_json)
    if job.status != "completed":
        raise SystemExit(EXIT_JOB_FAILED)


def _follow(client: Client, job_id: str, shown: output.Progress) -> None:
    """Feed the job's live events to the progress line; the line keeps working without them."""
    try:
        for event in client.events(job_id):
            if event.job is not None:
                shown.update(event.job)
            elif event.progress is not None:
                shown.progress(event.progress.fraction, event.progress.message)
    except ClientError:
        pass  # an older server without events, or the stream lost: the status line still updates


def _show(job: Job, as_json: bool) -> None:
    if as_json:
        output.echo_json(job)
    else:
        output.echo_job(job)


COMMANDS = (algorithms, invoke, submit, status, wait, list_jobs, cancel, redeliver)
