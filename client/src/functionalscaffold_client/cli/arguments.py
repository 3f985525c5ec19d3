"""What the job commands share: connection options, params, scheduling, and usage errors."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from functionalscaffold_client.client import API_KEY_ENV, DEFAULT_URL, URL_ENV

#: Exit codes scripts can rely on.
EXIT_API_ERROR, EXIT_USAGE, EXIT_JOB_FAILED, EXIT_STILL_RUNNING, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130


class UsageError(Exception):
    """A wrong argument found after parsing (exit 2, as argparse's own): ``hint`` names the option."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(f"Invalid value for {hint}: {message}" if hint else message)


def connection_options(parser: argparse.ArgumentParser, environ: dict[str, str]) -> None:
    """``--url``, ``--api-key`` and ``--retry-for``, defaulting to the environment."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--url", default=environ.get(URL_ENV, DEFAULT_URL), help=f"The platform (${URL_ENV}; default {DEFAULT_URL})."
    )
    group.add_argument("--api-key", default=environ.get(API_KEY_ENV), help=f"API key (${API_KEY_ENV}).")
    group.add_argument(
        "--retry-for",
        type=non_negative,
        default=10.0,
        metavar="SECONDS",
        help="Keep retrying an unreachable, busy or rate-limited platform this long (default 10).",
    )


def non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return number


def positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return number


def int_range(low: int, high: int | None = None) -> Any:
    def parse(value: str) -> int:
        number = int(value)
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high if high is not None else ''}")
        return number

    parse.__name__ = "integer"
    return parse


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", dest="as_json", action="store_true", help="Print JSON (for scripts).")


def progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Show the status while waiting (default: when stderr is a terminal).",
    )


def params_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        dest="pairs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A param; VALUE is read as JSON when it is JSON (17, true, [1,2]), else as text. Repeatable.",
    )
    parser.add_argument("--params", dest="params_json", metavar="JSON", help="All params as one JSON object.")


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_params(pairs: list[str], params_json: str | None) -> dict[str, Any]:
    """``--params`` JSON, then each ``--param KEY=VALUE`` over it (VALUE as JSON when it parses)."""
    params: Any = {}
    if params_json is not None:
        params = _json_or_text(params_json)
        if not isinstance(params, dict):
            raise UsageError("must be a JSON object, e.g. '{\"number\": 17}'", "--params")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{pair!r} is not KEY=VALUE", "--param")
        params[key] = _json_or_text(value)
    return dict(params)


def schedule_options(parser: argparse.ArgumentParser) -> None:
    """--retry, --backoff, --max-backoff, --jitter/--no-jitter, --at, --in, --priority."""
    parser.add_argument(
        "--retry", dest="retries", type=int_range(1, 20), help="Runs in all if runs fail (1: no retry)."
    )
    parser.add_argument("--backoff", type=positive, help="Seconds before the first retry (doubling).")
    parser.add_argument("--max-backoff", type=positive, help="Longest wait between retries.")
    parser.add_argument(
        "--jitter", action=argparse.BooleanOptionalAction, default=None, help="Randomise retry waits (default: yes)."
    )
    parser.add_argument(
        "--at", dest="run_at", metavar="DATETIME", help="Run it then (ISO 8601; local time without an offset)."
    )
    parser.add_argument(
        "--in", dest="delay", type=non_negative, metavar="SECONDS", help="Run it this many seconds from now."
    )
    parser.add_argument("--priority", type=int_range(0, 9), help="0 to 9, 9 first (default 5).")


def _moment(value: str | None) -> datetime | None:
    """``--at``: an ISO 8601 date-time; without an offset it is local time (Z for UTC)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{value!r} is not a date-time such as 2026-12-01T09:00Z", "--at") from None


def schedule_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The client's ``submit`` arguments of ``schedule_options``."""
    retry: dict[str, Any] | None = None
    if args.retries is not None:
        given = {"backoff_seconds": args.backoff, "max_backoff_seconds": args.max_backoff, "jitter": args.jitter}
        retry = {"max_attempts": args.retries, **{k: v for k, v in given.items() if v is not None}}
    elif args.backoff is not None or args.max_backoff is not None or args.jitter is not None:
        raise UsageError("--backoff, --max-backoff and --jitter go with --retry N")
    if args.run_at is not None and args.delay is not None:
        raise UsageError("give --at or --in, not both")
    return {"retry": retry, "run_at": _moment(args.run_at), "delay_seconds": args.delay, "priority": args.priority}
