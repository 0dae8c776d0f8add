"""Session engine: Django's cached_db, with the customer's id readable from a signed-in session key.

Why: a signed-in serving request needs its session, its user row, its rate-limit counter and
its cached answer, and all but the session are keyed by the user's id. Reading the session first
costs a whole extra round trip to Redis. A session key issued at login ends in `_<user id in
base 36>`, so a view can fetch everything in one round trip (ecommerce/cache_batch.py).

The id in the key is a hint, never an identity: who the user is still comes from the session
data and Django's session-hash check. A forged key names a session that does not exist, so the
request is anonymous; the batch's guess is then simply unused, and a rate-limit count it took
for the named user is given back (cache_batch returns unused counts). The random part keeps
28 characters from Django's alphabet (~145 bits).

Use with a shared cache only (settings choose it when CACHE_URL is set), like cached_db.
"""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.utils.crypto import get_random_string

from .cache_batch import MISSING, batched_forget, batched_value
from .cache_copies import track_prefix

RANDOM_CHARS = 28
SEPARATOR = "_"  # outside VALID_KEY_CHARS, so Django's own 32-character keys never look hinted
MAX_ID_DIGITS = 40 - RANDOM_CHARS - 1  # session_key is a 40-character column


def base36(number: int) -> str:
    """Lowercase base 36 of a non-negative integer, as int(text, 36) reads it back."""
    if number < 0:
        raise ValueError("base36 takes non-negative integers")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = alphabet[rest] + text
        if number == 0:
            return text


def session_user_hint(session_key: str | None) -> int | None:
    """The user id a signed-in session key carries, or None (anonymous, old or malformed keys)."""
    if not session_key or len(session_key) <= RANDOM_CHARS + 1 or session_key[RANDOM_CHARS] != SEPARATOR:
        return None
    digits = session_key[RANDOM_CHARS + 1 :]
    if len(digits) > MAX_ID_DIGITS or not digits.isalnum() or not digits.isascii():
        return None
    try:
        return int(digits, 36)
    except ValueError:
        return None


class SessionStore(CachedDBStore):
    def _get_new_session_key(self) -> str:
        # While cycle_key() makes the new key the session data is loaded; at first creation
        # there is none yet.
        user_id = getattr(self, "_session_cache", {}).get(SESSION_KEY)
        if user_id is None:
            return super()._get_new_session_key()
        try:
            number = int(user_id)
        except (TypeError, ValueError):  # a non-integer primary key: no hint
            return super()._get_new_session_key()
        if number < 0 or len(base36(number)) > MAX_ID_DIGITS:  # would not fit the 40-char column
            return super()._get_new_session_key()
        suffix = SEPARATOR + base36(number)
        while True:
            session_key = get_random_string(RANDOM_CHARS, VALID_KEY_CHARS) + suffix
            if not self.exists(session_key):
                return session_key

    def load(self) -> dict:
        data = batched_value(self.cache_key)  # fetched with the request's other reads?
        if data is MISSING or data is None:
            return super().load()
        return data

    def save(self, must_create: bool = False) -> None:
        if self.session_key:
            batched_forget(self.cache_key)
        super().save(must_create=must_create)


# Read on every signed-in request, changed rarely: copies per process (ecommerce/cache_copies.py).
track_prefix(SessionStore.cache_key_prefix)


def rekey_signed_in_session(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: give the session a key that carries the user id.

    django.contrib.auth.login cycles the key before it stores the user, so the key it makes
    cannot carry the id; cycling once more (at login only) can.
    """
    session = getattr(request, "session", None) if request is not None else None
    if isinstance(session, SessionStore) and session_user_hint(session.session_key) != user.pk:
        session.cycle_key()
