"""``python -m workers --role jobs --threads 8``: one worker process (``workers.process``).

The supervisor starts workers this way because multiprocessing never runs a package's
``__main__`` again in the processes it starts: algorithm processes then start with only what their
forkserver imported, not the worker's own modules.
"""

from workers.process import main

if __name__ == "__main__":
    main()
