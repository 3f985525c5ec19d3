"""The parser of the job commands, and errors turned into messages and exit codes.

Written on argparse (the standard library) rather than click: click would be a ninth installed
distribution for ``pip install functionalscaffold-client``, over the budget of eight.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from functionalscaffold_client.cli import batches, jobs, output
from functionalscaffold_client.cli.arguments import (
    EXIT_API_ERROR,
    EXIT_INTERRUPTED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    UsageError,
    connection_options,
)
from functionalscaffold_client.cli.commands import Command
from functionalscaffold_client.client import API_KEY_ENV, URL_ENV, Client
from functionalscaffold_client.errors import (
    AlgorithmNotFound,
    ApiError,
    ClientError,
    ConnectionFailed,
    RateLimited,
    Unauthorized,
    ValidationError,
)

#: Every command, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (*jobs.COMMANDS, *batches.COMMANDS)
#: Answers meaning the platform (or the gateway before it) cannot serve now.
UNAVAILABLE_STATUSES = (502, 503, 504)
EXIT_CODES = """\
Exit codes: 0 done; 1 the API answered with an error; 2 wrong usage;
3 the job failed or was cancelled; 4 still not finished when the wait ended;
5 the platform cannot be reached or is unavailable; 130 interrupted (Ctrl-C)."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks, and starts with "Usage:" as the server's commands do."""

    def add_usage(self, usage: str | None, actions: object, groups: object, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)  # type: ignore[arg-type]


def _add(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], command: Command, environ: dict[str, str]
) -> None:
    parser = subparsers.add_parser(
        command.name, help=command.summary, description=command.help, formatter_class=_Formatter
    )
    if command.children:
        children = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
        for child in command.children:
            _add(children, child, environ)
        return
    if command.arguments is not None:
        command.arguments(parser)
    connection_options(parser, environ)
    parser.set_defaults(command=command)


def parser(prog: str | None = None, environ: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``environ`` gives the defaults of ``--url`` and ``--api-key``."""
    top = argparse.ArgumentParser(
        prog=prog,
        description="FunctionalScaffold's job commands: submit, follow and manage jobs over the API.\n\n" + EXIT_CODES,
        formatter_class=_Formatter,
    )
    commands = top.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        _add(commands, command, dict(os.environ) if environ is None else environ)
    return top


def fail(message: str, code: int) -> NoReturn:
    """End the command with ``Error: message`` on stderr and ``code``."""
    output.echo(output.style("Error: ", "red", stream=sys.stderr) + message, err=True)
    raise SystemExit(code)


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


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> NoReturn:
    """Run one command line (default ``sys.argv[1:]``) and exit with its code.

    ``prog`` is the name shown in usage and hints (``functionalscaffold`` when the server's command
    hands its job commands over to this one).
    """
    top = parser(prog)
    args = top.parse_args(argv)
    name = top.prog
    command: Command = args.command
    assert command.run is not None
    try:
        try:
            client = Client(args.url, args.api_key, retry_seconds=args.retry_for)
        except ClientError as exc:
            raise UsageError(str(exc), "--url") from None
        with client:
            command.run(client, args, name)
    except UsageError as exc:
        fail(str(exc), EXIT_USAGE)
    except ConnectionFailed as exc:
        fail(f"{exc}\n(is the platform running? point --url or ${URL_ENV} at it)", EXIT_UNAVAILABLE)
    except ApiError as exc:
        fail(_describe(exc), EXIT_UNAVAILABLE if exc.status in UNAVAILABLE_STATUSES else EXIT_API_ERROR)
    except ClientError as exc:
        fail(str(exc), EXIT_API_ERROR)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    raise SystemExit(0)
