"""What every layer shares, free of Flask and Redis: the errors (one class per API code), a job's
values, and marshmallow's messages turned into the one ``VALIDATION_ERROR``.
"""
