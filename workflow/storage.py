"""Storing dossier documents: generated names, original names kept, SHA-256.

The content is checked, not only the extension: a PDF starts with ``%PDF-``,
DOCX/XLSX are ZIP containers with the matching Office part, DOC/XLS are OLE2
compound files.  A path in the file name is refused, never followed.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

ALLOWED = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


class DocumentRefused(Exception):
    """A file that is not stored; messages in both languages."""

    def __init__(self, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en


@dataclass(frozen=True)
class StoredDocument:
    original_name: str
    stored_name: str
    sha256: str
    size: int
    content_type: str


def clean_name(name: str) -> str:
    """The file name a person gave, refused if it carries a path."""
    name = (name or "").strip()
    if (not name or "/" in name or "\\" in name or name in (".", "..")
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)):
        raise DocumentRefused(f"Tên tệp không hợp lệ: {name!r}.", f"Invalid file name: {name!r}.")
    return name[:255]


def _content_matches(ext: str, data: bytes) -> bool:
    if ext == ".pdf":
        return data.startswith(b"%PDF-")
    if ext in (".doc", ".xls"):
        return data.startswith(_OLE2)
    if ext in (".docx", ".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return False
        part = "word/" if ext == ".docx" else "xl/"
        return "[Content_Types].xml" in names and any(n.startswith(part) for n in names)
    return False


def check_document(name: str, data: bytes) -> tuple[str, str]:
    """Validate a document; returns (clean name, content type)."""
    name = clean_name(name)
    ext = os.path.splitext(name)[1].lower()
    if ext not in ALLOWED:
        raise DocumentRefused(
            f"Tệp “{name}” không đúng định dạng: chỉ nhận DOC, DOCX, XLS, XLSX, PDF.",
            f"“{name}” has a type that is not accepted: DOC, DOCX, XLS, XLSX, PDF only.")
    if not data:
        raise DocumentRefused(f"Tệp “{name}” rỗng.", f"“{name}” is empty.")
    if not _content_matches(ext, data):
        raise DocumentRefused(
            f"Nội dung tệp “{name}” không phải là tệp {ext[1:].upper()} thật.",
            f"The content of “{name}” is not a real {ext[1:].upper()} file.")
    return name, ALLOWED[ext]


def store_document(folder: str | Path, name: str, data: bytes) -> StoredDocument:
    """Check and write a document under a generated name; nothing is left on failure."""
    name, content_type = check_document(name, data)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}{os.path.splitext(name)[1].lower()}"
    target = folder / stored
    partial = folder / f".{stored}.part"
    try:
        with open(partial, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DocumentRefused(
            "Không lưu được tệp: máy chủ hết dung lượng lưu trữ hoặc lỗi ghi đĩa. Vui lòng thử lại sau.",
            f"The file could not be stored ({exc.strerror or exc}). Please try again later.") from exc
    return StoredDocument(name, stored, hashlib.sha256(data).hexdigest(), len(data), content_type)


def remove_stored(folder: str | Path, stored_names: list[str]) -> None:
    """Remove files written for a dossier whose recording failed."""
    for stored in stored_names:
        try:
            (Path(folder) / stored).unlink(missing_ok=True)
        except OSError:
            pass
