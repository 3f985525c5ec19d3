"""``app.client`` stays one release as a re-export of ``functionalscaffold_client`` that warns."""

from __future__ import annotations

import importlib
import sys

import functionalscaffold_client
import pytest


def test_the_old_import_warns_and_gives_the_clients_own_objects() -> None:
    # Given a program still importing the client from the server's package
    sys.modules.pop("app.client", None)

    # When it imports it, then it is told to move, and gets the very same classes
    with pytest.warns(DeprecationWarning, match="import functionalscaffold_client instead"):
        old = importlib.import_module("app.client")
    assert old.Client is functionalscaffold_client.Client
    assert set(old.__all__) == set(functionalscaffold_client.__all__)
