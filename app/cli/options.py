"""What the job commands share: connection options, params parsing, and errors turned into exit codes."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

import click

from app.client import (
    AlgorithmNotFound,
    ApiError,
    Client,
    ClientError,
    ConnectionFailed,
    RateLimited,
    Unauthorized,
    ValidationError,
)
from app.client.client import API_KEY_ENV, DEFAULT_URL, URL_ENV

#: Exit codes scripts can rely on (2, wrong usage, is click's own).
EXIT_API_ERROR, EXIT_JOB_FAILED, EXIT_STILL_RUNNING, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 1, 3, 4, 5, 130
#: Answers meaning the platform (or the gateway before it) cannot serve now.
UNAVAILABLE_STATUSES = (502, 503, 504)


class ClientCommand(click.Command):
    """A command whose client errors end it with a clear message and their exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConnectionFailed as exc:
            fail(f"{exc}\n(is the platform running? point --url or ${URL_ENV} at it)", EXIT_UNAVAILABLE)
        except ApiError as exc:
            fail(_describe(exc), EXIT_UNAVAILABLE if exc.status in UNAVAILABLE_STATUSES else EXIT_API_ERROR)
        except ClientError as exc:
            fail(str(exc), EXIT_API_ERROR)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)


def _describe(exc: ApiError) -> str:
    lines = [f"{exc.code}: {exc.message}"]
    if isinstance(exc, ValidationError) and len(exc.fields) > 1:  # one field: the message says it
        lines += [f"  {field}: {'; '.join(messages)}" for field, messages in sorted(exc.fields.items())]
    elif isinstance(exc, AlgorithmNotFound) and exc.available:
        lines.append(f"  available: {', '.join(exc.available)}")
    elif isinstance(exc, Unauthorized):
        lines.append(f"  give a key with --api-key or ${API_KEY_ENV}")
    elif isinstance(exc, RateLimited) and exc.retry_after is not None:
        lines.append(f"  still limited; try again in {exc.retry_after:g} s")
    if exc.request_id:
        lines.append(f"  (request id {exc.request_id})")
    return "\n".join(lines)


def fail(message: str, code: int) -> NoReturn:
    click.echo(click.style("Error: ", fg="red") + message, err=True)
    raise SystemExit(code)


def client_command(name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """A command with ``--url``, ``--api-key`` and ``--retry-for``, called with a ``client`` instead."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        @click.option(
            "--url", envvar=URL_ENV, default=DEFAULT_URL, show_default=True, help=f"The platform (${URL_ENV})."
        )
        @click.option("--api-key", envvar=API_KEY_ENV, default=None, help=f"API key (${API_KEY_ENV}).")
        @click.option(
            "--retry-for",
            type=click.FloatRange(min=0),
            default=10.0,
            show_default=True,
            metavar="SECONDS",
            help="Keep retrying an unreachable, busy or rate-limited platform this long.",
        )
        @functools.wraps(function)
        def run(url: str, api_key: str | None, retry_for: float, **kwargs: Any) -> Any:
            try:
                client = Client(url, api_key, retry_seconds=retry_for)
            except ClientError as exc:
                raise click.BadParameter(str(exc), param_hint="--url") from None
            with client:
                return function(client, **kwargs)

        return click.command(name, cls=ClientCommand)(run)

    return decorate


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_params(pairs: tuple[str, ...], params_json: str | None) -> dict[str, Any]:
    """``--params`` JSON, then each ``--param KEY=VALUE`` over it (VALUE as JSON when it parses)."""
    params: dict[str, Any] = {}
    if params_json is not None:
        params = _json_or_text(params_json)
        if not isinstance(params, dict):
            raise click.BadParameter("must be a JSON object, e.g. '{\"number\": 17}'", param_hint="--params")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        params[key] = _json_or_text(value)
    return params


def params_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--params", "params_json", metavar="JSON", help="All params as one JSON object.")(function)
    return click.option(
        "-p",
        "--param",
        "pairs",
        multiple=True,
        metavar="KEY=VALUE",
        help="A param; VALUE is read as JSON when it is JSON (17, true, [1,2]), else as text. Repeatable.",
    )(function)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
progress_option = click.option(
    "--progress/--no-progress", default=None, help="Show the status while waiting (default: when stderr is a terminal)."
)


def _moment(value: str | None) -> datetime | None:
    """``--at``: an ISO 8601 date-time; without an offset it is local time (Z for UTC)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time such as 2026-12-01T09:00Z", param_hint="--at") from None


def schedule_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--retry, --backoff, --max-backoff, --no-jitter, --at, --in, --priority."""
    for option in reversed(
        [
            click.option(
                "--retry", "retries", type=click.IntRange(1, 20), help="Runs in all if runs fail (1: no retry)."
            ),
            click.option(
                "--backoff",
                type=click.FloatRange(min=0, min_open=True),
                help="Seconds before the first retry (doubling).",
            ),
            click.option(
                "--max-backoff", type=click.FloatRange(min=0, min_open=True), help="Longest wait between retries."
            ),
            click.option("--jitter/--no-jitter", default=None, help="Randomise retry waits (default: yes)."),
            click.option(
                "--at", "run_at", metavar="DATETIME", help="Run it then (ISO 8601; local time without an offset)."
            ),
            click.option(
                "--in",
                "delay",
                type=click.FloatRange(min=0),
                metavar="SECONDS",
                help="Run it this many seconds from now.",
            ),
            click.option("--priority", type=click.IntRange(0, 9), help="0 to 9, 9 first (default 5)."),
        ]
    ):
        function = option(function)
    return function


def schedule_arguments(
    retries: int | None,
    backoff: float | None,
    max_backoff: float | None,
    jitter: bool | None,
    run_at: str | None,
    delay: float | None,
    priority: int | None,
) -> dict[str, Any]:
    """The client's ``submit`` arguments of ``schedule_options``."""
    retry: dict[str, Any] | None = None
    if retries is not None:
        given = {"backoff_seconds": backoff, "max_backoff_seconds": max_backoff, "jitter": jitter}
        retry = {"max_attempts": retries, **{k: v for k, v in given.items() if v is not None}}
    elif backoff is not None or max_backoff is not None or jitter is not None:
        raise click.UsageError("--backoff, --max-backoff and --jitter go with --retry N")
    if run_at is not None and delay is not None:
        raise click.UsageError("give --at or --in, not both")
    return {"retry": retry, "run_at": _moment(run_at), "delay_seconds": delay, "priority": priority}
