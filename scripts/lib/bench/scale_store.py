#!/usr/bin/env python3
"""A fast synthetic store of encrypted-looking SQLite mailboxes, for `scripts/bench --scale`.

Each mailbox is what a SQLite3MultipleCiphers (chacha20) database looks like to a reader
without its key: page 1 starts with a 16-byte random KDF salt, bytes 16-23 are the plaintext
tail of the SQLite header (page size, WAL or rollback versions, 32 reserved bytes for the
nonce and tag, payload fractions 64/32/32), and every other byte of every page is random. drctl
recognises that shape (DatabaseHeader.swift, docs/IMAGE.md) and snapshots the file as a
page-chunked SQLite image; nothing else of SQLite's format is needed because every other
byte is ciphertext. The files are quiescent: a WAL-mode database whose last connection closed
has no -wal or -shm left, which is what `--journal wal` writes.

Pages come from Python's Mersenne Twister (random.Random.randbytes, ~400 MB/s on one core),
one generator per mailbox seeded from (seed, mailbox index), so a store is the same bytes for
the same seed and the same options whatever else is generated. No two pages are equal (the
chance is nil), as with real encrypted pages, whose every write takes a fresh nonce.

    scale_store.py create --dir DIR --mailboxes N [--min-kib A --max-kib B | --sizes-mib LIST]
                          [--page-size 4096] [--journal wal|delete] [--seed S] [--fanout 256]
    scale_store.py mutate --dir DIR --fraction F [--rewrite-pages K] [--append-pages A]
                          [--seed S] [--round R]

Both print one JSON document (what was written; for mutate, the changed page bytes).
"""
import argparse
import json
import os
import random
import sys
import time

SUFFIX = ".sqlite"


def header_tail(page_size, wal):
    """Bytes 16-23 of page 1, plaintext in SQLite3MultipleCiphers: page size (1 means 65536),
    write and read versions (2/2 WAL, 1/1 rollback), reserved bytes per page (chacha20: a
    16-byte nonce and a 16-byte tag), max/min embedded payload fraction, leaf payload fraction."""
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise ValueError(f"page size {page_size} is not a power of two in 512..65536")
    raw = 1 if page_size == 65536 else page_size
    version = 2 if wal else 1
    return bytes([raw >> 8, raw & 0xFF, version, version, 32, 64, 32, 32])


def mailbox_rng(seed, index, purpose="create"):
    # A str seed is hashed with SHA-512 by random.seed (version 2): stable across runs and
    # platforms, independent of PYTHONHASHSEED.
    return random.Random(f"drctl-scale:{seed}:{purpose}:{index}")


def mailbox_path(root, index, fanout):
    """users/<index mod fanout, two hex digits or more>/mb-<index>.sqlite: a mail store spreads
    its mailboxes over folders; so does this one (fanout 0: one flat folder)."""
    name = f"mb-{index:07d}{SUFFIX}"
    if fanout <= 0:
        return os.path.join(root, name)
    return os.path.join(root, "users", f"{index % fanout:03x}", name)


def first_page(rng, page_size, wal):
    return rng.randbytes(16) + header_tail(page_size, wal) + rng.randbytes(page_size - 24)


def write_mailbox(path, rng, pages, page_size, wal):
    """Writes page 1 and `pages - 1` random pages in one write(2) (files are small) or in
    1 MiB pieces; returns the bytes written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk_pages = max(1, (1 << 20) // page_size)
        first = first_page(rng, page_size, wal)
        remaining = pages - 1
        if remaining <= chunk_pages:
            os.write(fd, first + rng.randbytes(remaining * page_size))
        else:
            os.write(fd, first)
            while remaining:
                n = min(chunk_pages, remaining)
                data = rng.randbytes(n * page_size)
                view, off = memoryview(data), 0
                while off < len(data):
                    off += os.write(fd, view[off:])
                remaining -= n
    finally:
        os.close(fd)
    return pages * page_size


def plan_sizes(args):
    """Page counts per mailbox: --sizes-mib (a list, cycled; '8' or '1-16' ranges) or uniform
    in --min-kib..--max-kib. Deterministic from the seed."""
    rng = random.Random(f"drctl-scale:{args.seed}:sizes")
    sizes = []
    if args.sizes_mib:
        parts = [p.strip() for p in args.sizes_mib.split(",") if p.strip()]
        for i in range(args.mailboxes):
            part = parts[min(i, len(parts) - 1)]
            lo, _, hi = part.partition("-")
            lo_b, hi_b = float(lo) * 1048576, float(hi or lo) * 1048576
            size = rng.uniform(lo_b, hi_b) if hi_b > lo_b else lo_b
            sizes.append(max(1, round(size / args.page_size)))
    else:
        lo = max(args.page_size, args.min_kib * 1024)
        hi = max(lo, args.max_kib * 1024)
        for _ in range(args.mailboxes):
            sizes.append(max(1, round(rng.uniform(lo, hi) / args.page_size)))
    return sizes


def create(args):
    t0 = time.monotonic()
    wal = args.journal == "wal"
    sizes = plan_sizes(args)
    made_dirs = set()
    total, entries = 0, []
    for index, pages in enumerate(sizes, start=args.first_index):
        path = mailbox_path(args.dir, index, args.fanout)
        parent = os.path.dirname(path)
        if parent not in made_dirs:
            os.makedirs(parent, exist_ok=True)
            made_dirs.add(parent)
        if os.path.exists(path):
            raise SystemExit(f"scale_store: {path} exists; choose an empty --dir or another --first-index")
        total += write_mailbox(path, mailbox_rng(args.seed, index), pages, args.page_size, wal)
        entries.append({"path": os.path.relpath(path, args.dir), "pages": pages})
    if args.fsync:
        os.sync()
    elapsed = time.monotonic() - t0
    return {"dir": os.path.abspath(args.dir), "mailboxes": len(sizes), "bytes": total,
            "page_size": args.page_size, "journal": args.journal, "seed": args.seed,
            "seconds": round(elapsed, 2), "mb_per_s": round(total / 1e6 / elapsed, 1) if elapsed else None,
            "mailbox_list": entries if args.list else None}


def list_mailboxes(root):
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith(SUFFIX):
                found.append(os.path.join(directory, name))
    return sorted(found)


def mutate(args):
    """Changes `fraction` of the mailboxes as a mail delivery does: page 1 is re-encrypted (its
    change counter moves on every commit, and the cipher takes a fresh nonce; bytes 0-23 stay),
    `rewrite_pages` other random pages are rewritten in place, `append_pages` pages are added at
    the end. Writes go to the same inode with pwrite, as SQLite's do. Returns the changed page
    bytes: distinct pages rewritten plus pages appended, times the page size."""
    t0 = time.monotonic()
    paths = list_mailboxes(args.dir)
    if not paths:
        raise SystemExit(f"scale_store: no *{SUFFIX} under {args.dir}")
    chooser = random.Random(f"drctl-scale:{args.seed}:choose:{args.round}")
    count = max(1, round(len(paths) * args.fraction)) if args.fraction > 0 else 0
    chosen = sorted(chooser.sample(paths, count))
    changed_pages = changed_bytes = 0
    details = []
    for path in chosen:
        rng = random.Random(f"drctl-scale:{args.seed}:mutate:{args.round}:{os.path.relpath(path, args.dir)}")
        fd = os.open(path, os.O_RDWR)
        try:
            head = os.pread(fd, 100, 0)
            raw = (head[16] << 8) | head[17]
            page_size = 65536 if raw == 1 else raw
            pages = os.fstat(fd).st_size // page_size
            os.pwrite(fd, rng.randbytes(page_size - 24), 24)          # page 1 past the header tail
            rewritten = {1}
            others = list(range(2, pages + 1))
            for number in rng.sample(others, min(args.rewrite_pages, len(others))):
                os.pwrite(fd, rng.randbytes(page_size), (number - 1) * page_size)
                rewritten.add(number)
            if args.append_pages:
                os.pwrite(fd, rng.randbytes(args.append_pages * page_size), pages * page_size)
            n = len(rewritten) + args.append_pages
        finally:
            os.close(fd)
        changed_pages += n
        changed_bytes += n * page_size
        if args.list:
            details.append({"path": os.path.relpath(path, args.dir), "changed_pages": n})
    return {"dir": os.path.abspath(args.dir), "mailboxes": len(paths), "changed_mailboxes": len(chosen),
            "changed_pages": changed_pages, "changed_page_bytes": changed_bytes,
            "seconds": round(time.monotonic() - t0, 2), "details": details if args.list else None}


def parser():
    p = argparse.ArgumentParser(prog="scale_store.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="write a store of random encrypted-looking mailboxes")
    c.add_argument("--dir", required=True)
    c.add_argument("--mailboxes", type=int, required=True)
    c.add_argument("--min-kib", type=int, default=8)
    c.add_argument("--max-kib", type=int, default=64)
    c.add_argument("--sizes-mib", help="comma list of sizes or ranges in MiB per mailbox, the last one repeated "
                                       "(e.g. '8,1-16'): overrides --min-kib/--max-kib")
    c.add_argument("--page-size", type=int, default=4096)
    c.add_argument("--journal", choices=("wal", "delete"), default="wal",
                   help="header versions 2/2 (a quiescent WAL database: no -wal left) or 1/1 (rollback)")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--first-index", type=int, default=0, help="number of the first mailbox (to extend a store)")
    c.add_argument("--fanout", type=int, default=256, help="folders under users/ (0: one flat folder)")
    c.add_argument("--fsync", action="store_true", help="sync(2) at the end (counted in the time)")
    c.add_argument("--list", action="store_true", help="list every mailbox in the output")
    m = sub.add_parser("mutate", help="change a share of the mailboxes")
    m.add_argument("--dir", required=True)
    m.add_argument("--fraction", type=float, required=True, help="share of mailboxes changed (0.01 = 1%%)")
    m.add_argument("--rewrite-pages", type=int, default=1, help="pages rewritten besides page 1 (default 1)")
    m.add_argument("--append-pages", type=int, default=1, help="pages appended (default 1)")
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--round", type=int, default=1, help="a different round changes other mailboxes and pages")
    m.add_argument("--list", action="store_true")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    result = create(args) if args.command == "create" else mutate(args)
    json.dump({k: v for k, v in result.items() if v is not None}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
