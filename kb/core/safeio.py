"""The one way kb opens files: regular files only, reads with a size cap, content hashed by streaming, files kb
creates never followed through a symlink.

Why: anything on disk may be something other than a file. A FIFO blocks `open()` forever, `/dev/zero` never ends,
a socket cannot be opened, a symlink planted where kb writes (`index/.lock`, a build file) would redirect the write
to its target. So every read here

* stats the path first and refuses anything that is not a regular file *before opening it* (opening a device can
  have side effects), then opens it with O_NONBLOCK (a FIFO swapped in after the stat cannot block the open) and
  checks the opened file again with fstat (what was checked is what is read);
* reads at most `max_bytes` (FileTooLarge beyond), so a file that grows while it is read cannot exhaust memory;

and every write opens with O_NOFOLLOW (and O_CREAT|O_EXCL for a new file), so a symlink is refused, never followed.
Refusals are OSErrors (NotRegularFile, FileTooLarge) with a one-line `strerror`, so code that already handles
OSError reports them in its usual one line.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import math
import os
import stat
from pathlib import Path

CHUNK = 1 << 20
# A file above the cap of `fingerprint` is identified without reading it all: sha256 of a marker, its size, its
# mtime (ns) and its first OVERSIZE_PREFIX bytes. Such a file is never indexed (it is too large to be a post), so
# all kb needs is to notice when it changes; size + mtime + prefix does that at the cost of one 1 MB read.
OVERSIZE_PREFIX = 1 << 20


class NotRegularFile(OSError):
    """The path is a FIFO, socket, device, folder or (where links are refused) a symbolic link."""

    def __init__(self, path, kind: str):
        super().__init__(errno.EINVAL, f"{kind}, not a regular file", str(path))
        self.kind = kind


class FileTooLarge(OSError):
    """The file holds more than the reader's cap."""

    def __init__(self, path, size: int, limit: int):
        super().__init__(errno.EFBIG, f"too large: {size} bytes, more than {limit}", str(path))
        self.size = size
        self.limit = limit


def kind_of(mode: int) -> str:
    """'a FIFO', 'a socket', 'a character device', … for a stat mode."""
    for test, name in ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a file"


def check_regular(path, st: os.stat_result) -> None:
    """NotRegularFile unless the stat result is a regular file's."""
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, kind_of(st.st_mode))


def open_regular(path, *, follow: bool = True) -> int:
    """A read-only fd for a regular file (symlinks followed unless follow=False). Never blocks, never opens a device:
    NotRegularFile for anything else. The caller closes the fd."""
    st = os.stat(path) if follow else os.lstat(path)
    check_regular(path, st)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENXIO):      # swapped for a symlink or a socket after the stat
            raise NotRegularFile(path, "a symbolic link" if err.errno == errno.ELOOP else "a socket") from None
        raise
    try:
        check_regular(path, os.fstat(fd))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(path, *, follow: bool = True) -> io.BufferedReader:
    """open_regular as a binary file object."""
    return os.fdopen(open_regular(path, follow=follow), "rb")


def read_bytes(path, max_bytes: int, *, follow: bool = True) -> bytes:
    """The whole file, if it is a regular file of at most max_bytes (FileTooLarge, NotRegularFile otherwise)."""
    with open_file(path, follow=follow) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise FileTooLarge(path, size, max_bytes)
        data = f.read(max_bytes + 1)                    # st_size is 0 for some files (/proc): trust what is read
    if len(data) > max_bytes:
        raise FileTooLarge(path, len(data), max_bytes)
    return data


def read_text(path, max_bytes: int, *, encoding: str = "utf-8", follow: bool = True) -> str:
    return read_bytes(path, max_bytes, follow=follow).decode(encoding)


def read_json(path, max_bytes: int):
    """A JSON document from a regular file of at most max_bytes."""
    import json

    return json.loads(read_bytes(path, max_bytes))


def sha256_file(path, *, follow: bool = True) -> str:
    """sha256 of a regular file's content, read in 1 MB chunks (memory stays flat whatever the size)."""
    h = hashlib.sha256()
    with open_file(path, follow=follow) as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(path, max_bytes: int) -> str:
    """The content hash of a file kb may index: sha256 of its bytes when it holds at most max_bytes (the same hash
    as hashlib.sha256(data)), else an 'oversize:' fingerprint of size, mtime and the first OVERSIZE_PREFIX bytes —
    a 40 GB file is never read whole just to learn that it changed."""
    with open_file(path) as f:
        st = os.fstat(f.fileno())
        h = hashlib.sha256()
        if st.st_size > max_bytes:
            h.update(f"kb-oversize\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
            h.update(f.read(OVERSIZE_PREFIX))
            return "oversize:" + h.hexdigest()
        read = 0
        for chunk in iter(lambda: f.read(CHUNK), b""):
            read += len(chunk)
            if read > max_bytes:                        # grew while we read: treat as oversize
                return "oversize:" + hashlib.sha256(f"kb-oversize\0{read}\0{st.st_mtime_ns}".encode()).hexdigest()
            h.update(chunk)
    return h.hexdigest()


def npy_layout(f, path) -> tuple[tuple[int, ...], bool, object, int]:
    """(shape, fortran order, dtype, data offset) of an open .npy file, checked: no Python objects, and the header's
    shape must match the file's size exactly, so a forged header cannot make numpy allocate more than the file holds
    (nor a memory map or a pread reach past it)."""
    import numpy as np

    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise ValueError("a .npy file holding Python objects is refused")
    offset = f.tell()
    if math.prod(shape) * dtype.itemsize != os.fstat(f.fileno()).st_size - offset:
        raise ValueError(f"{Path(path).name}: the array header does not match the file size")
    return shape, fortran, dtype, offset


def load_npy(path, *, mmap: bool = False):
    """A .npy array from a regular file (no pickles, the header checked by npy_layout). mmap=True maps it
    read-only."""
    import numpy as np

    f = open_file(path)
    try:
        shape, fortran, dtype, offset = npy_layout(f, path)
        count = math.prod(shape)
        order = "F" if fortran else "C"
        if mmap and count:
            return np.memmap(f, dtype=dtype, mode="r", shape=shape, order=order, offset=offset)
        data = np.fromfile(f, dtype=dtype, count=count)
        if len(data) != count:
            raise ValueError(f"{Path(path).name}: truncated")
        return data.reshape(shape, order=order)
    finally:
        f.close()                                       # a memmap keeps its own mapping


# ---- writing ---------------------------------------------------------------------------------------------------

def create_new(path, mode: int = 0o644) -> io.BufferedWriter:
    """A new file opened for writing; refuses to follow or replace anything already there (O_CREAT|O_EXCL|
    O_NOFOLLOW: a planted symlink, dangling or not, is an error, its target untouched)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    return os.fdopen(fd, "wb")


def open_lock_file(path, mode: int = 0o644) -> int:
    """A read-write fd for a lock file, created if missing. Refuses a symbolic link (dangling or not), a FIFO, a
    socket, a device, or a file with other names (a hard link): NotRegularFile, and nothing is written anywhere."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        check_regular(path, st)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENXIO):
            raise NotRegularFile(path, "a symbolic link" if err.errno == errno.ELOOP else "a socket") from None
        raise
    try:
        st = os.fstat(fd)
        check_regular(path, st)
        if st.st_nlink > 1:
            raise NotRegularFile(path, "a file with other names (hard links)")
    except BaseException:
        os.close(fd)
        raise
    return fd
