"""Per-row numbers on disk, and the passes over them in bounded memory.

    disk = Disk(work / "spill")                     # Disk(None): plain in-memory arrays (small data)
    h = disk.from_chunks((c.to_numpy() for c in column.chunks), len(column), np.int64)
    kept = disk.compress(disk.arange(len(h)), keep_mask)
    for positions, hashes in disk.partitions(h):   # equal hashes in one partition, ~PART rows each
        ...

prepare-data keeps a few numbers per row: the hashes of each text and text+label pair, a label code,
the kept positions, a mask per rule. As numpy arrays they grow with the file (tens of bytes a row,
more while sorting); here they are files under the step's scratch folder, mapped into memory. Their
pages are file-backed: the kernel writes them out and drops them under memory pressure, as it does
the memory-mapped Arrow files' pages. Each file is unlinked as soon as it is mapped, so its disk
space goes back when the array is dropped. What the process allocates itself is bounded by CHUNK
rows at a time (a streaming pass) or by one hash partition of about PART rows (sorted in memory),
whatever the number of rows.
"""

from __future__ import annotations

import functools
import itertools
import math
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

CHUNK = 1 << 18  # rows a streaming pass holds at a time (~10 MB of temporaries)
PART = 1 << 19  # rows a hash partition holds, about (sorted in memory: ~30 MB)


def temporary_array(n: int, dtype, folder: Path | None = None) -> np.ndarray:
    """n zeros in an unnamed temporary file (in `folder`, default $TMPDIR) mapped into memory:
    file-backed pages the kernel can write out and drop, gone when the array is."""
    with tempfile.TemporaryFile(prefix="slimnlp-", dir=folder) as backing:  # the mapping keeps the file
        mapped = np.memmap(backing, dtype=dtype, mode="w+", shape=(max(n, 1),)).view(np.ndarray)
    return mapped if n else mapped[:0]  # a file cannot map zero bytes


def chunks(n: int, size: int | None = None) -> Iterator[slice]:
    """Slices of CHUNK rows (or `size`) covering n rows."""
    size = size or CHUNK
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class Disk:
    """Makes per-row arrays: memory-mapped files under `root`, or plain numpy arrays when root is None."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)
        self._names = itertools.count()

    def path(self, name: str) -> Path:
        """A new file name under root."""
        if self.root is None:
            raise ValueError("an in-memory Disk has no folder")
        return self.root / f"{next(self._names)}-{name}"

    def array(self, n: int, dtype, fill=None) -> np.ndarray:
        """A new array of n rows (zeros, or `fill`)."""
        out = np.zeros(n, dtype=dtype) if self.root is None else temporary_array(n, dtype, self.root)
        if fill is not None and n:
            for part in chunks(n):
                out[part] = fill
        return out

    def from_chunks(self, pieces: Iterable[np.ndarray], n: int, dtype) -> np.ndarray:
        """The pieces one after another, in an array of n rows (they must add up to n)."""
        out, done = self.array(n, dtype), 0
        for piece in pieces:
            out[done : done + len(piece)] = piece
            done += len(piece)
        if done != n:
            raise ValueError(f"pieces hold {done} rows, expected {n}")
        return out

    def arange(self, n: int) -> np.ndarray:
        return self.from_chunks((np.arange(part.start, part.stop) for part in chunks(n)), n, np.int64)

    def take(self, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """values[positions]."""
        return self.from_chunks(
            (values[positions[part]] for part in chunks(len(positions))), len(positions), values.dtype
        )

    def compress(self, values: np.ndarray | None, mask: np.ndarray, invert: bool = False) -> np.ndarray:
        """values[mask] (values[~mask] with `invert`); values None: the positions, as np.flatnonzero."""
        want = not invert
        kept = sum(int(np.count_nonzero(mask[part] == want)) for part in chunks(len(mask)))
        pieces = (
            (np.flatnonzero(mask[part] == want) + part.start)
            if values is None
            else values[part][mask[part] == want]
            for part in chunks(len(mask))
        )
        return self.from_chunks(pieces, kept, np.int64 if values is None else values.dtype)

    def partitions(self, keys: np.ndarray, *extra: np.ndarray, parts: int | None = None) -> Iterator[tuple]:
        """Rows grouped by key, one group in memory at a time: (positions into keys, keys, *extra)
        of each group, positions ascending. Equal keys (64-bit hashes) always share a group; two
        arrays split with the same `parts` put a key in the same group number."""
        n = len(keys)
        parts = parts or partitions_for(n)
        if parts == 1:
            yield (np.arange(n), np.array(keys), *(np.array(e) for e in extra))
            release_freed_memory()
            return
        sizes = sum(np.bincount(_group_of(keys[part], parts), minlength=parts) for part in chunks(n))
        starts = np.concatenate([[0], np.cumsum(sizes)])
        positions = self.array(n, np.int64)
        columns = [(keys, self.array(n, keys.dtype))] + [(e, self.array(n, e.dtype)) for e in extra]
        fill = starts[:-1].copy()
        for part in chunks(n):  # each chunk's rows to their groups, in row order inside each group
            group = _group_of(keys[part], parts)
            order = np.argsort(group, kind="stable")
            sorted_groups = group[order]
            first = np.searchsorted(sorted_groups, np.arange(parts))
            target = fill[sorted_groups] + (np.arange(len(order)) - first[sorted_groups])
            positions[target] = order + part.start
            for source, out in columns:
                out[target] = source[part][order]
            fill += np.bincount(group, minlength=parts)
        for p in range(parts):
            release_freed_memory()  # what the last group's sorts freed, before the next is read
            rows = slice(int(starts[p]), int(starts[p + 1]))
            yield (np.array(positions[rows]), *(np.array(out[rows]) for _, out in columns))
        release_freed_memory()


def release_freed_memory() -> None:
    """Give freed heap memory back to the system (glibc's malloc_trim; nothing elsewhere).

    Each partition allocates and frees arrays of megabytes. glibc raises its mmap threshold after
    the first such free, so later ones come from the heap, and the heap keeps what they free:
    measured, the process grew ~15 MiB per partition (1M-row partitions, 3M and 6M rows) without
    this, and stayed flat with it (benchmarks/data_scale.py)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None


def partitions_for(rows: int) -> int:
    return max(1, math.ceil(rows / PART))


def _group_of(keys: np.ndarray, parts: int) -> np.ndarray:
    return (keys.view(np.uint64) % np.uint64(parts)).astype(np.uint16 if parts < 1 << 16 else np.uint32)


def bincount(codes: np.ndarray, minlength: int = 0, mask: np.ndarray | None = None) -> np.ndarray:
    """np.bincount(codes[mask]) in chunks."""
    total = np.zeros(minlength, dtype=np.int64)
    for part in chunks(len(codes)):
        c = codes[part] if mask is None else codes[part][mask[part]]
        counts = np.bincount(c, minlength=minlength)
        if len(counts) > len(total):
            counts[: len(total)] += total
            total = counts
        else:
            total[: len(counts)] += counts
    return total


def isin(values: np.ndarray, test, out: np.ndarray) -> np.ndarray:
    """out[:] = np.isin(values, test) in chunks (`test` small: a few label codes, hashes)."""
    for part in chunks(len(values)):
        out[part] = np.isin(values[part], test)
    return out


def first_true(mask: np.ndarray, k: int) -> np.ndarray:
    """The first k positions where mask is true."""
    found: list[np.ndarray] = []
    for part in chunks(len(mask)):
        found.append(np.flatnonzero(mask[part])[: k - sum(len(f) for f in found)] + part.start)
        if sum(len(f) for f in found) >= k:
            break
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
