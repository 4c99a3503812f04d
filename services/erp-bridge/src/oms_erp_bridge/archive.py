"""Zip archives from 1C (``zip=yes``): checked whole before a byte is unpacked, unpacked in a worker thread.

1C packs the exchange's files into one archive and sends it in pieces like any file. An archive is unpacked
once it is whole (its central directory reads), and only when every entry passes: at most ``max_entries``
entries, each a plain relative file name (no ``..``, no absolute path or drive, no link, not encrypted, not twice),
each at most ``max_entry_bytes`` and all together at most ``max_total_bytes`` unpacked, none compressed more
than ``max_ratio`` times (above ``ratio_floor_bytes``: small entries compress freely). ``zipfile`` itself stops
an entry that inflates past its declared size. Entries are written to a scratch directory first and moved into
the session's directory only when all of them were unpacked, so a broken archive leaves nothing behind.
"""

from __future__ import annotations

import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from oms_erp_bridge.protocol import ExchangeFailure, safe_name

ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_entry_bytes: int
    max_total_bytes: int
    max_ratio: int
    ratio_floor_bytes: int = 1024 * 1024


class Incomplete(Exception):
    """Not a whole zip archive yet: more pieces may come."""


def is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == ZIP_MAGIC
    except OSError:
        return False


def _checked(archive: zipfile.ZipFile, limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, str]]:
    """Every file entry with its safe name, or ``ExchangeFailure`` naming the first problem."""
    entries = [info for info in archive.infolist() if not info.is_dir()]
    if not entries:
        raise ExchangeFailure("the zip archive holds no files")
    if len(entries) > limits.max_entries:
        raise ExchangeFailure(f"the zip archive holds {len(entries)} files, more than {limits.max_entries}")
    out: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    total = 0
    for info in entries:
        name = safe_name(info.filename)  # ExchangeFailure for '..', absolute paths, drives
        if name in seen:
            raise ExchangeFailure(f"the zip archive holds {name} twice")
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ExchangeFailure(f"{name} in the zip archive is a link; only files are taken")
        if info.flag_bits & 0x1:
            raise ExchangeFailure(f"{name} in the zip archive is encrypted")
        if info.file_size > limits.max_entry_bytes:
            raise ExchangeFailure(f"{name} unpacks to {info.file_size} bytes, more than {limits.max_entry_bytes}")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ExchangeFailure(f"the zip archive unpacks to more than {limits.max_total_bytes} bytes")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ExchangeFailure(
                f"{name} is compressed {ratio:.0f} times, more than {limits.max_ratio}: refused as a zip bomb"
            )
        out.append((info, name))
    return out


def unpack(path: Path, directory: Path, limits: ZipLimits) -> list[tuple[str, int]]:
    """Unpack the archive at ``path`` into ``directory`` (blocking: call it in a worker thread); returns the
    (name, size) of each file. ``Incomplete`` when the archive is not whole yet, ``ExchangeFailure`` when it is
    refused (then nothing was written)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise Incomplete(str(exc)) from None
    scratch = directory / f".unpack-{uuid.uuid4().hex}"
    try:
        with archive:
            entries = _checked(archive, limits)
            done: list[tuple[str, int]] = []
            for info, name in entries:
                target = scratch / name
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with archive.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        if written > info.file_size:  # zipfile stops this too; never trust one guard alone
                            raise ExchangeFailure(f"{name} unpacks to more than it declares")
                        dst.write(chunk)
                done.append((name, written))
        for name, _ in done:
            final = directory / name
            final.parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).replace(final)
        return done
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ExchangeFailure(f"the zip archive cannot be unpacked: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
