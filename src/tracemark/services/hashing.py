"""Slow salted hashes for passwords and secrets, and fast digests for random tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def slow_hash(secret: str) -> str:
    """Argon2id with a random salt; for passwords and API secrets."""
    return str(_hasher.hash(secret))


def verify_slow_hash(stored: str, candidate: str) -> bool:
    try:
        return bool(_hasher.verify(stored, candidate))
    except (VerificationError, InvalidHashError):
        return False


def digest(token: str) -> str:
    """SHA-256 hex; only for high-entropy random tokens (web session cookies)."""
    return hashlib.sha256(token.encode()).hexdigest()


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sign(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
