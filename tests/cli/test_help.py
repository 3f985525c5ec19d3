"""Every command explains itself with ``--help`` and ``-h``, found by walking the command tree."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from app.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda path: " ".join(path) or "functionalscaffold")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help(path: tuple[str, ...], flag: str) -> None:
    shown = CliRunner().invoke(cli, [*path, flag], prog_name="functionalscaffold")

    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"Usage: functionalscaffold {' '.join(path)}".rstrip())
    command = cli
    for name in path:
        command = command.commands[name]
    first_line = command.help.split("\n")[0] if command.help else ""
    assert first_line and first_line in " ".join(shown.output.split())  # as wrapped to the terminal


def test_the_top_level_help_names_every_command_and_the_exit_codes() -> None:
    shown = CliRunner().invoke(cli, ["--help"]).output

    assert all(f"  {name} " in shown for name in cli.commands)
    assert "Exit codes:" in shown and "5 the platform cannot be reached" in shown


def test_a_mistyped_command_is_a_usage_error() -> None:
    shown = CliRunner().invoke(cli, ["sumbit"])

    assert shown.exit_code == 2 and "No such command 'sumbit'" in shown.output
