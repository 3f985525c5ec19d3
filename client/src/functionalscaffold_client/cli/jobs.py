"""The commands that use a running platform: algorithms, invoke, submit, status, wait, list, cancel,
redeliver. Errors become a message on stderr and an exit code (``cli.main``)."""

from __future__ import annotations

import argparse
import itertools
import sys
import threading

from functionalscaffold_client.cli import output
from functionalscaffold_client.cli.arguments import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_STILL_RUNNING,
    int_range,
    json_option,
    non_negative,
    params_options,
    parse_params,
    positive,
    progress_option,
    schedule_arguments,
    schedule_options,
)
from functionalscaffold_client.cli.commands import Command
from functionalscaffold_client.client import Client
from functionalscaffold_client.errors import ClientError, WaitTimeout
from functionalscaffold_client.models import Job

#: How long one request of a wait with a progress line is held: long enough to spare the rate
#: limit, short enough that the line shows a job going from pending to running.
PROGRESS_POLL_SECONDS = 10.0
#: Statuses ``list --status`` takes.
STATUSES = ("scheduled", "pending", "running", "completed", "failed", "cancelled")


def _algorithms(client: Client, args: argparse.Namespace, prog: str) -> None:
    found = client.algorithms()
    if args.as_json:
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


def _invoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("algorithm", metavar="ALGORITHM")
    params_options(parser)
    json_option(parser)


def _invoke(client: Client, args: argparse.Namespace, prog: str) -> None:
    invocation = client.invoke(args.algorithm, **parse_params(args.pairs, args.params_json))
    output.echo_json(invocation if args.as_json else invocation.result)


def _submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("algorithm", metavar="ALGORITHM")
    params_options(parser)
    parser.add_argument("--webhook", metavar="URL", help="Where to POST the result when the job ends.")
    parser.add_argument(
        "--timeout",
        type=positive,
        metavar="SECONDS",
        help="Stop the job if it runs longer (default: the algorithm's, or the platform's).",
    )
    parser.add_argument("--wait", action="store_true", help="Wait for the job to end and print it.")
    parser.add_argument(
        "--wait-timeout",
        type=non_negative,
        metavar="SECONDS",
        help="With --wait, give up waiting after this long (exit 4; the job goes on).",
    )
    parser.add_argument(
        "--idempotency-key", metavar="KEY", help="Submitting again with the same KEY returns the same job."
    )
    schedule_options(parser)
    json_option(parser)
    progress_option(parser)


def _submit(client: Client, args: argparse.Namespace, prog: str) -> None:
    job = client.submit(
        args.algorithm,
        parse_params(args.pairs, args.params_json),
        args.webhook,
        timeout=args.timeout,
        idempotency_key=args.idempotency_key,
        **schedule_arguments(args),
    )
    if not args.wait and args.wait_timeout is None:
        if args.as_json:
            output.echo_json(job)
        else:
            output.echo(job.job_id)
        return
    _wait_and_show(client, job.job_id, args.wait_timeout, args.as_json, args.progress, prog)


def _job_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_id", metavar="JOB_ID")
    json_option(parser)


def _status(client: Client, args: argparse.Namespace, prog: str) -> None:
    _show(client.get(args.job_id), args.as_json)


def _wait_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_id", metavar="JOB_ID")
    parser.add_argument("--timeout", type=non_negative, metavar="SECONDS", help="Give up after this long.")
    json_option(parser)
    progress_option(parser)


def _wait(client: Client, args: argparse.Namespace, prog: str) -> None:
    _wait_and_show(client, args.job_id, args.timeout, args.as_json, args.progress, prog)


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=STATUSES, help="Only jobs with this status.")
    parser.add_argument("--algorithm", help="Only jobs of this algorithm.")
    parser.add_argument("--limit", type=int_range(1), default=20, help="At most this many jobs (default 20).")
    parser.add_argument(
        "--all", dest="everything", action="store_true", help="Every job (all pages), ignoring --limit."
    )
    json_option(parser)


def _list(client: Client, args: argparse.Namespace, prog: str) -> None:
    limit = args.limit
    found = client.list(
        status=args.status, algorithm=args.algorithm, page_size=100 if args.everything else min(limit + 1, 100)
    )
    jobs = list(found if args.everything else itertools.islice(found, limit + 1))
    if not args.everything and len(jobs) > limit:
        output.echo(f"(the newest {limit}; --limit N or --all for more)", err=True)
    jobs = jobs[:limit] if not args.everything else jobs
    if args.as_json:
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


def _cancel(client: Client, args: argparse.Namespace, prog: str) -> None:
    job = client.cancel(args.job_id)
    if args.as_json:
        output.echo_json(job)
    elif job.finished:
        output.echo(f"job {job.job_id}: {output.status(job)}")
    else:
        output.echo(f"job {job.job_id}: {job.status}, cancel requested (it stops within a second or so)")


def _redeliver(client: Client, args: argparse.Namespace, prog: str) -> None:
    _show(client.redeliver_webhook(args.job_id), args.as_json)


def _wait_and_show(
    client: Client, job_id: str, timeout: float | None, as_json: bool, progress: bool | None, prog: str
) -> None:
    """Wait, print the job, and exit with what scripts need to know: completed (0), not (3), not yet (4)."""
    from functionalscaffold_client.cli.main import fail

    try:
        if progress or (progress is None and sys.stderr.isatty()):
            with output.Progress(job_id) as shown:
                # Live events draw the bar; the wait itself (its timeout, its answer) is the long poll's.
                threading.Thread(target=_follow, args=(client, job_id, shown), daemon=True).start()
                job = client.wait(job_id, timeout, shown.update, interval=PROGRESS_POLL_SECONDS)
        else:
            job = client.wait(job_id, timeout)
    except WaitTimeout as exc:
        _show(exc.job, as_json)
        fail(f"{exc}; run `{prog} wait {job_id}` to wait again", EXIT_STILL_RUNNING)
    except KeyboardInterrupt:
        fail(f"stopped waiting; job {job_id} goes on (`{prog} wait {job_id}`)", EXIT_INTERRUPTED)
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


COMMANDS = (
    Command("algorithms", "List the algorithms, with their params.", json_option, _algorithms),
    Command(
        "invoke",
        "Run ALGORITHM now and print its result.\n\nExample: %(prog)s PrimeChecker -p number=561",
        _invoke_arguments,
        _invoke,
    ),
    Command(
        "submit",
        "Queue a job of ALGORITHM; print its id, or with --wait, the finished job.\n\n"
        "Examples:\n"
        "  %(prog)s PrimeChecker -p number=561 --wait\n"
        "  %(prog)s PrimeChecker -p number=561 --wait-timeout 30\n"
        "  %(prog)s PrimeChecker -p number=561 --retry 3 --backoff 2 --at 2026-12-01T09:00Z --priority 9\n"
        "  JOB=$(%(prog)s PrimeChecker -p number=561)",
        _submit_arguments,
        _submit,
    ),
    Command("status", "Show a job: its status, params, times and result.", _job_argument, _status),
    Command(
        "wait", "Wait for a job to end and show it (exit 3 if it failed or was cancelled).", _wait_arguments, _wait
    ),
    Command("list", "List your jobs, newest first.", _list_arguments, _list),
    Command("cancel", "Cancel a pending job, or stop a running one.", _job_argument, _cancel),
    Command("redeliver", "Send a finished job's webhook again.", _job_argument, _redeliver),
)
