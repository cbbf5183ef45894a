"""Reading chart archives (`.tgz`) that a pull request author controls.

Nothing is extracted to disk here: members are read into memory after checks, so a hostile
archive cannot write outside the chart (no `..`, no absolute paths, no links, no devices) or
exhaust memory. The whole stream is decompressed first under a byte bound, so the bound covers
tar headers too: a GNU long-name or PAX header may claim hundreds of megabytes, and `tarfile`
reads such a header whole before it yields the member.
"""

from __future__ import annotations

import io
import tarfile
import zlib

from ..core.errors import ArchiveError, brief
from .sources import clean_path

MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 20_000


def read_chart_archive(
    data: bytes,
    *,
    label: str,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_entries: int = MAX_ARCHIVE_ENTRIES,
) -> tuple[str, dict[str, bytes]]:
    """The archive's top-level directory and its files, keyed by path below that directory.

    Helm archives hold one directory named after the chart; like Helm, the first path
    component is dropped.
    """
    files: dict[str, bytes] = {}
    top_dirs: set[str] = set()
    total = 0
    tar = _decompressed(data, label=label, max_bytes=max_bytes)
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            for count, member in enumerate(archive, start=1):
                if count > max_entries:
                    raise ArchiveError(f"{label} has more than {max_entries} entries")
                path = clean_path(member.name)
                if path is None:
                    raise ArchiveError(f"{label} entry '{member.name}' escapes the archive")
                if member.issym() or member.islnk():
                    raise ArchiveError(f"{label} entry '{member.name}' is a link")
                if member.isdir() or not path:
                    continue
                if not member.isfile():
                    raise ArchiveError(f"{label} entry '{member.name}' is not a regular file")
                total += member.size
                if total > max_bytes:
                    raise ArchiveError(f"{label} expands to more than {max_bytes // (1024 * 1024)} MB")
                top, _, rest = path.partition("/")
                if not rest:
                    continue  # Helm ignores files beside the chart directory
                top_dirs.add(top)
                stream = archive.extractfile(member)
                if stream is None:
                    raise ArchiveError(f"{label} entry '{member.name}' cannot be read")
                files[rest] = stream.read(member.size + 1)[: member.size]
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise ArchiveError(f"{label} is not a readable chart archive ({brief(exc, 120)})") from exc
    if not files:
        raise ArchiveError(f"{label} holds no chart")
    if len(top_dirs) != 1:
        raise ArchiveError(f"{label} holds {len(top_dirs)} top-level directories, not one chart")
    return top_dirs.pop(), files


_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1024 * 1024


def _decompressed(data: bytes, *, label: str, max_bytes: int) -> bytes:
    """The tar stream inside a gzip file (or a plain tar), refused past `max_bytes`."""
    if not data.startswith(_GZIP_MAGIC):
        if len(data) > max_bytes:
            raise ArchiveError(f"{label} is larger than {max_bytes // (1024 * 1024)} MB")
        return data
    out = bytearray()
    pending = data
    try:
        while pending.startswith(_GZIP_MAGIC):  # a gzip file may hold several members
            stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
            tail = pending
            while not stream.eof:
                chunk = stream.decompress(tail, _CHUNK)
                out += chunk
                if len(out) > max_bytes:
                    raise ArchiveError(f"{label} expands to more than {max_bytes // (1024 * 1024)} MB")
                tail = stream.unconsumed_tail
                if not chunk and not tail:
                    break
            if not stream.eof:
                raise ArchiveError(f"{label} is a truncated gzip file")
            pending = stream.unused_data
    except zlib.error as exc:
        raise ArchiveError(f"{label} is not a readable chart archive ({brief(exc, 120)})") from exc
    return bytes(out)
