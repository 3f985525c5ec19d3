"""Algorithms the platform can run: declare one in a module of this package and it is found.

See ``algorithms/prime_checker.py`` for the shape of a declaration.
"""

from algorithms.base import Algorithm, InvalidDeclaration
from algorithms.context import Context
from algorithms.registry import AlgorithmNotFound, Registry, load_algorithms, register, registry
from algorithms.retries import PermanentError, RetryPolicy

__all__ = [
    "Algorithm",
    "AlgorithmNotFound",
    "Context",
    "InvalidDeclaration",
    "PermanentError",
    "Registry",
    "RetryPolicy",
    "load_algorithms",
    "register",
    "registry",
]
