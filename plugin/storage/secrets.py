"""Secrets at rest (SPEC §8): Fernet encryption with key rotation through MultiFernet.

``AUTOMATION_SECRET_KEY`` holds one or more comma-separated Fernet keys; the first encrypts,
all decrypt, so a key is rotated by putting the new one first and running
``python server.py secrets rotate``. Without the variable a key is generated once and kept in
the data folder (embedded default).

cryptography is imported at the first seal or open, not with this module: a worker whose flows
hold no secret never loads it (~6 MB of a process's memory, its Rust extension mostly).
"""

from __future__ import annotations

import base64
import binascii
import copy
import logging
import os
from pathlib import Path
from typing import Any

from plugin.nodes.base import SECRET_PLACEHOLDER

log = logging.getLogger(__name__)

ENCRYPTED = "$secret"


class SecretBox:
    """Encrypts and decrypts secret param values; keys come from config or the data folder."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("at least one Fernet key is required")
        for key in keys:
            _check_key(key)  # a bad key fails at start-up, as Fernet(key) would
        self._keys = list(keys)
        self._multi = None

    @property
    def _fernet(self):
        """The keys' MultiFernet, built (and cryptography imported) at the first use."""
        if self._multi is None:
            from cryptography.fernet import Fernet, MultiFernet

            self._multi = MultiFernet([Fernet(k) for k in self._keys])
        return self._multi

    @classmethod
    def from_config(cls, secret_key_env: str, data_dir: str) -> SecretBox:
        if secret_key_env:
            return cls([k.strip().encode() for k in secret_key_env.split(",") if k.strip()])
        path = Path(data_dir) / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(generate_key())
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)  # atomic and loses to a concurrent creator
            except FileExistsError:
                pass
            tmp.unlink(missing_ok=True)
        return cls([path.read_bytes().strip()])

    def encrypt(self, value: str) -> dict:
        return {ENCRYPTED: self._fernet.encrypt(value.encode()).decode()}

    def decrypt(self, stored: Any) -> Any:
        if is_encrypted(stored):
            from cryptography.fernet import InvalidToken

            try:
                return self._fernet.decrypt(stored[ENCRYPTED].encode()).decode()
            except InvalidToken:
                raise ValueError("a stored secret cannot be decrypted with the configured keys") from None
        return stored

    def rotate(self, stored: Any) -> Any:
        if is_encrypted(stored):
            return {ENCRYPTED: self._fernet.rotate(stored[ENCRYPTED].encode()).decode()}
        return stored


def generate_key() -> bytes:
    """A new Fernet key (what ``Fernet.generate_key()`` returns: 32 random bytes, url-safe base64)."""
    return base64.urlsafe_b64encode(os.urandom(32))


def _check_key(key: bytes) -> None:
    try:
        raw = base64.b64decode(key, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {ENCRYPTED}


def _secret_fields(registry, node: dict) -> tuple[str, ...]:
    spec = registry.get(node.get("type", ""))
    return spec.secret_fields if spec else ()


def seal_nodes(registry, box: SecretBox, nodes: list[dict], previous: list[dict] | None) -> list[dict]:
    """Encrypt secret params for storage; a placeholder keeps the previous stored value.

    A placeholder with nothing stored before stays a placeholder (the flow cannot be enabled
    until it is filled, see :func:`missing_secrets`).
    """
    before = {n.get("id"): n for n in previous or []}
    out = copy.deepcopy(nodes)
    for node in out:
        params = node.get("params") or {}
        old_params = (before.get(node.get("id")) or {}).get("params") or {}
        same_type = (before.get(node.get("id")) or {}).get("type") == node.get("type")
        for name in _secret_fields(registry, node):
            value = params.get(name)
            if value == SECRET_PLACEHOLDER:
                old = old_params.get(name) if same_type else None
                if is_encrypted(old):
                    params[name] = old
            elif isinstance(value, str) and value:
                params[name] = box.encrypt(value)
    return out


def mask_nodes(registry, nodes: list[dict]) -> list[dict]:
    """Replace every stored secret by the placeholder (responses, exports, traces)."""
    out = copy.deepcopy(nodes)
    for node in out:
        params = node.get("params") or {}
        for name in _secret_fields(registry, node):
            if name in params and params[name] not in (None, ""):
                params[name] = SECRET_PLACEHOLDER
    return out


def open_params(registry, box: SecretBox, node: dict) -> dict:
    """The node's params with secrets decrypted, for the one call that needs them."""
    params = dict(node.get("params") or {})
    for name in _secret_fields(registry, node):
        if name in params:
            params[name] = box.decrypt(params[name])
    return params


def missing_secrets(registry, nodes: list[dict]) -> list[str]:
    """JSON pointers of secret params that are placeholders with no stored value."""
    paths = []
    for index, node in enumerate(nodes):
        params = node.get("params") or {}
        for name in _secret_fields(registry, node):
            if params.get(name) == SECRET_PLACEHOLDER:
                paths.append(f"/nodes/{index}/params/{name}")
    return paths


def rotate_nodes(registry, box: SecretBox, nodes: list[dict]) -> list[dict]:
    out = copy.deepcopy(nodes)
    for node in out:
        params = node.get("params") or {}
        for name in _secret_fields(registry, node):
            if name in params:
                params[name] = box.rotate(params[name])
    return out
