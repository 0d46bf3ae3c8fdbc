"""What every authenticator returns (Principal) or raises (AuthError). Kept apart from auth.py so
the verifier modules and the dispatcher that imports them do not import each other."""

import time
from dataclasses import dataclass

import jwt


class AuthError(Exception):
    """An HTTP 401 answer: (code, message). Messages never hold a token, signature or secret."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self):
        return {"code": self.code, "message": self.message}


@dataclass
class Principal:
    account: str
    user: str
    default_role: str = None   # the session's role when the request names none


def iso8601(epoch_seconds):
    """UTC, second precision, 'Z' suffix: how STS and the admin API write expirations."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def unverified_rs256(token, invalid):
    """(header, claims) of an RS256 JWT before its signature is checked, or invalid(reason)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid("token is malformed")
    if header.get("alg") != "RS256":
        raise invalid(f"unsupported algorithm {header.get('alg')!r}, expected RS256")
    return header, claims


def number_claim(claims, name, invalid, required):
    """A numeric claim (None when absent and optional), or invalid(reason)."""
    value = claims.get(name)
    if value is None:
        if required:
            raise invalid(f"missing claim '{name}'")
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise invalid(f"claim '{name}' must be a number")
    return value
