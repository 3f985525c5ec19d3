"""``python -m app.cli``: the same as the ``functionalscaffold`` command."""

from app.cli import main

main()
