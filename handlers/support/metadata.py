"""A modal's ``private_metadata``, sealed.

It travels through the user's client and comes back with every submission, so it is
signed with a key only the app knows: a payload naming another postmortem, team or
channel than the one the app wrote is refused, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Self

import orjson
from pydantic import BaseModel, PrivateAttr, ValidationError

from handlers.support.permissions import Refused

TAMPERED = "This form was changed on its way back to me, so I did not use it. Open it again from the card."


def metadata_key(secret: str) -> bytes:
    """A key of its own, derived from the app's secret (signing secret, or a token in Socket Mode)."""
    return hashlib.sha256(b"postmortem-bot private_metadata\0" + secret.encode()).digest()


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def _set_fields(model: Any) -> dict[str, Any]:
    """What pydantic's ``model_dump_json(exclude_none=True)`` writes of a model of plain fields, without
    pydantic's serializer: cold on every request, sealing a start's form took 50 us with it, 39 this way."""
    if isinstance(model, BaseModel):
        return {name: value for name, value in model.__dict__.items() if value is not None}
    raise TypeError(f"{type(model).__name__} is not JSON")


class Sealed(BaseModel):
    """Metadata that dumps as ``<mac>.<json>`` and loads only when the mac matches."""

    _key: bytes = PrivateAttr(default=b"")

    def keyed(self, key: bytes) -> Self:
        self._key = key
        return self

    def dump(self) -> str:
        if not self._key:
            raise RuntimeError(f"{type(self).__name__} has no key to seal it with")
        body = orjson.dumps(self, default=_set_fields).decode()
        return f"{_mac(self._key, body)}.{body}"

    @classmethod
    def load(cls, raw: str, key: bytes) -> Self:
        mac, _, body = (raw or "").partition(".")
        if not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
            raise Refused(TAMPERED, "private_metadata does not carry our seal")
        try:
            return cls.model_validate_json(body).keyed(key)
        except ValidationError:
            raise Refused(TAMPERED, "sealed private_metadata of another shape") from None
