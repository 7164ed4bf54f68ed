"""File helpers shared by the layers: atomic writes (a temporary file in the same folder, flushed to
disk, then renamed over the target), SHA-256 of files read in blocks, and the book repository's git state."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

PACKAGE_DIR = Path(__file__).resolve().parent  # lib/specae, whether installed or checked out
REPO_DIR = PACKAGE_DIR.parents[1]  # the book's repository when the package runs from a checkout
_BLOCK_BYTES = 1 << 20


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a temporary binary file, then replace ``path`` with it in one step.

    A reader sees either the old file or the complete new one, never a partial write.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)



def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    feed_file(digest, path)
    return digest.hexdigest()


def hash_files(names: Iterable[str], root: str | os.PathLike) -> str:
    """Hex SHA-256 over the names and bytes of files ``names`` (paths relative to ``root``), in the given order."""
    digest = hashlib.sha256()
    for name in names:
        path = Path(root) / name
        if not path.is_file():
            raise FileNotFoundError(f"cannot fingerprint the code: {path} is missing")
        digest.update(name.encode() + b"\0")
        feed_file(digest, path)
        digest.update(b"\0")
    return digest.hexdigest()


def feed_file(digest: hashlib._Hash, path: str | os.PathLike) -> None:
    """Update ``digest`` with the bytes of the file at ``path``, read in blocks."""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK_BYTES), b""):
            digest.update(block)


LIBRARY_PATHS = ("lib",)  # the library's code in the repository: what a figure's provenance commit must hold


def git_state(repo: Path = REPO_DIR, paths: tuple[str, ...] = ()) -> dict:
    """The commit checked out in ``repo`` and whether its tree (only ``paths`` in it, when given) has uncommitted
    changes (None outside git)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip(),
            "dirty": bool(git("status", "--porcelain", "--", *paths).stdout.strip())}
