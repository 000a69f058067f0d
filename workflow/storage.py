"""Storing dossier documents: generated names, original names kept, SHA-256.

The content is checked, not only the extension: a PDF starts with ``%PDF-``,
DOCX/XLSX are ZIP containers with the matching Office part, DOC/XLS are OLE2
compound files.  A path in the file name is refused, never followed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
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


#: The longest file name kept, in characters (a longer one is refused, not cut: cutting drops its extension).
MAX_NAME = 255


def clean_name(name: str) -> str:
    """The file name a person gave, refused if it carries a path, a control character or a format
    character (Unicode Cf: the bidi overrides that show "báo-cáo‮fdp.exe" as "báo-cáoexe.pdf", zero-width
    joiners and spaces…), or if it is longer than MAX_NAME characters."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if (not name or "/" in name or "\\" in name or name in (".", "..")
            or any(ord(ch) < 32 or ord(ch) == 127 or unicodedata.category(ch) in ("Cf", "Cs", "Co", "Cn")
                   for ch in name)):
        shown = name.encode("unicode_escape").decode("ascii")[:300]
        raise DocumentRefused(f"Tên tệp không hợp lệ (có ký tự điều khiển, ký tự định dạng ẩn hoặc đường dẫn): {shown}.",
                              f"Invalid file name (a control or hidden format character, or a path): {shown}.")
    if len(name) > MAX_NAME:
        raise DocumentRefused(
            f"Tên tệp quá dài ({len(name)} ký tự; tối đa {MAX_NAME}). Vui lòng đặt tên ngắn hơn rồi gửi lại.",
            f"The file name is too long ({len(name)} characters; at most {MAX_NAME}). Please shorten it.")
    return name


#: Bounds on what a ZIP container (DOCX, XLSX) may unpack to, checked on its directory before any
#: part is read: a 400 KB file can declare 400 MB of XML (Python's zipfile never inflates a part
#: past its declared size, so the declared sizes bound the work).
MAX_UNPACKED_DOCUMENT = 512 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000


class ZipTooLarge(DocumentRefused):
    """A ZIP container that would unpack beyond the bounds."""


def check_zip_bounds(archive: zipfile.ZipFile, max_unpacked: int, max_members: int = MAX_ZIP_MEMBERS) -> None:
    """ZipTooLarge (with its message in both languages) when ``archive`` holds too many parts or declares
    more than ``max_unpacked`` bytes once unpacked."""
    members = archive.infolist()
    unpacked = sum(m.file_size for m in members)
    if len(members) > max_members or unpacked > max_unpacked:
        mb = max_unpacked // (1024 * 1024)
        raise ZipTooLarge(
            f"Tệp nén chứa quá nhiều dữ liệu khi giải nén ({unpacked / 1024 / 1024:,.0f} MB, {len(members)} phần; "
            f"tối đa {mb} MB): có thể là tệp hỏng hoặc “bom nén”. Vui lòng mở tệp và lưu lại, hoặc gửi tệp nhỏ hơn.",
            f"The compressed file unpacks to too much ({unpacked / 1024 / 1024:,.0f} MB in {len(members)} parts; "
            f"at most {mb} MB): a damaged file or a zip bomb. Please save it again, or send a smaller file.")


def _content_matches(ext: str, data: bytes) -> bool:
    if ext == ".pdf":
        return data.startswith(b"%PDF-")
    if ext in (".doc", ".xls"):
        return data.startswith(_OLE2)
    if ext in (".docx", ".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            return False
        check_zip_bounds(archive, MAX_UNPACKED_DOCUMENT)
        names = archive.namelist()
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


#: The names this module writes: ``<32 hex><ext>`` and, while writing, ``.<32 hex><ext>.part``.
_STORED_RE = re.compile(r"^[0-9a-f]{32}\.(?:pdf|docx?|xlsx?)$")
_PARTIAL_RE = re.compile(r"^\.[0-9a-f]{32}\.(?:pdf|docx?|xlsx?)\.part$")


@dataclass(frozen=True)
class Orphans:
    #: Half-written files (the upload was killed while writing).
    partial: list[Path]
    #: Stored files no dossier refers to (written, then the request died before its commit).
    unreferenced: list[Path]

    @property
    def count(self) -> int:
        return len(self.partial) + len(self.unreferenced)

    @property
    def size(self) -> int:
        total = 0
        for path in [*self.partial, *self.unreferenced]:
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total


def find_orphans(folder: str | Path, referenced: set[str], *, older_than: float) -> Orphans:
    """Files of this module's naming in ``folder`` last modified before ``older_than`` (epoch seconds)
    that are half-written or that no dossier refers to.  Younger ones are left: an upload being
    recorded right now has written its files and not yet committed its rows.  Nothing else in the
    folder is ever touched."""
    partial: list[Path] = []
    unreferenced: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return Orphans([], [])
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime >= older_than:
                continue
        except OSError:
            continue
        if _PARTIAL_RE.match(entry.name):
            partial.append(Path(entry.path))
        elif _STORED_RE.match(entry.name) and entry.name not in referenced:
            unreferenced.append(Path(entry.path))
    return Orphans(sorted(partial), sorted(unreferenced))
