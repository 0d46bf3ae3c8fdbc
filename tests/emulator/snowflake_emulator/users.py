"""Users as the authenticators see them: two RSA key slots (RSA_PUBLIC_KEY and RSA_PUBLIC_KEY_2, so
keys rotate without downtime), AWS workload identities, programmatic access tokens and a default role.

Registering a user again updates it in place: only what the body names changes, so a fixture that
re-registers a user with new keys keeps the PATs and workload identities a test gave it. Of a PAT
only its SHA-256 is kept, like a password hash: the secret is shown once, when minted.
"""

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .principals import iso8601
from .wif_aws import trusted_identity

SLOTS = ("rsa_public_key", "rsa_public_key_2")
PAT_MAX_DAYS = 365
PAT_DEFAULT_DAYS = 15
_KEEP = object()  # "not in the body": keep what the user has


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


def pat_digest(token):
    return hashlib.sha256(token.encode()).digest()


@dataclass
class Key:
    fingerprint: str
    public_key: object


@dataclass
class Pat:
    name: str
    digest: bytes
    expires: float
    role: str = None  # ROLE_RESTRICTION: the session's role


@dataclass
class User:
    account: str
    name: str
    default_role: str = None
    slots: list = field(default_factory=lambda: [None, None])  # Key or None: RSA_PUBLIC_KEY, RSA_PUBLIC_KEY_2
    workload_identities: list = field(default_factory=list)     # [{"type": "AWS", "arn", "issuer"?}]
    pats: dict = field(default_factory=dict)                    # name -> Pat

    def key_for(self, fp):
        """The public key of the slot whose fingerprint is fp, else None."""
        return next((k.public_key for k in self.slots if k is not None and k.fingerprint == fp), None)

    def slot_fingerprints(self):
        return {f"{slot}_fp": (k.fingerprint if k else None) for slot, k in zip(SLOTS, self.slots)}

    def describe(self):
        return {"account": self.account, "user": self.name,
                "fingerprints": [k.fingerprint for k in self.slots if k is not None],
                **self.slot_fingerprints(), "default_role": self.default_role,
                "workload_identities": [dict(w) for w in self.workload_identities],
                "pats": [{"name": p.name, "expiresAt": iso8601(p.expires), "roleRestriction": p.role}
                         for p in self.pats.values()]}


def _slot_key(text, slot):
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"'{slot}' must be a PEM public key or null")
    try:
        key = load_public_key(text)
    except (ValueError, TypeError) as e:
        raise ValueError(f"invalid public key in '{slot}': {e}")
    return Key(fingerprint(key), key)


def _role(value, what):
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"'{what}' must be a non-empty string")
    return value.strip().upper() if value is not None else None


class UserStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._users = {}
        self._revoked = {}  # digest of a removed PAT -> its name, so its use says "revoked", not "unknown"

    # ------------------------------------------------------------ admin

    def register(self, account, user, public_keys=_KEEP, default_role=_KEEP, workload_identity=_KEEP):
        """Creates the user or updates it in place; arguments left out keep their value."""
        slots = _KEEP
        if public_keys is not _KEEP:
            if not isinstance(public_keys, list) or len(public_keys) > 2:
                raise ValueError("'public_keys' must be a list of zero, one or two PEM public keys")
            slots = [_slot_key(text, f"public_keys[{i}]") for i, text in enumerate(public_keys)]
            slots += [None] * (2 - len(slots))
        identities = _KEEP
        if workload_identity is not _KEEP:
            identities = [] if workload_identity is None else [trusted_identity(workload_identity)]
        if default_role is not _KEEP and default_role is not None and not isinstance(default_role, str):
            raise ValueError("'default_role' must be a string")
        key = (account.upper(), user.upper())
        with self._lock:
            u = self._users.get(key) or User(*key)
            if identities is not _KEEP:
                self._check_identities_free(u, identities)
                u.workload_identities = identities
            if slots is not _KEEP:
                u.slots = slots
            if default_role is not _KEEP:
                u.default_role = default_role
            self._users[key] = u
            return u.describe()

    def set_keys(self, account, user, changes):
        """ALTER USER .. SET/UNSET RSA_PUBLIC_KEY[_2]: only the slots named in changes move."""
        named = [s for s in SLOTS if s in changes]
        if not named:
            raise ValueError("give 'rsa_public_key' and/or 'rsa_public_key_2' (a PEM, or null to unset)")
        new = {s: _slot_key(changes[s], s) for s in named}
        with self._lock:
            u = self._get(account, user)
            for i, slot in enumerate(SLOTS):
                if slot in new:
                    u.slots[i] = new[slot]
            return u.slot_fingerprints()

    def change_workload_identities(self, account, user, add=None, remove=None):
        """ALTER USER .. ADD / REMOVE WORKLOAD IDENTITY. remove: an ARN (every identity naming it, with
        or without an issuer) or an identity {"type", "arn", "issuer"?} (exactly that one)."""
        if (add is None) == (remove is None):
            raise ValueError("give exactly one of 'add': {\"type\": \"AWS\", \"arn\": ..., \"issuer\"?: ...} "
                             "or 'remove': arn or identity")
        identity = trusted_identity(add) if add is not None else None
        if remove is not None and not isinstance(remove, str):
            remove = trusted_identity(remove)
        with self._lock:
            u = self._get(account, user)
            if identity is not None:
                if identity not in u.workload_identities:
                    self._check_identities_free(u, [identity])
                    u.workload_identities.append(identity)
            else:
                kept = [w for w in u.workload_identities if (w if isinstance(remove, dict) else w["arn"]) != remove]
                if len(kept) == len(u.workload_identities):
                    raise LookupError(f"user {u.account}.{u.name} has no workload identity {remove!r}")
                u.workload_identities = kept
            return [dict(w) for w in u.workload_identities]

    def add_pat(self, account, user, name, days=PAT_DEFAULT_DAYS, role=None):
        """ALTER USER .. ADD PROGRAMMATIC ACCESS TOKEN: (name, token, expiresAt); the token is not kept."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("'name' must be a non-empty string")
        if not isinstance(days, (int, float)) or isinstance(days, bool) or not 0 <= days <= PAT_MAX_DAYS:
            raise ValueError(f"'daysToExpiry' must be a number of days from 0 to {PAT_MAX_DAYS}")
        role = _role(role, "roleRestriction")
        name = name.strip().upper()
        token = secrets.token_urlsafe(48)
        with self._lock:
            u = self._get(account, user)
            if name in u.pats:
                raise ValueError(f"programmatic access token '{name}' already exists for user {u.account}.{u.name}")
            pat = Pat(name, pat_digest(token), time.time() + days * 86400, role)
            u.pats[name] = pat
            return {"name": name, "token": token, "expiresAt": iso8601(pat.expires)}

    def remove_pat(self, account, user, name):
        if not isinstance(name, str):
            raise ValueError("'name' must be a string")
        with self._lock:
            u = self._get(account, user)
            pat = u.pats.pop(name.strip().upper(), None)
            if pat is None:
                raise LookupError(f"user {u.account}.{u.name} has no programmatic access token {name!r}")
            self._revoked[pat.digest] = pat.name
            return {"name": pat.name, "removed": True}

    def list(self):
        with self._lock:
            return [u.describe() for u in self._users.values()]

    # ------------------------------------------------------------ authenticators

    def get(self, account, user):
        with self._lock:
            return self._users.get((account, user))

    def find_pat(self, token):
        """(user, pat, revoked): every stored digest is compared in constant time, none skipped."""
        digest = pat_digest(token)
        found, revoked = None, False
        with self._lock:
            for u in self._users.values():
                for pat in u.pats.values():
                    if hmac.compare_digest(pat.digest, digest):
                        found = (u, pat)
            for old in self._revoked:
                if hmac.compare_digest(old, digest):
                    revoked = True
        return (found[0], found[1], False) if found else (None, None, revoked)

    def find_by_workload_identity(self, matches):
        """The first user with a workload identity for which matches(identity) is true."""
        with self._lock:
            return next((u for u in self._users.values() if any(matches(w) for w in u.workload_identities)), None)

    # ------------------------------------------------------------ internals (lock held)

    def _get(self, account, user):
        if not isinstance(account, str) or not account or not isinstance(user, str) or not user:
            raise ValueError("'account' and 'user' are required strings")
        u = self._users.get((account.upper(), user.upper()))
        if u is None:
            raise LookupError(f"user {account.upper()}.{user.upper()} is not registered")
        return u

    def _check_identities_free(self, owner, identities):
        """A workload identity belongs to one user (else an attestation could not say whose it is)."""
        for other in self._users.values():
            if other is owner:
                continue
            for w in identities:
                if w in other.workload_identities:
                    issuer = f" with issuer {w['issuer']}" if w.get("issuer") else ""
                    raise ValueError(f"workload identity {w['arn']}{issuer} already belongs to user "
                                     f"{other.account}.{other.name}")
