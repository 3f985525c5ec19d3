"""ApiKeyStore: API keys in Redis, kept only as SHA-256 digests (a key is shown once, when created)."""

from __future__ import annotations

import json

import redis

from app.storage.keys import Keys
from app.storage.redis import translate_errors

# KEYS: keys hash, required flag.
_OPEN_API = """
if redis.call('HLEN', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""


class ApiKeyStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.api_keys
        self._required = keys.api_keys_required
        self._open_api = client.register_script(_OPEN_API)

    @translate_errors
    def add(self, digest: str, record: dict[str, str]) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._key, digest, json.dumps(record))
        pipe.set(self._required, "1")
        pipe.execute()

    @translate_errors
    def required(self) -> bool:
        """Whether keys are required: once a key was created, until ``open_api``."""
        return bool(self._client.exists(self._required))

    @translate_errors
    def open_api(self) -> bool:
        """Stop requiring keys; refused (False) while some key exists (checked in the same step)."""
        return bool(self._open_api(keys=[self._key, self._required]))

    @translate_errors
    def find(self, digest: str) -> dict[str, str] | None:
        raw = self._client.hget(self._key, digest)
        return None if raw is None else json.loads(raw)

    @translate_errors
    def all(self) -> list[dict[str, str]]:
        return [json.loads(raw) for raw in self._client.hvals(self._key)]

    @translate_errors
    def remove(self, key_id: str) -> bool:
        """Revoke the key with this id; False when there is none."""
        for digest, raw in self._client.hgetall(self._key).items():
            if json.loads(raw)["id"] == key_id:
                return bool(self._client.hdel(self._key, digest))
        return False
