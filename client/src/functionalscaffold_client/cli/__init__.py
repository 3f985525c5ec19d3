"""``functionalscaffold-client``: the job commands (submit, wait, list, batch...) on the client alone.

The server's ``functionalscaffold`` command hands these same commands over to ``main``, so they
behave the same whichever is installed.
"""

from functionalscaffold_client.cli.main import COMMANDS, EXIT_CODES, main, parser

__all__ = ["COMMANDS", "EXIT_CODES", "main", "parser"]
