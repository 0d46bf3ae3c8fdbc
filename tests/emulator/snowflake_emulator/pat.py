"""Programmatic access tokens (token type PROGRAMMATIC_ACCESS_TOKEN): `Authorization: Bearer <secret>`.

Minted by POST /_emulator/users/pat (ALTER USER .. ADD PROGRAMMATIC ACCESS TOKEN shows the secret
once); the store keeps only its SHA-256 (users.py), looked up in constant time. Failures answer 401
with 394400, a code the emulator invented, and a reason that never echoes the token.
"""

import time

from .principals import AuthError, Principal


def invalid(reason):
    return AuthError("394400", f"Programmatic access token is invalid. [{reason}]")


def verify_pat(token, state, now=None):
    now = time.time() if now is None else now
    user, pat, revoked = state.users.find_pat(token)
    if pat is None:
        raise invalid("token has been revoked" if revoked else "token is not known")
    if now >= pat.expires:
        raise invalid(f"token '{pat.name}' expired")
    return Principal(user.account, user.name, pat.role or user.default_role)
