"""Deprecated: the client is now its own distribution, ``functionalscaffold_client``.

Kept for one release so that ``from app.client import Client`` goes on working, with a
``DeprecationWarning``; it goes in the next. Import from ``functionalscaffold_client`` instead
(``pip install ./client``: httpx only, no server, no module named ``app``).
"""

import warnings

from functionalscaffold_client import *  # noqa: F403
from functionalscaffold_client import __all__  # noqa: F401

warnings.warn(
    "app.client is deprecated and goes in the next release: import functionalscaffold_client instead",
    DeprecationWarning,
    stacklevel=2,
)
