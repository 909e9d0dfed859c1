"""The signing key ring: one JSON file holding the active, next and retiring ES256 keys.

Rotation publishes a key one rotation before it signs (as ``next``, in the JWKS) and keeps the
key it replaces verifiable until the last token it signed has expired (as ``retiring``)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from runtime.logging import get_logger

ALGORITHM = "ES256"
CURVE = "P-256"
# WHY: a token signed just before a rotation may be verified a little after its exp (the
# verifier's clock leeway) and by a worker that reloads the ring up to a second late.
ROTATION_LEEWAY_S = 60
# WHY: the spec bounds the published key set (maxItems 16 in Jwks): the active key, the next
# one and at most this many retiring ones. Rotating faster than tokens expire only grows it.
MAX_RETIRING = 14

log = get_logger("runtime.auth.keys")


class KeyRingError(Exception):
    """The key ring file is missing, unreadable, malformed, or cannot be written."""


def new_signing_key() -> ECKey:
    """A fresh P-256 key for ES256 signatures, its kid the RFC 7638 thumbprint."""
    return ECKey.generate_key(CURVE, parameters={"alg": ALGORITHM, "use": "sig"}, auto_kid=True)


@dataclass(frozen=True)
class KeyRing:
    """The keys of one ring file; ``verify_until`` values are Unix epoch seconds."""

    path: Path
    keys: Mapping[str, ECKey]
    active_kid: str
    next_kid: str | None
    retiring: Mapping[str, int]
    # WHY: building a public key from its JWK costs more per request than the rest of the
    # lookup; a ring is immutable and replaced whole on reload, so its public keys are built
    # once here and a key removed from the file stops verifying with the next reload.
    _public_keys: Mapping[str, ECKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.retiring) > MAX_RETIRING:
            raise KeyRingError(
                f"Key ring {self.path} would have {len(self.retiring)} retiring keys, more than "
                f"{MAX_RETIRING}: wait until the oldest has retired before rotating again."
            )
        public = MappingProxyType({kid: _public(key) for kid, key in self.keys.items()})
        # WHY: a ring built in code skips load()'s checks; a key that cannot verify ES256 is
        # refused here as a KeyRingError, which a reload logs while keeping the last good ring.
        for kid, key in public.items():
            try:
                JWSRegistry.algorithms[ALGORITHM].check_key(key)
            except JoseError as exc:
                raise KeyRingError(f"Key {kid} cannot verify {ALGORITHM}: {exc}") from None
        object.__setattr__(self, "_public_keys", public)

    @classmethod
    def generate(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Create a new ring file with an active and a next key; never overwrites one."""
        path = Path(path)
        active, upcoming = new_signing_key(), new_signing_key()
        ring = cls(
            path=path,
            keys={_kid(active): active, _kid(upcoming): upcoming},
            active_kid=_kid(active),
            next_kid=_kid(upcoming),
            retiring={},
        )
        _write_atomically(path, ring.to_json(), overwrite=False)
        return ring

    @classmethod
    def rotate(
        cls,
        path: str | os.PathLike[str],
        *,
        access_token_ttl_s: int,
        now: int | None = None,
        leeway_s: int = ROTATION_LEEWAY_S,
    ) -> KeyRing:
        """Promote ``next`` to active, retire the active key, and add a fresh ``next``.

        ``access_token_ttl_s`` must be the longest lifetime the service gives access tokens:
        the retired key keeps verifying for that long (plus ``leeway_s``)."""
        if access_token_ttl_s <= 0:
            raise ValueError("access_token_ttl_s must be positive.")
        ring = cls.load(path)
        if ring.next_kid is None:
            raise KeyRingError(
                f"Key ring {ring.path} has no next key, so no key has been published ahead of "
                "signing; create a new ring with `init` instead of rotating this one."
            )
        now = int(time.time()) if now is None else now
        retiring = {kid: until for kid, until in ring.retiring.items() if until > now}
        retiring[ring.active_kid] = now + access_token_ttl_s + leeway_s
        upcoming = new_signing_key()
        kept = [ring.next_kid, *retiring]
        rotated = cls(
            path=ring.path,
            keys={**{kid: ring.keys[kid] for kid in kept}, _kid(upcoming): upcoming},
            active_kid=ring.next_kid,
            next_kid=_kid(upcoming),
            retiring=retiring,
        )
        _write_atomically(ring.path, rotated.to_json(), overwrite=True)
        return rotated

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Read and check a ring file, or raise :class:`KeyRingError` saying what is wrong."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise _unreadable(path, exc) from None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            # WHY: the message never quotes the file: it holds private keys.
            raise KeyRingError(f"Key ring file {path} is not valid JSON.") from None
        return cls._from_dict(path, data)

    @classmethod
    def _from_dict(cls, path: Path, data: Any) -> KeyRing:
        def fail(what: str) -> KeyRingError:
            return KeyRingError(f"Key ring file {path}: {what}")

        if not isinstance(data, dict) or not {"keys", "active", "next", "retiring"} <= set(data):
            raise fail("expected a JSON object with 'keys', 'active', 'next' and 'retiring'.")
        if not isinstance(data["keys"], list) or not data["keys"]:
            raise fail("'keys' must be a non-empty list of private JWKs.")
        keys: dict[str, ECKey] = {}
        for position, jwk in enumerate(data["keys"], start=1):
            key = _import_private_key(jwk, fail=_prefixed(fail, f"key #{position}"))
            kid = _kid(key)
            if kid in keys:
                raise fail(f"kid {kid!r} appears twice.")
            keys[kid] = key

        active, upcoming, retiring = data["active"], data["next"], data["retiring"]
        if not isinstance(active, str) or active not in keys:
            raise fail("'active' must be the kid of one of its keys.")
        if upcoming is not None and (not isinstance(upcoming, str) or upcoming not in keys):
            raise fail("'next' must be null or the kid of one of its keys.")
        if not isinstance(retiring, dict):
            raise fail("'retiring' must be an object of kid to verify-until epoch seconds.")
        for kid, until in retiring.items():
            if kid not in keys:
                raise fail(f"retiring kid {kid!r} is not one of its keys.")
            if isinstance(until, bool) or not isinstance(until, int):
                raise fail(f"retiring kid {kid!r} needs an integer verify-until (epoch seconds).")
        return cls(path=path, keys=keys, active_kid=active, next_kid=upcoming, retiring=retiring)

    def signing_key(self) -> ECKey:
        return self.keys[self.active_kid]

    def verification_key(self, kid: str, now: int) -> ECKey | None:
        """The public key for ``kid`` if it may verify at ``now``: active, next, or retiring."""
        if kid == self.active_kid or kid == self.next_kid:
            return self._public_keys[kid]
        until = self.retiring.get(kid)
        if until is not None and now < until:
            return self._public_keys[kid]
        return None

    def public_jwks(self, now: int) -> dict[str, list[dict[str, Any]]]:
        """The JWK Set to publish: public parts of the active, next and unexpired retiring keys."""
        kids = [self.active_kid]
        if self.next_kid is not None:
            kids.append(self.next_kid)
        kids += [kid for kid, until in self.retiring.items() if now < until]
        return {"keys": [dict(self.keys[kid].as_dict(private=False)) for kid in kids]}

    def summary(self) -> str:
        """One line naming the kids, for logs and the CLI; never key material."""
        retiring = ",".join(f"{kid}@{until}" for kid, until in self.retiring.items()) or "-"
        return f"active={self.active_kid} next={self.next_kid or '-'} retiring={retiring}"

    def to_json(self) -> bytes:
        document = {
            "keys": [dict(key.as_dict(private=True)) for key in self.keys.values()],
            "active": self.active_kid,
            "next": self.next_kid,
            "retiring": dict(self.retiring),
        }
        return json.dumps(document, indent=2).encode() + b"\n"


class KeyRingSource:
    """A ring file that reloads itself when the file changes, checked at most once a second.

    Every worker process holds one, so a rotation reaches all of them without a restart. A file
    that turns unreadable after the first load is logged and the last good ring kept."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._check_interval_s = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at = 0.0

    def current(self) -> KeyRing:
        """The ring as of the last check; the first call loads it (or raises KeyRingError)."""
        ring = self._ring
        if ring is not None and self._clock() - self._checked_at < self._check_interval_s:
            return ring
        with self._lock:
            return self._refresh()

    def _refresh(self) -> KeyRing:
        self._checked_at = self._clock()
        try:
            stat = os.stat(self.path)
            # WHY: mtime alone can miss a replacement within the filesystem's time resolution;
            # os.replace and Kubernetes' secret updates also change the inode.
            stamp = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
            if self._ring is not None and stamp == self._stamp:
                return self._ring
            ring = KeyRing.load(self.path)
        except (OSError, KeyRingError) as exc:
            error = _unreadable(self.path, exc) if isinstance(exc, OSError) else exc
            if self._ring is None:
                raise error from None
            log.warning("key_ring_reload_failed", path=str(self.path), error=str(error))
            return self._ring
        if self._ring is not None:
            log.info("key_ring_reloaded", path=str(self.path), ring=ring.summary())
        self._ring, self._stamp = ring, stamp
        return ring


def _unreadable(path: Path, exc: OSError) -> KeyRingError:
    if isinstance(exc, FileNotFoundError):
        return KeyRingError(
            f"Key ring file {path} does not exist; create it with "
            f"`python -m runtime.auth.keys init --file {path}`."
        )
    return KeyRingError(f"Key ring file {path} cannot be read: {exc.strerror}.")


def _kid(key: ECKey) -> str:
    kid = key.kid
    assert kid is not None
    return kid


def _prefixed(fail: Callable[[str], KeyRingError], prefix: str) -> Callable[[str], KeyRingError]:
    return lambda what: fail(f"{prefix} {what}")


def _public(key: ECKey) -> ECKey:
    return ECKey.import_key(dict(key.as_dict(private=False)))


def _import_private_key(jwk: Any, *, fail: Callable[[str], KeyRingError]) -> ECKey:
    if not isinstance(jwk, dict):
        raise fail("is not a JSON object.")
    try:
        key = ECKey.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        raise fail("is not a valid EC JWK.") from None
    if not key.is_private or key.curve_name != CURVE:
        raise fail(f"must be a private {CURVE} key.")
    if key.get("alg") != ALGORITHM or key.get("use") != "sig":
        raise fail(f'must carry "alg": "{ALGORITHM}" and "use": "sig".')
    if key.kid != key.thumbprint():
        raise fail("has a kid that is not its RFC 7638 thumbprint.")
    return key


def _write_atomically(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write a 0600 file through a temporary file in the same directory."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise KeyRingError(f"Key ring file {path} cannot be written: {exc.strerror}.") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # WHY: link() fails if the target exists, so two `init`s never overwrite each other
            # (an exists() check followed by replace() would race).
            os.link(tmp, path)
        _fsync_directory(path.parent)
    except FileExistsError:
        raise KeyRingError(
            f"Key ring file {path} already exists; refusing to overwrite it (use `rotate`)."
        ) from None
    except OSError as exc:
        raise KeyRingError(f"Key ring file {path} cannot be written: {exc.strerror}.") from None
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
