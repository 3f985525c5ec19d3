"""How a process runs: configuration from the environment, logging, metrics (local and shared
through Redis), a private redis-server for dev and tests, starting and stopping the platform's
processes, and the gunicorn web server with its settings file.
"""
