"""Build folders on disk: a temporary folder per build, made live by an atomic
switch of CURRENT under a lock, and the cleanup of what earlier or dead builds
left behind. qa/index/store.py decides what goes in a build; this module where.

    index/CURRENT                  name of the live build folder
    index/build-<time>-<hash>/     a finished build
    index/.tmp-build-<pid>-<x>/    a build being written by process <pid>
    index/.lock                    held while a build is made live
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

from qa.errors import IndexFolderError

CURRENT = "CURRENT"
TMP_PREFIX = ".tmp-build-"  # + process id: a temporary build folder
POINTER_PREFIX = f".{CURRENT}."  # + process id: a new CURRENT before its atomic rename
LOCK = ".lock"


def check_folder(index_dir: Path) -> None:
    """The index folder, if it exists, is a folder (not a file someone pointed at)."""
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexFolderError(f"the index folder {index_dir} is a file, not a folder: point --index or QA_INDEX at a folder")


def start_build(index_dir: Path) -> Path:
    """A new temporary build folder inside the index folder."""
    check_folder(index_dir)
    pointer = index_dir / CURRENT
    if pointer.exists() and not pointer.is_file():
        raise IndexFolderError(f"{pointer} is not a file, so a new index cannot be made live: remove it, then run `qa index`")
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=index_dir))
    except OSError as exc:
        raise IndexFolderError(
            f"cannot write the index in {index_dir} ({exc.strerror}): make it writable, or point --index or QA_INDEX at another folder"
        ) from exc


def make_live(index_dir: Path, tmp: Path, files: dict[str, bytes]) -> Path:
    """Write the files into the temporary folder, rename it, then switch CURRENT to it."""
    name = f"build-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.urandom(3).hex()}"
    pointer_tmp = index_dir / f"{POINTER_PREFIX}{os.getpid()}-{os.urandom(3).hex()}.tmp"
    try:
        for file, data in files.items():
            with open(tmp / file, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        # One builder at a time renames, switches and cleans up, so a build
        # finishing at the same moment never removes this one's folder.
        with open(index_dir / LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            os.rename(tmp, index_dir / name)
            with open(pointer_tmp, "w", encoding="utf-8") as f:
                f.write(name + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(pointer_tmp, index_dir / CURRENT)  # the atomic switch
            _fsync(index_dir)
            _remove_old_builds(index_dir, keep=name)
    except OSError as exc:
        pointer_tmp.unlink(missing_ok=True)
        raise IndexFolderError(f"cannot write the index in {index_dir} ({exc.strerror}): free some space or make it writable") from exc
    return index_dir / name


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    """Earlier builds, and what builds that died left behind (a build still running keeps its own)."""
    for child in index_dir.iterdir():
        if child.name == keep:
            continue
        if child.is_dir() and (child.name.startswith("build-") or _dead(child.name, TMP_PREFIX)):
            shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and _dead(child.name, POINTER_PREFIX):
            child.unlink(missing_ok=True)


def _dead(name: str, prefix: str) -> bool:
    """A temporary name made by a process that is no longer running."""
    return name.startswith(prefix) and not _running(name[len(prefix) :])


def _running(name: str) -> bool:
    """Whether the process whose id starts `name` ("1234-...") is still alive."""
    pid = name.split("-")[0]
    if not pid.isdigit():
        return False  # an older name without a process id
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # alive, owned by someone else
    return True


