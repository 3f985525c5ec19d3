"""Starting the platform's own Python processes so that they import the installed packages, and
handling the signals that stop them.

``python -m app.cli`` (and ``python -c``) put the current folder first on ``sys.path``: started from
a project folder holding its own ``app.py`` or ``workers.py`` (the most common names there are), a
child would import those instead of ours. ``python_command`` starts a module with that entry
removed, the way the console scripts run (``python -P -m``; on Python 3.10, a bootstrap that removes
it); children of the child (multiprocessing's, its forkserver included) inherit the cleaned path.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterable

#: Run as ``python -c``: drop the current folder from the path, then run the module as ``__main__``.
_BOOTSTRAP = "import sys, runpy; del sys.path[0]; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"


def python_command(module: str, *args: str) -> list[str]:
    """The command that runs ``module`` as a script with this interpreter, ignoring the current folder."""
    if sys.version_info >= (3, 11):  # -P: what the bootstrap does, and what multiprocessing's forkserver inherits
        return [sys.executable, "-P", "-m", module, *args]
    return [sys.executable, "-c", _BOOTSTRAP.format(module=module), *args]


class SignalInbox:
    """Signals handled in a thread of their own, not inside the signal handler.

    A Python signal handler can interrupt its own thread anywhere, even while that thread holds a
    lock (inside ``Event.set`` of an earlier signal, say): a handler that takes a lock can then
    deadlock the process. The handlers here only post the signal to a ``SimpleQueue`` (whose
    ``put`` is safe there); ``react(signum)`` runs in the inbox's thread, free to take locks.
    """

    def __init__(self, react: Callable[[int], None], signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self._react = react
        self._inbox: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="signals", daemon=True)
        self._thread.start()
        for signum in signals:
            signal.signal(signum, self._post)

    def _post(self, signum: int, _frame: object) -> None:
        self._inbox.put(signum)

    def _run(self) -> None:
        while True:
            self._react(self._inbox.get())
