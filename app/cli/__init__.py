"""``functionalscaffold``: use the platform (submit, wait, list...) or run it (dev, web, worker, keys).

The commands that use the platform are the client's (``functionalscaffold_client.cli``, which
``pip install ./client`` alone also gives as ``functionalscaffold-client``): this command hands
them their arguments untouched, so they behave the same from either. The commands that run it
import the web and worker code only when they are run, so ``--help`` and the job commands start fast.
"""

from __future__ import annotations

import sys

import click
from functionalscaffold_client import cli as client_cli

from app.cli import platform

#: Exit code when the platform (here: Redis) cannot be reached, as the job commands use it.
EXIT_UNAVAILABLE = 5


def _job_command(name: str, summary: str) -> click.Command:
    """A command whose arguments (``--help`` included) all go to the client's command of that name."""

    @click.pass_context
    def run(ctx: click.Context) -> None:
        client_cli.main([name, *ctx.args], prog=ctx.find_root().info_name or "functionalscaffold")

    return click.Command(
        name,
        callback=run,
        help=summary,
        short_help=summary,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


JOB_COMMANDS = tuple(_job_command(command.name, command.summary) for command in client_cli.COMMANDS)


class _Sections(click.Group):
    """``--help`` lists the commands in two sections: those that use the platform, those that run it."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.commands)
        for title, commands in (("Use the platform", JOB_COMMANDS), ("Run the platform", platform.COMMANDS)):
            with formatter.section(title):
                formatter.write_dl([(command.name or "", command.get_short_help_str(limit)) for command in commands])


@click.group(cls=_Sections, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="functionalscaffold", message="%(prog)s %(version)s")
def cli() -> None:
    """FunctionalScaffold: run algorithms behind an HTTP API, now or as queued jobs.

    \b
    Exit codes: 0 done; 1 the API answered with an error; 2 wrong usage;
    3 the job failed or was cancelled; 4 still not finished when the wait ended;
    5 the platform cannot be reached or is unavailable; 130 interrupted (Ctrl-C).
    """


for command in (*JOB_COMMANDS, *platform.COMMANDS):
    cli.add_command(command)


def main() -> None:
    from app.domain.errors import StorageUnavailable

    try:
        cli()
    except StorageUnavailable:
        click.echo("Error: Redis is not answering (check REDIS_URL or REDIS_SENTINELS)", err=True)
        sys.exit(EXIT_UNAVAILABLE)
