"""AuthService: who is calling. API keys from ``API_KEYS`` and ``ADMIN_API_KEYS``, or created with
``functionalscaffold keys``.

With no key configured (none in either setting, none ever created) the API is open and every caller is
``ANONYMOUS``, as in the API reference, and an admin. Keys are looked up by their SHA-256 digest; a
key found is remembered for ``CACHE_SECONDS``, so a revocation takes effect within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from app.domain.errors import StorageUnavailable, Unauthorized
from app.storage.api_keys import ApiKeyStore

#: How long a looked-up key (and whether any key exists) is trusted without asking Redis again.
CACHE_SECONDS = 5.0
#: Prefix of the keys this platform issues, so that a leaked one is easy to recognise.
KEY_PREFIX = "fsk_"


#: Roles of API keys: clients use their own jobs; admins see and steer the whole platform.
CLIENT, ADMIN = "client", "admin"
#: Highest job priority.
MAX_PRIORITY = 9


@dataclass(frozen=True)
class Principal:
    """The caller: ``id`` owns the jobs it creates and keys its rate limit."""

    id: str
    name: str
    role: str = CLIENT
    #: Highest priority its jobs may ask for.
    max_priority: int = MAX_PRIORITY

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


#: Everyone, when no key is configured (development): the API is open, and admin.
ANONYMOUS = Principal("_", "anonymous", ADMIN)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        store: ApiKeyStore,
        static_keys: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        admin_keys: tuple[str, ...] = (),
    ) -> None:
        self._store = store
        # Keys from API_KEYS and ADMIN_API_KEYS, by digest; their owner id is derived from the digest, never the key.
        self._static = {
            digest(k): Principal(f"env-{digest(k)[:12]}", f"API_KEYS #{i + 1}") for i, k in enumerate(static_keys)
        }
        self._static.update(
            (digest(k), Principal(f"env-{digest(k)[:12]}", f"ADMIN_API_KEYS #{i + 1}", ADMIN))
            for i, k in enumerate(admin_keys)
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Principal, float]] = {}
        self._required_until = 0.0
        self._required = bool(self._static)
        # While Redis is away, the last answer stands (keys are checked against Redis anyway).
        self._known_once = False

    def required(self) -> bool:
        """Whether callers must present a key: API_KEYS is set, or a key was ever created in Redis.

        Revoking every created key does not open the API; ``open_api`` does, once none is left.
        """
        if self._static:
            return True
        now = self._clock()
        if now >= self._required_until:
            try:
                self._required = self._store.required()
            except StorageUnavailable:
                if not self._known_once:
                    raise  # cannot tell: closed rather than open
            else:
                self._known_once = True
            self._required_until = now + CACHE_SECONDS
        return self._required

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer <key>`` header; raises ``UNAUTHORIZED``.

        Raises ``SERVICE_UNAVAILABLE`` when Redis cannot say whether the key exists.
        """
        if not self.required():
            return ANONYMOUS
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Missing API key: send Authorization: Bearer <key>")
        presented = digest(key.strip())
        for known, principal in self._static.items():
            if hmac.compare_digest(known, presented):
                return principal
        now = self._clock()
        with self._lock:
            cached = self._known.get(presented)
        if cached and cached[1] > now:
            return cached[0]
        record = self._store.find(presented)
        if record is None:
            raise Unauthorized("Invalid API key")
        principal = Principal(
            record["id"],
            record["name"],
            record.get("role", CLIENT),
            int(record.get("max_priority", MAX_PRIORITY)),
        )
        with self._lock:
            self._known[presented] = (principal, now + CACHE_SECONDS)
        return principal

    def create_key(self, name: str, role: str = CLIENT, max_priority: int = MAX_PRIORITY) -> tuple[str, dict[str, str]]:
        """A new key (shown this once) and its record; only the key's digest is stored."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = {
            "id": "key-" + secrets.token_hex(6),
            "name": name,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "role": role,
            "max_priority": str(max_priority),
        }
        self._store.add(digest(key), record)
        return key, record

    def list_keys(self) -> list[dict[str, str]]:
        return sorted(self._store.all(), key=lambda r: r["created_at"])

    def revoke(self, key_id: str) -> bool:
        return self._store.remove(key_id)

    def open_api(self) -> bool:
        """Let callers in without a key again; False while a created key still exists."""
        return self._store.open_api()
