"""Users and their RSA keys, and authentication of SQL API calls (key-pair JWT, verified for real).

Every failure answers 401 with code 390144 and a bracketed reason, so a client bug shows up as
exactly what is wrong with its token. Tokens are never logged.
"""

import base64
import hashlib
import threading
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

EXP_LEEWAY_SECONDS = 30
IAT_FUTURE_SECONDS = 60


class AuthError(Exception):
    """An HTTP 401 answer: (code, message)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self):
        return {"code": self.code, "message": self.message}


def _invalid(reason):
    return AuthError("390144", f"JWT token is invalid. [{reason}]")


def load_public_key(text):
    """PEM public key, or the bare base64 body Snowflake's RSA_PUBLIC_KEY takes."""
    text = text.strip()
    if not text.startswith("-----BEGIN"):
        text = "-----BEGIN PUBLIC KEY-----\n" + "".join(text.split()) + "\n-----END PUBLIC KEY-----\n"
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("only RSA public keys are supported")
    return key


def fingerprint(public_key):
    """SHA256:<standard padded base64 of SHA-256 over the DER SubjectPublicKeyInfo> (RSA_PUBLIC_KEY_FP)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


@dataclass
class User:
    account: str
    name: str
    keys: dict = field(default_factory=dict)  # fingerprint -> public key
    default_role: str = None


@dataclass
class Principal:
    account: str
    user: str
    default_role: str = None


class UserStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._users = {}

    def register(self, account, user, public_keys, default_role=None):
        if not isinstance(public_keys, list) or not 1 <= len(public_keys) <= 2:
            raise ValueError("public_keys must be a list of one or two PEM public keys")
        keys = {}
        for text in public_keys:
            key = load_public_key(text)
            keys[fingerprint(key)] = key
        u = User(account.upper(), user.upper(), keys, default_role)
        with self._lock:
            self._users[(u.account, u.name)] = u
        return list(keys)

    def get(self, account, user):
        with self._lock:
            return self._users.get((account, user))

    def list(self):
        with self._lock:
            return [{"account": u.account, "user": u.name, "fingerprints": list(u.keys),
                     "default_role": u.default_role} for u in self._users.values()]


def verify_keypair_jwt(token, users, max_token_age_seconds, now=None):
    """Verify a key-pair JWT the way Snowflake does; returns the Principal."""
    now = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _invalid("token is malformed")
    if header.get("alg") != "RS256":
        raise _invalid(f"unsupported algorithm {header.get('alg')!r}, expected RS256")
    for claim in ("iss", "sub", "iat", "exp"):
        if claim not in claims:
            raise _invalid(f"missing claim '{claim}'")
    iss, sub, iat, exp = claims["iss"], claims["sub"], claims["iat"], claims["exp"]
    if not all(isinstance(c, str) for c in (iss, sub)) or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in (iat, exp)):
        raise _invalid("claims have wrong types")
    if "." not in sub or not iss.startswith(sub + ".SHA256:"):
        raise _invalid("issuer/subject mismatch: iss must be ACCOUNT.USER.SHA256:<fingerprint> and sub ACCOUNT.USER")
    account, user_name = sub.split(".", 1)
    user = users.get(account, user_name)
    if user is None:
        raise _invalid(f"user '{user_name}' does not exist in account '{account}' "
                       "(account and user must be uppercase)")
    fp = iss[len(sub) + 1:]
    key = user.keys.get(fp)
    if key is None:
        raise _invalid("public key fingerprint is not registered")
    try:
        jwt.decode(token, key=key, algorithms=["RS256"],
                   options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False})
    except jwt.InvalidSignatureError:
        raise _invalid("signature verification failed")
    except jwt.PyJWTError as e:
        raise _invalid(f"token rejected: {e}")
    if exp < now - EXP_LEEWAY_SECONDS:
        raise _invalid("token expired")
    if iat > now + IAT_FUTURE_SECONDS:
        raise _invalid("token issued in the future (iat)")
    if now > iat + max_token_age_seconds:
        raise _invalid(f"token expired: issued more than {max_token_age_seconds:g} seconds ago (iat)")
    return Principal(user.account, user.name, user.default_role)


# Token type (X-Snowflake-Authorization-Token-Type) -> verifier. OAUTH, PROGRAMMATIC_ACCESS_TOKEN and
# WORKLOAD_IDENTITY_FEDERATION slot in here.
AUTHENTICATORS = {
    "KEYPAIR_JWT": verify_keypair_jwt,
}


def authenticate(headers, users, max_token_age_seconds):
    token_type = (headers.get("X-Snowflake-Authorization-Token-Type") or "KEYPAIR_JWT").strip().upper()
    verifier = AUTHENTICATORS.get(token_type)
    if verifier is None:
        raise AuthError("390101", "Authorization token type not supported")
    authorization = headers.get("Authorization") or ""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid("missing 'Authorization: Bearer <token>' header")
    return verifier(token.strip(), users, max_token_age_seconds)
