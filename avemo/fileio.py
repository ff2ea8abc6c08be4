"""Writing files so that a crash or Ctrl-C never leaves a half-written one under the final name.

Every writer of the project goes through here: the content is written to a temporary file
beside the target, flushed and fsynced, renamed over the target, and the folder fsynced, so
the target holds either its old or its new content, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Iterator


def fsync_path(path: str | Path) -> None:
    """fsync a file or a folder (a folder: so that a rename inside it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: What every temporary file name holds (``NAME.tmp-PID-RANDOM.EXT``).
TEMP_MARK = ".tmp-"


def temp_path(path: str | Path) -> Path:
    """A new temporary name for ``path``, beside it: ``NAME.tmp-PID-RANDOM.EXT``, unique per
    call, so that two processes writing the same target never write the same file (libraries
    that choose the format by extension, such as Keras, still see the right one)."""
    path = Path(path)
    return path.with_name(f"{path.stem}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def publish(tmp: str | Path, path: str | Path) -> Path:
    """Make the finished file ``tmp`` durable and give it its final name ``path``."""
    tmp, path = Path(tmp), Path(path)
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; on success publish it under
    ``path``, on an exception remove it (``path`` keeps its old content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish(tmp, path)


def atomic_write(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, with the newlines given) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, str):
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(content)
        else:
            tmp.write_bytes(content)
    return Path(path)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex), read in chunks: a clip's source identity, a shard's
    checksum."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
