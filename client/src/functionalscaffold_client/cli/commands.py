"""A command of the CLI: its name, help, arguments and what it does with a ``Client``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from functionalscaffold_client.client import Client


@dataclass(frozen=True)
class Command:
    """One command (``submit``), or a group of them (``batch``) when it has ``children``.

    ``run(client, args, prog)`` gets a connected client, the parsed arguments and the name the
    CLI was called by (to tell the user which command to run next).
    """

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[Client, argparse.Namespace, str], None] | None = None
    children: tuple[Command, ...] = ()

    @property
    def summary(self) -> str:
        return self.help.split("\n")[0]
