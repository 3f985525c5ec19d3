"""Everything that touches Redis: connections, job records, the job queue and shared counters.

Only this package knows Redis keys. It raises ``JobNotFound`` for a missing job and
``StorageUnavailable`` when Redis does not answer, and no other kind of error.
"""
