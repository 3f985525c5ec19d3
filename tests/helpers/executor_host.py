"""A process holding a ProcessExecutor whose one algorithm process is stuck in native code.

Prints ``<forkserver pid> <algorithm process pid>`` once the run is under way, then waits to be
killed. Run as ``python executor_host.py`` with the test algorithms importable.
"""

from __future__ import annotations

import sys
import threading

import psutil

import algorithms
from workers.executor import ProcessExecutor


def main() -> None:
    executor = ProcessExecutor(1)
    stuck = algorithms.load_algorithms().get("Stuck")
    reported = threading.Event()
    # Its first report comes from inside the child, just before the endless native call.
    runner = threading.Thread(
        target=executor,
        args=(stuck, {"terms": 10**15, "report": True}, 3600, lambda: False, lambda *_: reported.set()),
        daemon=True,
    )
    runner.start()
    reported.wait()
    [child] = executor.pids()
    sys.stdout.write(f"{psutil.Process(child).ppid()} {child}\n")  # one line, written at once
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
