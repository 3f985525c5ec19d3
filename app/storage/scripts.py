"""Lua scripts with named keys and arguments, so that Python and Lua never mirror positions by hand.

A script declares the names of its keys and arguments once. Lua reads them as ``K.job`` and
``A.ttl`` (a group of keys, such as a queue's, as ``K.queue.ready``); Python passes mappings by the
same names, and ``flatten`` puts them in the order Redis wants (every key in ``KEYS``, so the script
is honest about what it touches). Trailing variadic arguments are ``A.rest`` (a Lua table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import redis
from redis.commands.core import Script

Arg = str | bytes | int | float

#: A key spec: a name, or (group name, field names) for a group of keys passed as one dataclass.
KeySpec = str | tuple[str, tuple[str, ...]]


def group(name: str, keys_class: type) -> tuple[str, tuple[str, ...]]:
    """A group of keys named after the fields of a frozen dataclass (e.g. ``QueueKeys``)."""
    return name, tuple(f.name for f in fields(keys_class))


@dataclass(frozen=True)
class Signature:
    """The names of a script's keys and arguments; ``prelude`` is the Lua that binds them."""

    keys: tuple[KeySpec, ...]
    args: tuple[str, ...]
    variadic: bool = False

    @property
    def prelude(self) -> str:
        index = 0
        entries = []
        for spec in self.keys:
            if isinstance(spec, str):
                index += 1
                entries.append(f"{spec} = KEYS[{index}]")
            else:
                name, members = spec
                inner = []
                for member in members:
                    index += 1
                    inner.append(f"{member} = KEYS[{index}]")
                entries.append(f"{name} = {{{', '.join(inner)}}}")
        arg_entries = [f"{name} = ARGV[{i}]" for i, name in enumerate(self.args, start=1)]
        lines = [f"local K = {{{', '.join(entries)}}}", f"local A = {{{', '.join(arg_entries)}}}"]
        if self.variadic:  # a loop, not unpack: Lua's stack holds a few thousand values at most
            lines.append(f"A.rest = {{}}\nfor i = {len(self.args) + 1}, #ARGV do A.rest[#A.rest + 1] = ARGV[i] end")
        return "\n".join(lines) + "\n"

    def flatten(
        self, keys: Mapping[str, Any], args: Mapping[str, Arg], rest: Sequence[Arg] = ()
    ) -> tuple[list[str], list[Arg]]:
        """KEYS and ARGV for a call, from mappings by name (a group's value is its dataclass)."""
        flat_keys: list[str] = []
        for spec in self.keys:
            if isinstance(spec, str):
                flat_keys.append(keys[spec])
            else:
                name, members = spec
                value = keys[name]
                if not is_dataclass(value):
                    raise TypeError(f"key group {name!r} takes a dataclass of keys, not {value!r}")
                flat_keys.extend(getattr(value, member) for member in members)
        missing = set(self.args) - set(args)
        if missing:
            raise TypeError(f"missing script arguments: {', '.join(sorted(missing))}")
        return flat_keys, [args[name] for name in self.args] + list(rest)


class NamedScript:
    """A registered Lua script whose body reads ``K`` and ``A`` (see the module docstring)."""

    def __init__(self, client: redis.Redis, signature: Signature, body: str) -> None:
        self.signature = signature
        self.script: Script = client.register_script(signature.prelude + body)

    def __call__(
        self, keys: Mapping[str, Any], args: Mapping[str, Arg], rest: Sequence[Arg] = (), client: Any = None
    ) -> Any:
        """Run the script (on ``client``, a pipeline say, when given)."""
        flat_keys, flat_args = self.signature.flatten(keys, args, rest)
        return self.script(keys=flat_keys, args=flat_args, client=client)

    def call_args(
        self, keys: Mapping[str, Any], args: Mapping[str, Arg], rest: Sequence[Arg] = ()
    ) -> tuple[Script, list[str], list[Arg]]:
        """What ``ScriptBatcher.call`` takes, to send this call in a batch with others."""
        return (self.script, *self.signature.flatten(keys, args, rest))
