"""Access tokens: JWTs this server signs (HS256, with expiry) and, optionally, an external issuer's (OIDC).

Verification is cached by token string: a token seen before costs a dictionary lookup and an
expiry comparison, not a signature check (see ``bench/server_throughput.py --auth``).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from flyte_server.auth.principal import ROLES, Principal, Role

__all__ = ["ISSUER", "InvalidTokenError", "OidcVerifier", "TokenAuthority"]

logger = logging.getLogger(__name__)

ISSUER = "flyte-server"
"""The ``iss`` of the tokens this server signs."""
AUDIENCE = "flyte"
"""Their ``aud``."""
_ALGORITHM = "HS256"
_CACHE_SIZE = 4096


class InvalidTokenError(Exception):
    """A bearer token that is malformed, tampered with, expired or not for this server."""


@dataclass
class _Cached:
    principal: Principal
    checked_at: float


class TokenAuthority:
    """Signs tokens for API keys and run attempts, and verifies them (cached).

    Example:
        >>> authority = TokenAuthority(b"k" * 32)
        >>> token, _ = authority.issue(Principal(subject="apikey:ci", role="user", key_id="ci"), ttl_s=60)
        >>> authority.verify(token).role
        'user'
    """

    def __init__(self, key: bytes, *, recheck_s: float = 30.0) -> None:
        self._key = OctKey.import_key(key)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self.recheck_s = recheck_s
        """How long a cached token of an API key is trusted before its key is looked up again."""

    def issue(self, principal: Principal, *, ttl_s: int, now: float | None = None) -> tuple[str, int]:
        """A signed token for ``principal`` valid for ``ttl_s`` seconds, and its expiry time."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.subject,
            "role": principal.role,
            "iat": issued,
            "exp": issued + ttl_s,
        }
        if principal.projects is not None:
            claims["projects"] = sorted(principal.projects)
        if principal.domain is not None:
            claims["domain"] = principal.domain
        if principal.key_id is not None:
            claims["kid"] = principal.key_id
        return jwt.encode({"alg": _ALGORITHM}, claims, self._key), issued + ttl_s

    def cached(self, token: str) -> _Cached | None:
        """The cache entry of a token verified before and not expired since."""
        entry = self._cache.get(token)
        if entry is None:
            return None
        if entry.principal.expires_at <= time.time():
            self._cache.pop(token, None)
            return None
        return entry

    def remember(self, token: str, principal: Principal) -> None:
        self._cache[token] = _Cached(principal, time.monotonic())
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget_key(self, key_id: str) -> None:
        """Drop every cached token of a revoked API key."""
        for token in [t for t, entry in self._cache.items() if entry.principal.key_id == key_id]:
            self._cache.pop(token, None)

    def verify(self, token: str) -> Principal:
        """The principal of one of this server's tokens (uncached signature and claim checks).

        Raises:
            InvalidTokenError: the token is malformed, has a bad signature, is expired or foreign.
        """
        try:
            decoded = jwt.decode(token, self._key, algorithms=[_ALGORITHM])
            _validate(decoded.claims, issuer=ISSUER, audience=AUDIENCE)
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidTokenError(_reason(error)) from error
        claims = decoded.claims
        role = claims.get("role")
        if role not in (*ROLES, "task"):
            raise InvalidTokenError(f"the token's role {role!r} is unknown")
        projects = claims.get("projects")
        return Principal(
            subject=str(claims["sub"]),
            role=role,
            projects=frozenset(str(p) for p in projects) if isinstance(projects, list) else None,
            domain=claims.get("domain"),
            key_id=claims.get("kid"),
            expires_at=float(claims["exp"]),
        )


def _validate(claims: dict[str, Any], *, issuer: str, audience: str | None) -> None:
    options: dict[str, Any] = {
        "exp": {"essential": True},
        "sub": {"essential": True},
        "iss": {"essential": True, "value": issuer},
    }
    if audience is not None:
        options["aud"] = {"essential": True, "value": audience}
    jwt.JWTClaimsRegistry(leeway=5, **options).validate(claims)


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "expired" in text.lower() or "exp" == getattr(error, "claim", None):
        return "the token has expired"
    return f"the token is not valid ({text})"


class OidcVerifier:
    """Trusts access tokens of an external OpenID Connect issuer, checked against its published keys.

    The discovery document (``<issuer>/.well-known/openid-configuration``) names the JWKS; keys
    are fetched on first use and again when a token names a key id not seen yet (key rotation).
    A token's ``flyte_role`` claim (or ``role``) picks the role; without one it is ``viewer``.
    """

    def __init__(self, issuer: str, *, audience: str | None = None, default_role: Role = "viewer") -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.default_role = default_role
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    def _fetch_json(self, url: str) -> Any:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read(1024 * 1024))

    def _load_keys(self) -> KeySet:
        discovery = self._fetch_json(f"{self.issuer}/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str):
            raise InvalidTokenError(f"the OIDC issuer {self.issuer} publishes no jwks_uri")
        keys = KeySet.import_key_set(self._fetch_json(jwks_uri))
        self._keys, self._fetched_at = keys, time.monotonic()
        return keys

    def verify(self, token: str) -> Principal:
        """The principal of a token from the issuer (blocking: may fetch the issuer's keys).

        Raises:
            InvalidTokenError: the token is not from the issuer, tampered with or expired.
        """
        try:
            keys = self._keys or self._load_keys()
            try:
                decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
            except (JoseError, ValueError) as first:
                # A key id not seen yet: the issuer may have rotated its keys (re-fetched at most once a minute).
                if time.monotonic() - self._fetched_at < 60:
                    raise InvalidTokenError(_reason(first)) from first
                decoded = jwt.decode(token, self._load_keys(), algorithms=["RS256", "ES256", "PS256", "EdDSA"])
            _validate(decoded.claims, issuer=self.issuer, audience=self.audience)
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidTokenError(_reason(error)) from error
        except OSError as error:
            logger.warning("cannot reach the OIDC issuer", extra={"issuer": self.issuer, "error": str(error)})
            raise InvalidTokenError(f"the OIDC issuer {self.issuer} cannot be reached") from error
        claims = decoded.claims
        claimed = claims.get("flyte_role") or claims.get("role")
        role: Role = claimed if claimed in ROLES else self.default_role
        return Principal(subject=f"oidc:{claims['sub']}", role=role, expires_at=float(claims["exp"]))
