"""Tokens at rest: Fernet ciphertext, under keys the operator rotates (``TOKEN_ENCRYPTION_KEY``).

The first key encrypts, every key decrypts (``MultiFernet``), so a new key goes first and the
old ones stay behind it until every token was written again under the new one: a token read
under an older key is written back under the first (``TokenCipher.stale``).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class BadKey(ValueError):
    """A key is not 32 url-safe base64-encoded bytes, as ``Fernet.generate_key()`` gives them."""


class TokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise BadKey("needs at least one key")
        try:
            self._keys = [Fernet(key.encode()) for key in keys]
        except ValueError:
            raise BadKey("each key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())") from None
        self._all = MultiFernet(self._keys)

    def encrypt(self, token: str | None) -> str | None:
        return None if token is None else self._all.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str | None) -> str | None:
        """The token; ``InvalidToken`` when no key of ours made the ciphertext."""
        return None if ciphertext is None else self._all.decrypt(ciphertext.encode()).decode()

    def stale(self, ciphertext: str | None) -> bool:
        """Whether the ciphertext was made under an older key than the first."""
        if ciphertext is None:
            return False
        try:
            self._keys[0].decrypt(ciphertext.encode())
        except InvalidToken:
            return True
        return False
