"""Stackline access tokens: EdDSA-signed JWTs and the JWK set that verifies them."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _thumbprint(raw_public_key: bytes) -> str:
    """RFC 7638: the same kid on every replica, derived from the key alone."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw_public_key)}, separators=(",", ":")
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    # RFC 7638 thumbprint of the public key: stable, and the same on every replica.
    kid: str

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(private_key, _thumbprint(raw))

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


@dataclass(frozen=True)
class RetiredKey:
    """A key that signs no more, published until every token it signed has expired."""

    public_jwk: dict[str, str]


def load_retired_key(path: Path) -> RetiredKey:
    """From a PEM file holding the old private key or just its public half."""
    data = path.read_bytes()
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        public = serialization.load_pem_public_key(data)
    else:
        public = private.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise SystemExit(f"{path} does not hold an Ed25519 key")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = _thumbprint(raw)
    return RetiredKey(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": kid,
            "alg": ALGORITHM,
            "use": "sig",
        }
    )


def load_signing_key(path: Path | None, *, create_if_missing: bool) -> SigningKey:
    if path is not None and path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SystemExit(f"{path} does not hold an Ed25519 private key")
        return SigningKey.from_private_key(key)
    if not create_if_missing:
        raise SystemExit(f"JWT signing key file {path} not found")
    key = Ed25519PrivateKey.generate()
    if path is None:
        log.warning(
            "no JWT signing key configured: using a throwaway key, tokens die with this process"
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
        log.info("created JWT signing key", extra={"path": str(path)})
    return SigningKey.from_private_key(key)


@dataclass(frozen=True)
class TokenIssuer:
    key: SigningKey
    issuer: str
    audience: str
    ttl: timedelta
    # Keys rotated out: their tokens stay valid until they expire.
    retired: tuple[RetiredKey, ...] = ()

    def issue(self, *, user_id: uuid.UUID, login: str, now: datetime) -> tuple[str, datetime]:
        expires = now + self.ttl
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "login": login,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid}
        )
        return token, expires

    def jwks_json(self) -> str:
        return json.dumps({"keys": [self.key.public_jwk(), *(r.public_jwk for r in self.retired)]})


REFRESH_PREFIX = "slr_"


def new_refresh_token() -> str:
    # 256 random bits; like ingest keys, stored only as a SHA-256 hash.
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def refresh_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
