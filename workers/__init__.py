"""Dramatiq workers: run queued jobs and deliver their webhooks.

Start them with ``functionalscaffold worker`` (``workers.supervisor``), which keeps a pool of
worker processes for jobs and another for webhooks, and replaces any that dies.
"""
