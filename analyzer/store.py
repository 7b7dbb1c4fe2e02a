"""Durable files: atomic writes, and the one-writer lock of a case folder.

Evidence must survive a kill -9, a power cut or a full disk without a half-written file ever
taking the place of a good one. Every file msgtrace writes (a case's manifest and parts, the
verification record, the report and other ``-o`` outputs) goes through this module:

- ``atomic_write_bytes`` / ``atomic_write_text`` / ``atomic_output``: the content goes to a
  temporary file in the target's folder (``NAME.<random>.partial``), which is flushed and
  fsynced, then renamed over the target, and the folder is fsynced. A reader sees the old file
  or the new one, never a mix; when anything fails (no space left, ``ulimit -f``, an exception
  while producing the content) the temporary file is removed and the previous file is left
  exactly as it was.
- ``replace_durably``: the last two steps alone, for a file written under a temporary name by
  another writer (a Parquet part).
- ``CaseLock``: an exclusive ``flock`` on ``CASE/case.lock`` held by the one process writing a
  case. The holder's pid is in the file while it holds it (the file is emptied on release, so
  a finished case is byte-identical whoever wrote it). Readers never take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from analyzer.errors import CaseError

#: Every temporary file msgtrace writes ends with this (so leftovers are recognised).
PARTIAL_SUFFIX = ".partial"
LOCK_FILE = "case.lock"


class CaseBusyError(CaseError):
    """Another msgtrace process is writing the case (it holds the case lock)."""

    def __init__(self, folder: Path, pid: int | None):
        self.folder = folder
        self.pid = pid
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"case {folder} is being written by another msgtrace ({holder}); wait for it to "
            "finish and run this again, or pass --wait to wait for it."
        )


# ----------------------------------------------------------------------------- test hook


CRASH_ENVIRONMENT = "MSGTRACE_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here with SIGKILL when the test suite asks for it (never set outside tests).

    The crash tests set ``MSGTRACE_TEST_CRASH_AT`` to a moment of the commit protocol (e.g.
    ``part-committed:in-002``, ``manifest-written``) to kill a real ingest exactly there.
    """
    if os.environ.get(CRASH_ENVIRONMENT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# ----------------------------------------------------------------------------- atomic files


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (fsync of the folder itself)."""
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_file(path: Path) -> None:
    """Flush a closed file's content to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_durably(temporary: Path, target: Path) -> None:
    """Rename a complete, fsynced ``temporary`` over ``target`` and make the rename durable."""
    os.replace(temporary, target)
    fsync_folder(target.parent)


def temporary_name(target: Path) -> Path:
    """A fresh temporary path next to ``target``: ``NAME.<random>.partial``."""
    return target.with_name(f"{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write a file atomically: ``with atomic_output(p) as out: out.write(...)``.

    The content goes to a temporary file in the same folder; when the block ends without an
    exception it is fsynced and renamed over ``path`` (the folder is fsynced too). On any
    failure (an exception in the block, no space left, a file size limit) the temporary file
    is removed and an existing ``path`` is left untouched. The new file gets the permissions
    an ordinary ``open(path, "wb")`` would give it.

    Raises:
        OSError: the file cannot be written (the caller names it to the user).
    """
    target = Path(path)
    while True:
        temporary = temporary_name(target)
        try:
            # O_EXCL: never write into a file someone else made; 0o666 minus the umask
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        replace_durably(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (see ``atomic_output``).

    Raises:
        OSError: the file cannot be written; the previous file is untouched.
    """
    with atomic_output(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically (see ``atomic_output``).

    Raises:
        OSError: the file cannot be written; the previous file is untouched.
    """
    atomic_write_bytes(path, text.encode(encoding))


# ----------------------------------------------------------------------------- the case lock


def lock_holder(folder: Path) -> int | None:
    """The pid recorded in ``CASE/case.lock`` if that process is alive, else None.

    Readers use this (they never take the lock) to tell the files of an ingest running now
    from the leftovers of one that was killed.
    """
    try:
        text = (folder / LOCK_FILE).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by another user
        return pid
    except OSError:
        return None
    return pid


class CaseLock:
    """The exclusive lock of the one process that writes a case folder.

    ``with CaseLock(folder):`` takes ``flock(LOCK_EX)`` on ``folder/case.lock`` (created if
    needed) and writes this process's pid into it; leaving the block empties the file and
    releases the lock. The kernel releases the lock of a process that dies, so a killed
    ingest never leaves a case locked.

    Args:
        folder: the case folder (it must exist).
        wait: when another process holds the lock, wait for it (calling ``on_wait`` with its
            pid first) instead of raising ``CaseBusyError``.
        on_wait: told the holder's pid (None if unknown) before waiting.
    """

    def __init__(
        self,
        folder: Path,
        wait: bool = False,
        on_wait: Callable[[int | None], Any] | None = None,
    ):
        self.folder = folder
        self.path = folder / LOCK_FILE
        self.wait = wait
        self.on_wait = on_wait
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            CaseBusyError: another process holds it and ``wait`` is false.
        """
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                held = self._lock(descriptor)
                if held:
                    os.ftruncate(descriptor, 0)
                    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
            except BaseException:
                os.close(descriptor)
                raise
            if held:
                self._descriptor = descriptor
                return
            os.close(descriptor)
            # the holder removed the folder it had created (an ingest that loaded nothing)
            self.folder.mkdir(parents=True, exist_ok=True)

    def _lock(self, descriptor: int) -> bool:
        """Lock ``descriptor``; False when its file is no longer the lock file (retry)."""
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(descriptor)
            if not self.wait:
                raise CaseBusyError(self.folder, pid) from None
            if self.on_wait is not None:
                self.on_wait(pid)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        # a lock on a file that was removed meanwhile protects nothing
        try:
            return os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Empty the lock file and release the lock (nothing if not held)."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, 0)
        finally:
            os.close(descriptor)  # closing the last descriptor releases the flock

    def __enter__(self) -> CaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _pid_in(descriptor: int) -> int | None:
    text = os.pread(descriptor, 32, 0).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None
