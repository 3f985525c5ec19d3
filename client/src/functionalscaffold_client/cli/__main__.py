"""``python -m functionalscaffold_client.cli``: the same as ``functionalscaffold-client``."""

from functionalscaffold_client.cli import main

main()
