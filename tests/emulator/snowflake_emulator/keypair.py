"""Key-pair JWTs (token type KEYPAIR_JWT), verified for real: RS256 with the public key of the
user's RSA_PUBLIC_KEY or RSA_PUBLIC_KEY_2 slot named by the fingerprint in `iss`, then iat/exp.

Every failure answers 401 with code 390144 and a bracketed reason, so a client bug shows up as
exactly what is wrong with its token.
"""

import time

import jwt

from .principals import AuthError, Principal, unverified_rs256

EXP_LEEWAY_SECONDS = 30
IAT_FUTURE_SECONDS = 60


def invalid(reason):
    return AuthError("390144", f"JWT token is invalid. [{reason}]")


def verify_keypair_jwt(token, state, now=None):
    """Verify a key-pair JWT the way Snowflake does; returns the Principal."""
    now = time.time() if now is None else now
    max_token_age_seconds = state.config.get("max_token_age_seconds")
    _, claims = unverified_rs256(token, invalid)
    for claim in ("iss", "sub", "iat", "exp"):
        if claim not in claims:
            raise invalid(f"missing claim '{claim}'")
    iss, sub, iat, exp = claims["iss"], claims["sub"], claims["iat"], claims["exp"]
    if not all(isinstance(c, str) for c in (iss, sub)) or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in (iat, exp)):
        raise invalid("claims have wrong types")
    if "." not in sub or not iss.startswith(sub + ".SHA256:"):
        raise invalid("issuer/subject mismatch: iss must be ACCOUNT.USER.SHA256:<fingerprint> and sub ACCOUNT.USER")
    account, user_name = sub.split(".", 1)
    user = state.users.get(account, user_name)
    if user is None:
        raise invalid(f"user '{user_name}' does not exist in account '{account}' "
                      "(account and user must be uppercase)")
    key = user.key_for(iss[len(sub) + 1:])
    if key is None:
        raise invalid("public key fingerprint is not registered")
    try:
        jwt.decode(token, key=key, algorithms=["RS256"],
                   options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False})
    except jwt.InvalidSignatureError:
        raise invalid("signature verification failed")
    except jwt.PyJWTError as e:
        raise invalid(f"token rejected: {e}")
    if exp < now - EXP_LEEWAY_SECONDS:
        raise invalid("token expired")
    if iat > now + IAT_FUTURE_SECONDS:
        raise invalid("token issued in the future (iat)")
    if now > iat + max_token_age_seconds:
        raise invalid(f"token expired: issued more than {max_token_age_seconds:g} seconds ago (iat)")
    return Principal(user.account, user.name, user.default_role)
