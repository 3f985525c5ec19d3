"""``functionalscaffold``: use the platform (submit, wait, list...) or run it (dev, web, worker, keys).

The commands that use the platform talk to it over HTTP through ``app.client``; the commands that
run it import the web and worker code only when they are run, so ``--help`` and the client
commands start fast.
"""

from __future__ import annotations

import sys

import click

from app.cli import batches, jobs, platform
from app.cli.options import EXIT_UNAVAILABLE


class _Sections(click.Group):
    """``--help`` lists the commands in two sections: those that use the platform, those that run it."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.commands)
        for title, commands in (
            ("Use the platform", (*jobs.COMMANDS, *batches.COMMANDS)),
            ("Run the platform", platform.COMMANDS),
        ):
            with formatter.section(title):
                formatter.write_dl([(command.name, command.get_short_help_str(limit)) for command in commands])


@click.group(cls=_Sections, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="functionalscaffold", message="%(prog)s %(version)s")
def cli() -> None:
    """FunctionalScaffold: run algorithms behind an HTTP API, now or as queued jobs.

    \b
    Exit codes: 0 done; 1 the API answered with an error; 2 wrong usage;
    3 the job failed or was cancelled; 4 still not finished when the wait ended;
    5 the platform cannot be reached or is unavailable; 130 interrupted (Ctrl-C).
    """


for command in (*jobs.COMMANDS, *batches.COMMANDS, *platform.COMMANDS):
    cli.add_command(command)


def main() -> None:
    from app.errors import StorageUnavailable

    try:
        cli()
    except StorageUnavailable:
        click.echo("Error: Redis is not answering (check REDIS_URL or REDIS_SENTINELS)", err=True)
        sys.exit(EXIT_UNAVAILABLE)
