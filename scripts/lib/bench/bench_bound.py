"""The physical bound of each operation on this machine, for scripts/bench.

Measured once per bench run, each as CPU seconds per byte on one core (CPU time, not wall
time, so that the other engineers' load on the shared cores inflates it little):
  page-cache write  write(2) of 1 MiB blocks into a new 256 MiB file (the thread's CPU clock)
  page-cache read   read(2) of that cached file in 1 MiB blocks
  disk write        the same with conv=fdatasync: bytes / wall time (the device, not a core)
  XChaCha20-Poly1305 seal and open, keyed BLAKE2b-256: `drctl-bench crypto` (libsodium
                    through DRCrypto, 64 KiB messages, best of 5)
  SHA-256, MD5      the two hashes of every S3 upload (the signed payload, Content-MD5):
                    `drctl-bench crypto`, 16 MiB bodies (libcrypto through DRCrypto); shown
                    in the rates, not part of a bound
  zstd              the faster of `drctl-bench compression` (ChunkCompression's default
                    strategy, level 3, mail-like text in 64 KiB chunks) and `zstd -3` on the
                    plain store's large mailbox (CPU from rusage)
  zstd decode       the faster of `drctl-bench compression`'s decode of mail chunks and
                    `zstd -b1 -B4096` (level 1 in 4 KiB blocks, as drctl stores plain pages) on
                    the plain store's large mailbox
  start             the wall time of `drctl --version` (a process that does nothing)
  durable commit    one ordered barrier: a new 4 KiB file written, fsync'ed, renamed into a
                    folder that is fsync'ed (the best of 5); a backup needs two in a row (the
                    packs durable before the manifest that names them, then the manifest),
                    targets side by side

An operation's bound is start + (the CPU work it cannot avoid) / cores, where the work is the
sum of bytes x seconds-per-byte of each step below, assuming perfect use of every core and
no other cost; an operation that must reach the disk (a restore that fsyncs, or any restore
followed by sync) is also at least bytes / disk write bandwidth, and one that reads the
repository cold (restores and checks: the bench evicts it first) at least its bytes / disk read
bandwidth (`dd` of the evicted probe file):
  full backup   B (store) x (read + BLAKE2b [+ zstd for plain pages]) + S (stored, one target)
                x seal + T (targets) x S x page-cache write
  incremental   Mc (the bytes of the changed mailboxes) x (read + SHA-256) + Pc (the changed page
                bytes) x (BLAKE2b [+ zstd]) + Sc (stored) x (seal + T x write), and two durable
                commits. The bench's writers exit, so SQLite has checkpointed the WAL into the
                file and nothing records which pages changed: any tool must read every page of
                a changed mailbox and tell by a hash whether it is new. The hash counted is the
                fastest cryptographic one measured here (SHA-256 with SHA-NI, faster than the
                format's keyed BLAKE2b): a non-cryptographic checksum could be made to miss a
                change by mail an attacker sends. Until 2026-12-07 this bound counted only Pc x
                (read + BLAKE2b [+ zstd]) (as if the changed pages were known) and no commit
  restore       S x (read + open) + B x (BLAKE2b, the id check + write) [+ B x zstd decode for
                plain pages]; and + sync: also >= B / disk write
  check --read-data   S x (read + open) + B x BLAKE2b [+ B x zstd decode]: the format makes a
                reader check every plaintext against its keyed id (docs/REPOSITORY.md, "Reading
                a blob", step 4), which needs the plaintext, as restic's check --read-data
                hashes every blob's plaintext with SHA-256
  over S3       as the local operation with T = 1, plus 3 x S x page-cache write for the copies
                through loopback and the server's own write (SeaweedFS on the same cores)
"""
import os
import re
import subprocess
import time

from bench_measure import BenchError, log

MiB = 1024 * 1024


def _dd_cpu(argv):
    """Runs dd; returns (user+sys CPU seconds, wall seconds)."""
    t0 = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {process.returncode}")
    return usage.ru_utime + usage.ru_stime, time.monotonic() - t0


def page_cache_rates(path, size_mib):
    """CPU seconds per byte to write a new file into the page cache and to read a cached one,
    1 MiB per call, best of 3; the thread's own CPU clock (exact, unlike rusage's ticks)."""
    block = os.urandom(MiB)
    buffer = bytearray(MiB)
    writes, reads = [], []
    for _ in range(3):
        if os.path.exists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        t0 = time.thread_time()
        for _ in range(size_mib):
            os.write(fd, block)
        writes.append(time.thread_time() - t0)
        os.close(fd)
        fd = os.open(path, os.O_RDONLY)
        t0 = time.thread_time()
        while os.readv(fd, [buffer]):
            pass
        reads.append(time.thread_time() - t0)
        os.close(fd)
    os.unlink(path)
    return min(writes) / (size_mib * MiB), min(reads) / (size_mib * MiB)


def measure_rates(work, drctl, drctl_bench, plain_sample=None):
    """Seconds of CPU per byte of each step (see the module's text), and how each was got."""
    os.makedirs(work, exist_ok=True)
    size_mib = 256
    path = os.path.join(work, "probe")
    rates = {}
    rates["page_cache_write"], rates["page_cache_read"] = page_cache_rates(path, size_mib)
    subprocess.run(["sync"], check=False)
    disk, disk_read = [], []
    for _ in range(2):
        _, wall = _dd_cpu(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}", "conv=fdatasync"])
        disk.append(size_mib * MiB / wall)
        # The same file read back from the disk: evicted from the page cache first, as the
        # bench evicts every repository before a restore or a check (--repositories cold).
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        _, wall = _dd_cpu(["dd", f"if={path}", "of=/dev/null", "bs=1M"])
        disk_read.append(size_mib * MiB / wall)
        os.unlink(path)
    rates["disk_write_bytes_per_s"] = max(disk)
    rates["disk_read_bytes_per_s"] = max(disk_read)

    mbps = lambda text: float(text.replace(",", "")) * 1e6  # noqa: E731 - MB/s (10^6 bytes) to bytes/s
    # drctl-bench times wall clock (best of 5 rounds); on shared cores the best of 3 runs of it
    # is the figure least inflated by the other processes.
    outputs = []
    for _ in range(3):
        out = subprocess.run([drctl_bench, "crypto"], capture_output=True, text=True).stdout
        seal = re.search(r"seal: ([\d.,]+) MB/s, open: ([\d.,]+) MB/s", out)
        hashed = re.search(r"BLAKE2b-256 \(chunk id\): ([\d.,]+) MB/s", out)
        if not seal or not hashed:
            raise BenchError(f"{drctl_bench} crypto: unexpected output:\n{out[-1000:]}")
        outputs.append(out)
        rates["seal"] = min(rates.get("seal", 1.0), 1 / mbps(seal.group(1)))
        rates["open"] = min(rates.get("open", 1.0), 1 / mbps(seal.group(2)))
        rates["blake2b"] = min(rates.get("blake2b", 1.0), 1 / mbps(hashed.group(1)))
        # Optional: a drctl-bench older than these lines measured neither.
        for key, pattern in (("sha256_s3_payload", r"SHA-256 \(S3 payload hash\): [\d.,]+ MB/s, 16 MiB bodies: ([\d.,]+) MB/s"),
                             ("md5_s3_content", r"MD5 \(S3 Content-MD5\): [\d.,]+ MB/s, 16 MiB bodies: ([\d.,]+) MB/s")):
            found = re.search(pattern, out)
            if found:
                rates[key] = min(rates.get(key, 1.0), 1 / mbps(found.group(1)))

    for _ in range(3):
        zout = subprocess.run([drctl_bench, "compression"], capture_output=True, text=True).stdout
        capped = re.search(r"cappedOutput \[default\]\s+([\d.,]+)\s+\S+\s+([\d.,]+)", zout)
        if not capped:
            raise BenchError(f"{drctl_bench} compression: unexpected output:\n{zout[-1000:]}")
        rates["zstd_compress"] = min(rates.get("zstd_compress", 1.0), 1 / mbps(capped.group(2)))
        decoded = re.search(r"decode of mail chunks: ([\d.,]+) MB/s", zout)
        if decoded:
            rates["zstd_decode"] = min(rates.get("zstd_decode", 1.0), 1 / mbps(decoded.group(1)))
        outputs.append(zout)
    rates["zstd_compress_mail_text"] = rates["zstd_compress"]
    if plain_sample:
        # Mail text compresses to ~26 % and slowly; a plain store's SQLite pages (b-tree headers,
        # indexes, free space) compress less and faster. The faster of the two rates keeps the
        # bound a lower bound: zstd level 3 on the large plain mailbox, its CPU from rusage.
        cli = min(_dd_cpu(["zstd", "-3", "-q", "-f", "--single-thread", plain_sample, "-o", os.path.join(work, "z")])[0]
                  for _ in range(3))
        os.unlink(os.path.join(work, "z"))
        rates["zstd_compress_plain_pages"] = cli / os.path.getsize(plain_sample)
        rates["zstd_compress"] = min(rates["zstd_compress"], rates["zstd_compress_plain_pages"])
        # zstd's own benchmark mode: level 1, every 4 KiB block a frame of its own, as drctl
        # stores plain pages; the second figure of its result line is the decode rate.
        bench = subprocess.run(["zstd", "-b1", "-B4096", "-i3", plain_sample], capture_output=True, text=True)
        lines = [line for line in (bench.stdout + bench.stderr).replace("\r", "\n").splitlines() if "MB/s" in line]
        rates_seen = re.findall(r"([\d.]+) MB/s", lines[-1]) if lines else []
        if len(rates_seen) >= 2:
            rates["zstd_decode_plain_pages"] = 1 / mbps(rates_seen[1])
            rates["zstd_decode"] = min(rates.get("zstd_decode", 1.0), rates["zstd_decode_plain_pages"])
    barriers = []
    folder = os.path.join(work, "commit")
    os.makedirs(folder, exist_ok=True)
    for index in range(5):
        t0 = time.monotonic()
        temporary, final = os.path.join(work, f"commit-{index}.tmp"), os.path.join(folder, f"commit-{index}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"\0" * 4096)
        os.fsync(fd)
        os.close(fd)
        os.rename(temporary, final)
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
        barriers.append(time.monotonic() - t0)
    rates["durable_commit_s"] = min(barriers)
    for index in range(5):
        os.unlink(os.path.join(folder, f"commit-{index}"))
    os.rmdir(folder)
    starts = []
    for _ in range(5):
        t0 = time.monotonic()
        subprocess.run([drctl, "--version"], capture_output=True)
        starts.append(time.monotonic() - t0)
    rates["start_s"] = min(starts)
    rates["drctl_bench_output"] = [line for out in outputs for line in out.strip().splitlines()]
    log("rates: " + ", ".join(f"{k} {1 / v / 1e6:.0f} MB/s" for k, v in rates.items()
                              if k not in ("start_s", "durable_commit_s", "disk_write_bytes_per_s", "disk_read_bytes_per_s", "drctl_bench_output"))
        + f", disk write {rates['disk_write_bytes_per_s'] / 1e6:.0f} MB/s, disk read {rates['disk_read_bytes_per_s'] / 1e6:.0f} MB/s,"
        f" start {rates['start_s'] * 1000:.0f} ms, durable commit {rates['durable_commit_s'] * 1000:.1f} ms")
    return rates


def bounds(rates, cores, store_bytes, stored_bytes, plain, changed_page_bytes, changed_stored_bytes,
           one_mailbox_bytes, one_mailbox_stored, changed_mailbox_bytes=None):
    """{operation: {"bound_s": wall bound, "cpu_s": the CPU work in it}} for drctl's operations."""
    r = rates
    zstd = r.get("zstd_compress", 0.0) if plain else 0.0
    unzstd = r.get("zstd_decode", 0.0) if plain else 0.0
    read_side = r["page_cache_read"] + r["blake2b"] + zstd

    def backup(b, s, targets, extra=0.0):
        return b * read_side + s * (r["seal"] + targets * r["page_cache_write"]) + extra

    def incremental(targets):
        if changed_mailbox_bytes is None:  # an older JSON file: the bound as it was
            return backup(changed_page_bytes, changed_stored_bytes, targets)
        scan = r["page_cache_read"] + r.get("sha256_s3_payload", r["blake2b"])
        return (changed_mailbox_bytes * scan + changed_page_bytes * (r["blake2b"] + zstd)
                + changed_stored_bytes * (r["seal"] + targets * r["page_cache_write"]))

    # Two ordered durable commits (older JSON files have no figure: then none).
    commits = 2 * r.get("durable_commit_s", 0.0) if changed_mailbox_bytes is not None else 0.0

    def restore(b, s, extra=0.0):
        return s * (r["page_cache_read"] + r["open"]) + b * (r["blake2b"] + unzstd + r["page_cache_write"]) + extra

    disk = r["disk_write_bytes_per_s"]
    # Older JSON files have no read rate: then reads from the disk are not bounded.
    disk_read = r.get("disk_read_bytes_per_s", float("inf"))
    s3_copies = 3 * stored_bytes * r["page_cache_write"]
    # operation: (CPU seconds of work, bytes that must reach the disk, bytes read from the disk:
    # the repository, read cold by restores and checks)
    work = {
        "full backup, 1 target": (backup(store_bytes, stored_bytes, 1), 0, 0),
        "full backup, 2 targets": (backup(store_bytes, stored_bytes, 2), 0, 0),
        "incremental, 1 target": (incremental(1), 0, 0, commits),
        "incremental, 2 targets": (incremental(2), 0, 0, commits),
        "restore + sync": (restore(store_bytes, stored_bytes), store_bytes, stored_bytes),
        "restore one mailbox (fsynced)": (restore(one_mailbox_bytes, one_mailbox_stored), one_mailbox_bytes, one_mailbox_stored),
        "check --read-data": (stored_bytes * (r["page_cache_read"] + r["open"]) + store_bytes * (r["blake2b"] + unzstd), 0,
                              stored_bytes),
        "full backup over S3": (backup(store_bytes, stored_bytes, 1, s3_copies), 0, 0),
        "restore over S3": (restore(store_bytes, stored_bytes, s3_copies), store_bytes, 0),
    }
    # operation: (..., wall time that no core can shorten: the durable commits' waits)
    return {k: {"bound_s": round(r["start_s"] + max(w[0] / cores, w[1] / disk, w[2] / disk_read) + (w[3] if len(w) > 3 else 0.0), 3),
                "cpu_s": round(w[0], 3)} for k, w in work.items()}
