"""Socket Mode, Slack's side: the app connects, Slack greets it, envelopes go out, acks come back.

``apps.connections.open`` hands the app a one-off ticket for a ``ws://`` URL on the
stand-in's server; each connection is greeted with Slack's ``hello`` and then carries the
envelopes a test pushes and the acks the app sends back, kept so a test can read them.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web

from bot.slackdev.wire import JSON

_ACCEPTS_RESPONSE_PAYLOAD = {"slash_commands": True, "interactive": True, "events_api": False}
"""Whether Slack lets the app answer an envelope of this type with a payload in its ack."""


@dataclass
class Connection:
    """One Socket Mode WebSocket connection the app opened."""

    id: str
    ticket: str
    ws: web.WebSocketResponse
    ready: bool = False
    closed: bool = False


@dataclass
class _Envelope:
    """An envelope delivered over Socket Mode, and the app's ack once it came."""

    message: JSON
    connection: str
    ack: JSON | None = None


class SocketModeServer:
    """The app's connections and the envelopes sent over them; the stand-in routes
    ``/socket/{ticket}`` to ``handle`` and closes the connections when it shuts down."""

    def __init__(self, *, app_id: str, ids: Iterator[int]) -> None:
        self._app_id = app_id
        self._ids = ids
        self._tickets: set[str] = set()
        self._connections: dict[str, Connection] = {}
        self._envelopes: dict[str, _Envelope] = {}

    def new_ticket(self) -> str:
        """The one-off ticket apps.connections.open puts in the URL it hands out."""
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return ticket

    def live(self, connection: str | None) -> Connection | None:
        """The open connection named ``connection``, or the newest open one."""
        if connection is not None:
            socket = self._connections.get(connection)
            return socket if socket is not None and socket.ready and not socket.closed else None
        live = [s for s in self._connections.values() if s.ready and not s.closed]
        return live[-1] if live else None

    async def send(
        self,
        socket: Connection,
        envelope_type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool | None,
        retry_attempt: int,
        retry_reason: str,
    ) -> str:
        """Wrap ``payload`` in an envelope as Slack does and send it; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = _ACCEPTS_RESPONSE_PAYLOAD.get(envelope_type, False)
        message: JSON = {"envelope_id": envelope_id, "type": envelope_type, "payload": copy.deepcopy(payload)}
        message["accepts_response_payload"] = accepts_response_payload
        if envelope_type == "events_api":
            message.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self._envelopes[envelope_id] = _Envelope(message, socket.id)
        await socket.ws.send_json(message)
        return envelope_id

    async def disconnect(self, reason: str, connection: str | None) -> str:
        """Send Slack's ``disconnect`` message; returns the connection's id."""
        socket = self.live(connection)
        if socket is None:
            raise LookupError("no open Socket Mode connection")
        await socket.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}})
        return socket.id

    def ack(self, envelope_id: str) -> JSON | None:
        ack = self._envelopes[envelope_id].ack
        return copy.deepcopy(ack) if ack is not None else None

    def envelope(self, envelope_id: str) -> JSON:
        return copy.deepcopy(self._envelopes[envelope_id].message)

    def connections(self, *, include_closed: bool) -> list[str]:
        return [s.id for s in self._connections.values() if s.ready and (include_closed or not s.closed)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One connection, from Slack's ``hello`` until the app or the stand-in closes it."""
        if request.match_info["ticket"] not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = Connection(f"WS{next(self._ids):08d}", request.match_info["ticket"], ws)
        self._connections[socket.id] = socket
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len([s for s in self._connections.values() if not s.closed]),
                    "debug_info": {"host": "standin", "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self._app_id},
                }
            )
            socket.ready = True
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._receive_ack(frame.data)
        finally:
            socket.closed = True
        return ws

    def _receive_ack(self, data: str) -> None:
        """Record the first ack of a known envelope; Slack ignores anything else."""
        try:
            message = json.loads(data)
        except ValueError:
            return
        envelope = self._envelopes.get(message.get("envelope_id")) if isinstance(message, dict) else None
        if envelope is not None and envelope.ack is None:
            envelope.ack = message

    async def close(self) -> None:
        """Close the open connections: an open WebSocket would hold up the server's shutdown."""
        for socket in list(self._connections.values()):
            if not socket.closed:
                await socket.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
