"""The index folder on disk: versioned builds, a manifest that checksums every file, atomic swaps and a lock.

The folder's layout, file by file: kb/storage/FORMAT.md.

A rebuild writes a whole new version folder aside, fsyncs it, then swaps CURRENT: readers see the old build or
the new one, never a mix and never nothing. A crash at any moment leaves CURRENT pointing at the last good build;
the next rebuild removes what the crash left (tests/test_index_faults.py kills a rebuild at each step). Segment
files are never changed once written, so a rebuild that keeps a segment hard-links its files into the new version
and copies their checksums from the previous manifest instead of hashing them again.

Opening checks that the build holds exactly the listed files with the listed sizes. A build of up to
VERIFY_ALL_BYTES is checksummed in full at every open; in a larger one, files up to VERIFY_FILE_BYTES are
checksummed and the large memory-mapped payloads (vectors, IVF codes, postings, sections rows) are checked by size,
as hashing them would cost more than the whole rest of a search process (0.5–3 s at 100k sections on this machine);
`python -m kb.index --verify` checksums every file of the live build.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

from kb.core import safeio
from kb.core.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing, IndexWriteError
from kb.core.types import Manifest

SCHEMA_VERSION = 2          # 2: segments, memory-mapped tables, keyword postings with term frequencies
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest_sha256"
CURRENT = "CURRENT"
REBUILD = "python -m kb.index"
MAX_POINTER_BYTES = 4096
MAX_MANIFEST_BYTES = 256 * 1024 * 1024     # ~1M posts' hashes; a manifest beyond this is not kb's
MAX_JSON_BYTES = 256 * 1024 * 1024      # content.json (post-file stats); its exact size is checked against the manifest
VERIFY_ALL_BYTES = 64 << 20
VERIFY_FILE_BYTES = 8 << 20


def file_sha256(path: Path) -> str:
    """sha256 of a regular file, streamed (kb.core.safeio: a FIFO or device raises NotRegularFile, never blocks)."""
    return safeio.sha256_file(path)


def unreadable(path: Path, err: OSError) -> IndexCorrupt:
    """The one line for an index file that cannot be read: what it is (a FIFO, a device, too large) and the fix."""
    return IndexCorrupt(f"the index file {path} is unreadable ({err.strerror or err}); "
                        f"rebuild with: {REBUILD} --full")


def checksum_tree(folder: Path, known: dict[str, dict] | None = None) -> dict[str, dict]:
    """{relative path: {sha256, bytes}} for every file under folder except the manifest. Files in `known` (hard
    links to files a previous manifest lists) keep their recorded checksum when their size agrees."""
    known = known or {}
    out: dict[str, dict] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rel = p.relative_to(folder).as_posix()
            size = p.stat().st_size
            meta = known.get(rel)
            out[rel] = dict(meta) if meta and meta.get("bytes") == size else {"sha256": file_sha256(p), "bytes": size}
    return out


def link_tree(src: Path, dst: Path) -> list[str]:
    """Hard-link every file of folder `src` into the new folder `dst` (copy where links are impossible); returns
    the linked files' paths relative to dst's parent."""
    dst.mkdir()
    out = []
    for p in sorted(src.iterdir()):
        if p.is_file() and not p.is_symlink():
            try:
                os.link(p, dst / p.name)
            except OSError as err:
                if err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES):
                    raise
                shutil.copyfile(p, dst / p.name)
            out.append(f"{dst.name}/{p.name}")
    return out


def current_version(index_dir: Path) -> Path:
    """The live version folder, or IndexMissing / IndexCorrupt with what to run."""
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT
    if not index_dir.is_dir() or not pointer.exists():
        if index_dir.is_dir() and (index_dir / MANIFEST).exists():
            raise IndexMismatch(f"the index in {index_dir} has an old layout; rebuild it with: {REBUILD} --full")
        raise IndexMissing(f"no index found in {index_dir}; build it with: {REBUILD}")
    try:
        name = safeio.read_text(pointer, MAX_POINTER_BYTES).strip()
    except (safeio.NotRegularFile, safeio.FileTooLarge) as err:
        raise unreadable(pointer, err) from None
    except (OSError, UnicodeDecodeError):
        raise IndexCorrupt(f"the index pointer {pointer} is unreadable; rebuild with: {REBUILD} --full") from None
    if (not name or "/" in name or "\\" in name or name.startswith(".") or not name.isprintable()
            or len(name) > 200 or not (index_dir / name).is_dir()):
        raise IndexCorrupt(f"the index in {index_dir} points at a missing build '{name[:60]}'; "
                           f"rebuild with: {REBUILD} --full")
    return index_dir / name


def read_manifest(version_dir: Path) -> Manifest:
    """The build's manifest, checked: kb's format, this schema, its own checksum. IndexCorrupt/IndexMismatch else."""
    path = version_dir / MANIFEST
    try:
        manifest = safeio.read_json(path, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise IndexCorrupt(f"{path} is missing; rebuild with: {REBUILD} --full") from None
    except (safeio.NotRegularFile, safeio.FileTooLarge) as err:
        raise unreadable(path, err) from None
    except (OSError, ValueError, UnicodeDecodeError):
        raise IndexCorrupt(f"{path} is unreadable or not kb's; rebuild with: {REBUILD} --full") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "kb-index":
        raise IndexCorrupt(f"{version_dir} is not a kb index; rebuild with: {REBUILD} --full")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexMismatch(
            f"the index was built with schema {str(manifest.get('schema_version'))[:20]}, this kb reads schema "
            f"{SCHEMA_VERSION}; rebuild with: {REBUILD} --full"
        )
    if MANIFEST_DIGEST not in manifest:
        raise IndexMismatch(f"the index in {version_dir.parent} was built by an older kb (no manifest checksum); "
                            f"rebuild with: {REBUILD} --full")
    if manifest.get(MANIFEST_DIGEST) != manifest_digest(manifest):
        raise IndexCorrupt(f"{path} is damaged (its own checksum does not match); rebuild with: {REBUILD} --full")
    if not isinstance(manifest.get("embedder"), dict):
        raise IndexCorrupt(f"{path} names no embedder; rebuild with: {REBUILD} --full")
    try:
        m = Manifest.from_dict(manifest)
        segments_ok = all(isinstance(s, dict) and _safe_name(s.get("name")) and int(s.get("rows")) >= 0
                          for s in m.segments) and bool(m.segments)
    except (TypeError, ValueError, AttributeError):
        segments_ok = False
    if not segments_ok:
        raise IndexCorrupt(f"{path} does not describe kb's segments; rebuild with: {REBUILD} --full")
    return m


def _safe_name(name) -> bool:
    return (isinstance(name, str) and name.startswith("seg-") and name.isprintable() and "/" not in name
            and "\\" not in name and len(name) < 100)


def manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own digest: the manifest covers itself, and through
    `files` every other file of the build."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def verify_files(version_dir: Path, manifest: Manifest, deep: bool | None = None) -> None:
    """Check the build holds exactly the files its manifest lists, each with the same size and sha256 (`deep`; by
    default a build up to VERIFY_ALL_BYTES is checksummed in full, a larger one only in its files up to
    VERIFY_FILE_BYTES, see the module docstring). Raises IndexCorrupt naming the first file that is missing,
    damaged or unexpected."""
    files = manifest.files
    if not isinstance(files, dict) or not files:
        raise IndexCorrupt(f"{version_dir / MANIFEST} lists no files; rebuild with: {REBUILD} --full")
    _check_posts(version_dir, manifest)
    try:
        present = {p.relative_to(version_dir).as_posix() for p in version_dir.rglob("*")
                   if not p.is_dir() and p.name != MANIFEST}
    except OSError:
        raise IndexCorrupt(f"the index folder {version_dir} cannot be listed; rebuild with: {REBUILD} --full") from None
    extra = sorted(present - set(files))
    if extra:
        raise IndexCorrupt(f"unexpected file {extra[0][:80]} in the index; rebuild with: {REBUILD} --full")
    if deep is None:
        sizes = [m.get("bytes") for m in files.values() if isinstance(m, dict)]
        deep = sum(b for b in sizes if isinstance(b, int)) <= VERIFY_ALL_BYTES
    for rel, meta in files.items():
        _check_file(version_dir, rel, meta, present, deep)


def verify_segment(version_dir: Path, manifest: Manifest, name: str) -> None:
    """Checksum every file of one segment of a build (IndexCorrupt naming the first that fails): a rebuild reuses
    the vectors of each segment that passes even when another file of the build is damaged."""
    files = {rel: meta for rel, meta in manifest.files.items() if rel.startswith(f"{name}/")}
    if not files:
        raise IndexCorrupt(f"the manifest lists no files of segment {name[:80]}")
    for rel, meta in files.items():
        _check_file(version_dir, rel, meta, {rel} if (version_dir / rel).exists() else set(), True)


def _check_file(version_dir: Path, rel: str, meta, present: set[str], deep: bool) -> None:
    p = version_dir / rel
    if rel not in present or not isinstance(meta, dict):
        raise IndexCorrupt(f"index file {rel[:80]} is missing; rebuild with: {REBUILD} --full")
    try:
        st = p.stat()
        safeio.check_regular(p, st)
        hashed = deep or st.st_size <= VERIFY_FILE_BYTES
        damaged = st.st_size != meta.get("bytes") or (hashed and file_sha256(p) != meta.get("sha256"))
    except safeio.NotRegularFile as err:
        raise IndexCorrupt(f"index file {rel[:80]} is {err.kind}, not a file; rebuild with: {REBUILD} --full") \
            from None
    except FileNotFoundError:
        raise IndexCorrupt(f"index file {rel[:80]} is missing; rebuild with: {REBUILD} --full") from None
    except OSError:
        raise IndexCorrupt(f"index file {rel[:80]} is unreadable; rebuild with: {REBUILD} --full") from None
    if damaged:
        raise IndexCorrupt(f"index file {rel} is damaged (checksum mismatch); rebuild with: {REBUILD} --full")


def _check_posts(version_dir: Path, manifest: Manifest) -> None:
    """IndexCorrupt unless every post is listed once: as many names as indexed posts, no name both indexed and
    skipped, and every "identical to X" names another file that was indexed with the same content."""
    posts, skipped = manifest.posts, manifest.skipped
    lost = len(posts) != manifest.post_count or set(posts) & set(skipped)
    for name, reason in manifest.skipped_reasons.items():
        twin = reason.removeprefix("identical to ").removesuffix(", indexed once")
        if not lost and reason.startswith("identical to ") and (twin == name or posts.get(twin) != skipped.get(name)):
            lost = True
    if lost:
        raise IndexCorrupt(f"{version_dir / MANIFEST} does not account for every post file (a post was lost); "
                           f"rebuild with: {REBUILD} --full")


def check_embedder(manifest: Manifest, model_name: str | None) -> None:
    built = manifest.embedder_name
    if model_name and built and model_name != built:
        raise IndexMismatch(
            f"the index was built with model '{built}' but '{model_name}' was asked for; rebuild with: "
            f"{REBUILD} --full --model {model_name} (or use --model {built})"
        )


@contextlib.contextmanager
def rebuild_lock(index_dir: Path):
    """Hold the index's rebuild lock; a second rebuild gets IndexLocked at once (flock dies with the process)."""
    lock = index_dir / ".lock"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = safeio.open_lock_file(lock)              # never follows a symlink: its target stays untouched
    except safeio.NotRegularFile as err:
        raise IndexWriteError(f"the lock file {lock} is {err.kind}, not a file kb made; remove it and run the "
                              "command again (nothing was written; the previous index is unchanged)") from None
    except OSError as err:
        raise IndexWriteError(f"cannot write to {index_dir}: {err.strerror or err}; the previous index is unchanged") \
            from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            except OSError:
                holder = "?"
            raise IndexLocked(f"another rebuild (pid {holder or '?'}) is writing {index_dir}; "
                              "wait for it to finish, then run the command again") from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def new_build_dir(index_dir: Path) -> Path:
    """A fresh hidden folder to write a build into (stale ones from crashed builds are removed first)."""
    for stale in index_dir.glob(".tmp-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stale.unlink()
    d = index_dir / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    d.mkdir(parents=True)
    return d


def _fsync_tree(folder: Path, skip: frozenset[str] = frozenset()) -> None:
    """fsync every file under folder (but those in `skip`: hard links to files already on disk) and the folders."""
    for p in folder.rglob("*"):
        if p.is_dir():
            _fsync_dir(p)
        elif p.is_file() and p.relative_to(folder).as_posix() not in skip:
            fd = safeio.open_regular(p, follow=False)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj) -> None:
    """Write a new build file (kb.core.safeio.create_new: never through a symlink, never over an existing file)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))  # one-shot dumps uses the C encoder; dump doesn't
    with safeio.create_new(path) as f:
        f.write(text.encode("utf-8"))


def publish(index_dir: Path, build_dir: Path, manifest: Manifest, known: dict[str, dict] | None = None) -> Path:
    """Checksum the build (files in `known` are hard links: their checksums are copied), write its manifest, fsync,
    move it to a version folder and swap CURRENT atomically. Older versions except the one just replaced are then
    deleted (a reader may still be opening that one; hard-linked files live on in the new version)."""
    manifest.files = checksum_tree(build_dir, known)
    body = manifest.to_dict()
    body[MANIFEST_DIGEST] = manifest_digest(body)
    write_json(build_dir / MANIFEST, body)
    _fsync_tree(build_dir, frozenset(known or ()))
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    final = index_dir / name
    os.rename(build_dir, final)
    tmp_pointer = index_dir / f".tmp-{CURRENT}-{uuid.uuid4().hex[:8]}"
    previous = None
    with contextlib.suppress(IndexMissing, IndexCorrupt, IndexMismatch):
        previous = current_version(index_dir).name
    try:
        with safeio.create_new(tmp_pointer) as f:
            f.write(name.encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_pointer, index_dir / CURRENT)
    except BaseException:                     # (a full disk): neither the pointer nor the unpublished version stays
        with contextlib.suppress(OSError):
            tmp_pointer.unlink()
        shutil.rmtree(final, ignore_errors=True)
        raise
    _fsync_dir(index_dir)
    for old in index_dir.glob("v-*"):
        if old.name not in (name, previous):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 4 * 1024 * 1024
    except OSError:
        return False


def sweep(index_dir: Path) -> None:
    """Remove what killed rebuilds left behind: .tmp-* builds and every version but the live one and the newest
    other (which a reader may still be opening). Best effort: a read-only folder is left as it is."""
    try:
        live = current_version(index_dir).name
    except (IndexMissing, IndexCorrupt, IndexMismatch):
        return
    for stale in index_dir.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink()
    others = sorted((v for v in index_dir.glob("v-*") if v.name != live), key=lambda v: v.name)
    for old in others[:-1]:
        shutil.rmtree(old, ignore_errors=True)


def describe_write_error(err: OSError, index_dir: Path) -> IndexWriteError:
    """The one line for a failed write, whoever failed (Python, numpy, bm25s, FAISS through kb.storage.vector.save_ann)."""
    code = err.errno
    if code is None and _nearly_full(index_dir):     # numpy's short write says only "N requested and M written"
        code = errno.ENOSPC
    reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the folder is read-only",
              errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}.get(
        code, err.strerror or str(err))
    return IndexWriteError(f"cannot write the new index in {index_dir}: {reason}; the previous index is unchanged")
