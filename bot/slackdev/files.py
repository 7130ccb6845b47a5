"""The stand-in's files and user groups: Slack's external upload flow and ``usergroups.list``.

The flow is Slack's three steps. ``files.getUploadURLExternal`` (``filename``, ``length`` in
bytes, at most 1 GB, an ``alt_txt`` of at most 1000 characters) returns a ``file_id`` and an
``upload_url`` on this server; the app POSTs the bytes there (raw or as a multipart ``file``
field), answered ``200 OK - <bytes>``, 404 for a URL that was never handed out or was used,
and 413 for more bytes than ``length`` announced. ``files.completeUploadExternal`` (``files``:
a JSON list of ``{"id", "title"}``; ``channel_id`` or ``channels``; ``initial_comment``)
shares the files into the channel as one message carrying them, once: an id never handed out,
not uploaded yet, or already completed is ``file_not_found``, a conversation that is no
channel id ``channel_not_found``, ``invalid_channel`` for a channel this workspace does not
have (``missing_channels``).
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.slackdev.wire import JSON, ApiError, invalid_arguments

MAX_FILE_BYTES = 1_000_000_000
MAX_ALT_TEXT = 1000


@dataclass
class _File:
    id: str
    name: str
    length: int
    alt_txt: str
    data: bytes | None = None
    title: str = ""
    shared_in: str | None = None


class Files:
    """A part of ``SlackStandin``; it posts a completed upload through the stand-in's messages."""

    url: str
    team_id: str
    team_domain: str
    bot_user_id: str
    missing_channels: set[str]
    _post_file_message: Callable[[str, JSON], JSON]

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._upload_urls: dict[str, str] = {}
        self._file_ids = itertools.count(1)
        self._groups: list[JSON] = []
        self.missing_channels = set()

    def files_methods(self) -> dict[str, Callable[[JSON], JSON]]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "usergroups.list": self._usergroups_list,
        }

    # ---- test-side accessors ----------------------------------------------

    def uploaded(self, file_id: str) -> bytes | None:
        """The bytes uploaded for ``file_id`` (None before the upload)."""
        return self._files[file_id].data

    def shared_files(self, channel: str) -> list[JSON]:
        """The files shared into ``channel``, oldest first, as Slack lists them, with their bytes under ``data``."""
        return [{**self._file_object(f), "data": f.data} for f in self._files.values() if f.shared_in == channel]

    def add_usergroup(self, handle: str, users: list[str]) -> JSON:
        group = {
            "id": f"S{next(self._file_ids):08d}",
            "team_id": self.team_id,
            "handle": handle,
            "name": handle.replace("-", " ").title(),
            "is_usergroup": True,
            "date_delete": 0,
            "users": list(users),
            "user_count": len(users),
        }
        self._groups.append(group)
        return copy.deepcopy(group)

    # ---- the methods ----------------------------------------------------------

    def _get_upload_url(self, params: JSON) -> JSON:
        filename = str(params.get("filename") or "")
        raw_length = params.get("length")
        if not filename or raw_length in (None, ""):
            missing = "filename" if not filename else "length"
            raise invalid_arguments([f"[ERROR] missing required field: {missing}"])
        try:
            length = int(raw_length)  # type: ignore[arg-type]
        except ValueError:
            raise invalid_arguments(["[ERROR] length must be an integer"]) from None
        if length <= 0:
            raise ApiError("missing_argument")
        if length > MAX_FILE_BYTES:
            raise ApiError("file_upload_size_restricted")
        alt = str(params.get("alt_txt") or "")
        if len(alt) > MAX_ALT_TEXT:
            raise ApiError("alt_txt_too_large")
        file_id = f"F{next(self._file_ids):010d}"
        token = secrets.token_urlsafe(12)
        self._files[file_id] = _File(file_id, filename, length, alt)
        self._upload_urls[token] = file_id
        return {"upload_url": f"{self.url}/upload/v1/{token}", "file_id": file_id}

    async def handle_upload(self, request: web.Request) -> web.Response:
        """Step 2: the bytes, once per upload URL."""
        file_id = self._upload_urls.pop(request.match_info["token"], None)
        if file_id is None:
            return web.Response(status=404, text="Not Found")
        record = self._files[file_id]
        if request.content_type == "multipart/form-data":
            form = await request.post()
            field = form.get("file")
            data = field.file.read() if hasattr(field, "file") else str(field or "").encode()
        else:
            data = await request.read()
        if len(data) > record.length:
            self._upload_urls[request.match_info["token"]] = file_id
            return web.Response(status=413, text="Request Entity Too Large")
        record.data = data
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, params: JSON) -> JSON:
        try:
            wanted = json.loads(params["files"]) if isinstance(params.get("files"), str) else params.get("files")
        except ValueError:
            raise ApiError("invalid_json") from None
        if not wanted or not isinstance(wanted, list) or not all(isinstance(f, dict) and f.get("id") for f in wanted):
            raise invalid_arguments(["[ERROR] missing required field: files"])
        records = [r for f in wanted if (r := self._files.get(str(f["id"]))) and r.data is not None and not r.shared_in]
        if len(records) != len(wanted):
            raise ApiError("file_not_found")
        channel = str(params.get("channel_id") or params.get("channels") or "").split(",")[0]
        if channel:
            if channel[0] not in "CGD":
                raise ApiError("channel_not_found")
            if channel in self.missing_channels:
                raise ApiError("invalid_channel")
        shared = []
        for record, asked in zip(records, wanted, strict=True):
            record.title = str(asked.get("title") or record.name)
            record.shared_in = channel or "private"
            shared.append(self._file_object(record))
        if channel:
            message = {"text": str(params.get("initial_comment") or ""), "files": shared, "upload": True}
            self._post_file_message(channel, message)
        return {"files": shared}

    def _file_object(self, record: _File) -> JSON:
        return {
            "id": record.id,
            "name": record.name,
            "title": record.title,
            "mimetype": "image/png" if record.name.endswith(".png") else "application/octet-stream",
            "size": len(record.data or b""),
            "user": self.bot_user_id,
            "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{record.id}/{record.name}",
        }

    def _usergroups_list(self, params: JSON) -> JSON:
        include_users = params.get("include_users") in (True, 1, "1", "true", "True")
        groups = copy.deepcopy(self._groups)
        if not include_users:
            for group in groups:
                group.pop("users", None)
        return {"usergroups": groups}
