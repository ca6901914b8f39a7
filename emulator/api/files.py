"""Photos and documents: uploads, earlier file_ids and URLs, getFile."""

from __future__ import annotations

import io
from typing import Any

from emulator.api.base import CAPTION_LIMIT, ApiBase, Params, Upload, bad_request
from emulator.world import StoredFile


class FileMethods(ApiBase):
    """sendPhoto, sendDocument, getFile, and the files they keep."""

    def stored_file(self, value: Any, *, photo: bool) -> StoredFile:
        """A file from an upload, an earlier file_id, or a URL (kept, not fetched)."""
        if isinstance(value, Upload):
            return self.new_file(value.data, value.filename, value.content_type, photo=photo)
        if isinstance(value, str) and value in self.world.files:
            return self.world.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            stored = StoredFile(self.world.new_id("URL"), self.world.new_id(), None, url=value)
            self.world.files[stored.file_id] = stored
            return stored
        raise bad_request("wrong file identifier/HTTP URL specified")

    def new_file(
        self, data: bytes, name: str | None, mime: str | None, *, photo: bool
    ) -> StoredFile:
        if not data:
            raise bad_request("file must be non-empty")
        width = height = 0
        if photo:
            width, height = image_size(data)
        stored = StoredFile(
            file_id=self.world.new_id("AgAD" if photo else "BQAD"),
            file_unique_id=self.world.new_id(),
            data=data,
            file_name=None if photo else name,
            mime_type=None if photo else (mime or "application/octet-stream"),
            width=width,
            height=height,
        )
        self.world.files[stored.file_id] = stored
        return stored

    async def api_sendphoto(self, params: Params) -> dict[str, Any]:
        return self.sends_file(params, "photo")

    async def api_senddocument(self, params: Params) -> dict[str, Any]:
        return self.sends_file(params, "document")

    def sends_file(self, params: Params, kind: str) -> dict[str, Any]:
        """sendPhoto / sendDocument: the file (`kind` is its parameter) with its caption."""
        chat = self.chat(params)
        stored = self.stored_file(params.require(kind), photo=kind == "photo")
        caption, entities = self.formatted(params, "caption", CAPTION_LIMIT, required=False)
        return self.bot_sends(
            chat,
            params,
            caption=caption,
            caption_entities=entities,
            reply_markup=self.markup(params),
            **{kind: stored},
        )

    async def api_getfile(self, params: Params) -> dict[str, Any]:
        stored = self.world.files.get(str(params.require("file_id")))
        if stored is None or stored.data is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": f"files/{stored.file_id}",
        }


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image, refusing bytes that are not one (like Telegram)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # Pillow comes with matplotlib; without it we cannot check
        return 0, 0
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
