"""External OAuth (token type OAUTH): bearer JWTs from a third-party authorization server.

POST /_emulator/oauth/integrations registers what CREATE SECURITY INTEGRATION TYPE = EXTERNAL_OAUTH
holds: issuer, RSA public key, audience list, the claim naming the user (mapped to the user's login
name, here its name, case-insensitively) and ANY_ROLE_MODE. A token is checked against the
integrations of its issuer: RS256 signature, audience, exp/nbf/iat; its `scp` claim may name the
session's role (session:role:NAME). Failures answer 401 390303 "Invalid OAuth access token. [reason]".
"""

import threading
import time
from dataclasses import dataclass

import jwt

from .principals import AuthError, Principal, number_claim, unverified_rs256
from .users import fingerprint, load_public_key

LEEWAY_SECONDS = 30
ROLE_SCOPE = "session:role:"
ANY_ROLE_SCOPE = "session:role-any"


def invalid(reason):
    return AuthError("390303", f"Invalid OAuth access token. [{reason}]")


@dataclass
class Integration:
    name: str
    account: str
    issuer: str
    audiences: list
    public_key: object
    user_claim: str = "sub"
    any_role: bool = False

    def describe(self):
        return {"name": self.name, "account": self.account, "issuer": self.issuer, "audiences": list(self.audiences),
                "publicKeyFp": fingerprint(self.public_key), "userClaim": self.user_claim, "anyRole": self.any_role}


def _nonempty(body, key):
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}' is a required non-empty string")
    return value.strip()


class Integrations:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_name = {}  # (account, name) -> Integration

    def register(self, body):
        """Creates or replaces (CREATE OR REPLACE) the account's integration of that name."""
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        name, account, issuer = (_nonempty(body, k) for k in ("name", "account", "issuer"))
        audiences = body.get("audiences")
        if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise ValueError("'audiences' must be a non-empty list of strings")
        try:
            key = load_public_key(_nonempty(body, "publicKey"))
        except (ValueError, TypeError) as e:
            raise ValueError(f"invalid 'publicKey': {e}")
        user_claim = body.get("userClaim", "sub")
        if not isinstance(user_claim, str) or not user_claim:
            raise ValueError("'userClaim' must be a non-empty string")
        any_role = body.get("anyRole", False)
        if not isinstance(any_role, bool):
            raise ValueError("'anyRole' must be true or false")
        integration = Integration(name.upper(), account.upper(), issuer, list(audiences), key, user_claim, any_role)
        with self._lock:
            self._by_name[(integration.account, integration.name)] = integration
        return integration.describe()

    def list(self):
        with self._lock:
            return [i.describe() for i in self._by_name.values()]

    def of_issuer(self, issuer):
        with self._lock:
            return [i for i in self._by_name.values() if i.issuer == issuer]


def _scopes(claims):
    scp = claims.get("scp")
    if scp is None:
        return []
    if isinstance(scp, str):
        return scp.split()
    if isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return scp
    raise invalid("claim 'scp' must be a space-separated string or a list of strings")


def verify_oauth(token, state, now=None):
    now = time.time() if now is None else now
    _, claims = unverified_rs256(token, invalid)
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise invalid("missing claim 'iss'")
    candidates = state.oauth.of_issuer(issuer)
    if not candidates:
        raise invalid(f"no External OAuth security integration has issuer {issuer!r}")
    integration = None
    for candidate in candidates:
        try:
            jwt.decode(token, key=candidate.public_key, algorithms=["RS256"],
                       options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False})
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as e:
            raise invalid(f"token rejected: {e}")
        integration = candidate
        break
    if integration is None:
        raise invalid("signature verification failed")
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(a in integration.audiences for a in auds if isinstance(a, str)):
        raise invalid(f"audience {aud!r} is not in the integration's EXTERNAL_OAUTH_AUDIENCE_LIST")
    exp, nbf, iat = (number_claim(claims, "exp", invalid, True), number_claim(claims, "nbf", invalid, False),
                     number_claim(claims, "iat", invalid, False))
    if exp < now - LEEWAY_SECONDS:
        raise invalid("token expired")
    if nbf is not None and nbf > now + LEEWAY_SECONDS:
        raise invalid("token is not valid yet (nbf)")
    if iat is not None and iat > now + LEEWAY_SECONDS:
        raise invalid("token issued in the future (iat)")
    login = claims.get(integration.user_claim)
    if not isinstance(login, str) or not login:
        raise invalid(f"missing claim '{integration.user_claim}' (the integration's user mapping claim)")
    user = state.users.get(integration.account, login.upper())
    if user is None:
        raise invalid(f"no user with login name '{login}' in account '{integration.account}'")
    scopes = _scopes(claims)
    roles = {s[len(ROLE_SCOPE):].upper() for s in scopes if s.startswith(ROLE_SCOPE) and len(s) > len(ROLE_SCOPE)}
    if len(roles) > 1:
        raise invalid("scope names more than one session:role")
    if ANY_ROLE_SCOPE in scopes and not roles and not integration.any_role:
        raise invalid("scope session:role-any needs EXTERNAL_OAUTH_ANY_ROLE_MODE = ENABLE")
    role = roles.pop() if roles else user.default_role
    return Principal(user.account, user.name, role)
