"""Secrets at rest (SPEC §8): Fernet encryption with key rotation through MultiFernet.

A secret is a param marked ``x-secret`` or an entry of an object param under an ``x-secret-keys``
rule (a webhook header secret by its name or marked by the user); wherever a sealed value sits in
the params it is opened for the call and masked for everything shown.

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
import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import Any

from plugin.masking import remember
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

    def derived_keys(self, purpose: str) -> list[bytes]:
        """One key per configured key for a use other than encryption (an HMAC, e.g. the unsubscribe
        links), derived so that neither use reveals the other: the first signs, all verify."""
        return [
            hmac.new(base64.urlsafe_b64decode(k), purpose.encode(), hashlib.sha256).digest()
            for k in self._keys
        ]

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


def secret_paths(registry, node: dict) -> tuple[tuple[str, ...], ...]:
    """Where the node's params hold secrets (see :meth:`plugin.registry.NodeType.secret_paths`)."""
    spec = registry.get(node.get("type", ""))
    return spec.secret_paths(node.get("params") or {}) if spec else ()


def _get(params: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(params, dict):
            return None
        params = params.get(part)
    return params


def _set(params: dict, path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        params = params[part]
    params[path[-1]] = value


def _walk(value: Any, sealed) -> Any:
    """``value`` with every sealed secret in it replaced by ``sealed(secret)``."""
    if is_encrypted(value):
        return sealed(value)
    if isinstance(value, dict):
        return {k: _walk(v, sealed) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, sealed) for v in value]
    return value


def sealed_paths(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Where ``value`` (a node's stored params) holds sealed secrets: secret too, whatever the
    schema says now (a header unmarked as secret is never shown by a dry run or a trace)."""
    if is_encrypted(value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in sealed_paths(v, (*path, k))]
    return []


def _placeholders(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if value == SECRET_PLACEHOLDER:
        return [path]
    if isinstance(value, dict) and not is_encrypted(value):
        return [p for k, v in value.items() for p in _placeholders(v, (*path, k))]
    return []


def seal_nodes(registry, box: SecretBox, nodes: list[dict], previous: list[dict] | None) -> list[dict]:
    """Encrypt secret params for storage; a placeholder keeps the previous stored value.

    A placeholder with nothing stored before stays a placeholder (the flow cannot be enabled
    until it is filled, see :func:`missing_secrets`). A value stored in plaintext by an older
    version (a webhook ``Authorization`` header) is encrypted when its placeholder comes back; a
    placeholder where a sealed value was stays sealed, secret or not now (a header unmarked as
    secret never reveals what it held).
    """
    before = {n.get("id"): n for n in previous or []}
    out = copy.deepcopy(nodes)
    for node in out:
        params = node.get("params")
        if not isinstance(params, dict):
            continue
        old_node = before.get(node.get("id")) or {}
        old_params = (old_node.get("params") or {}) if old_node.get("type") == node.get("type") else {}
        for path in secret_paths(registry, node):
            value = _get(params, path)
            if value == SECRET_PLACEHOLDER:
                old = _get(old_params, path)
                if isinstance(old, str) and old and old != SECRET_PLACEHOLDER:
                    old = box.encrypt(old)
                if is_encrypted(old):
                    _set(params, path, old)
            elif isinstance(value, str) and value:
                remember([value])
                _set(params, path, box.encrypt(value))
        for path in _placeholders(params):
            if is_encrypted(_get(old_params, path)):
                _set(params, path, _get(old_params, path))
    return out


def mask_nodes(registry, nodes: list[dict]) -> list[dict]:
    """Replace every stored secret by the placeholder (responses, exports, traces)."""
    out = copy.deepcopy(nodes)
    for node in out:
        params = node.get("params")
        if not isinstance(params, dict):
            continue
        node["params"] = params = _walk(params, lambda _: SECRET_PLACEHOLDER)
        for path in secret_paths(registry, node):
            if _get(params, path) not in (None, ""):
                _set(params, path, SECRET_PLACEHOLDER)
    return out


def open_params(registry, box: SecretBox, node: dict, connections=None) -> dict:
    """The node's params with secrets decrypted, for the one call that needs them.

    A node that names a ``connection`` gets that connection's current params (read now, so a
    rotated secret takes effect at the next call) through ``connections``, a callable id →
    ``(type, sealed params)`` or None; a connection that is gone leaves ``connection`` in the
    params, which the call then fails on (see ``plugin.engine.calls.call_action``)."""
    opened: list[str] = []

    def decrypt(value: Any) -> Any:
        opened.append(box.decrypt(value))
        return opened[-1]

    params = {k: _walk(v, decrypt) for k, v in (node.get("params") or {}).items()}
    ref = params.get("connection")
    found = connections(ref) if connections is not None and isinstance(ref, str) else None
    spec = registry.get(node.get("type", "")) if found is not None else None
    rule = (spec.schema.get("x-connections") or {}).get(found[0]) if spec is not None else None
    if rule is not None:
        del params["connection"]
        params.update(rule.get("when") or {})
        params.update({k: _walk(v, decrypt) for k, v in (found[1] or {}).items()})
    remember(opened)
    return params


def missing_secrets(registry, nodes: list[dict]) -> list[str]:
    """JSON pointers of secret params that are placeholders with no stored value."""
    paths = []
    for index, node in enumerate(nodes):
        params = node.get("params") or {}
        for path in secret_paths(registry, node):
            if _get(params, path) == SECRET_PLACEHOLDER:
                paths.append(
                    "".join(
                        "/" + p.replace("~", "~0").replace("/", "~1")
                        for p in ("nodes", str(index), "params", *path)
                    )
                )
    return paths


def rotate_nodes(registry, box: SecretBox, nodes: list[dict]) -> list[dict]:
    out = copy.deepcopy(nodes)
    for node in out:
        if isinstance(node.get("params"), dict):
            node["params"] = _walk(node["params"], box.rotate)
    return out
