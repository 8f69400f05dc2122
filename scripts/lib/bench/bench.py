#!/usr/bin/env python3
"""drctl side by side with restic and borg on the same generated mail stores, in one run (issue 14).

Stores (--stores): "plain" (plain SQLite, WAL) and "chacha20" (SQLite3MultipleCiphers chacha20,
WAL) hold the same messages (same seeds); "mixed" is the older mix of ciphers and journal modes.
Each also has one large mailbox (~50 MB, --big-messages) for the point-in-time restore of one
mailbox. Tools: drctl with one file:// target (drctl-1, like for like) and with two (drctl-2),
on the plain store also drctl with one target and `[backup] compression = "fast"` (drctl-fast),
restic and borg on a local folder, and, with S3 servers (--own-s3 or --s3-servers), drctl and
restic on SeaweedFS over S3 (drctl-s3, restic-s3) through a byte-counting relay on loopback.

Per store, per repeat (tools in an order that rotates from run to run):
  full backup; the change (~1 % of the rows of 10 % of the mailboxes, writers then exit) and
  its changed page bytes; incremental backup; restore of everything (and + sync), compared byte
  for byte with the store; point-in-time restore of the large mailbox (local tools); check
  --read-data (drctl-1, restic, borg --verify-data); then incremental under live writers (writers
  keep committing during each tool's backup; their longest and p99 transaction), beside the
  same writers with no backup running.
Per operation: wall, CPU (user+sys), peak RSS, bytes read and written by the process
(/proc/PID/io), bytes stored, and over S3 bytes uploaded and downloaded. Also the physical bound
of each of drctl's operations on this machine (bench_bound.py says how) and drctl ÷ bound.

Prints absolute figures and ratios (drctl/restic, drctl/borg) with the issue's goals, met or
not; --json FILE keeps every figure per run with the machine and versions; --markdown FILE
writes the tables for docs/BENCHMARKS.md. Fails loudly (exit 1) when a tool fails or a restore
differs from the original. Run through scripts/bench, which installs the tools and builds drctl.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_measure import MiB, BenchError, disk_of, evict, log, machine, run, tree_bytes, uptime_line, write_private  # noqa: E402
# What scale.py, frequent_timer.py and s3_latency.py import from here.
from bench_measure import cpu_busy_seconds, measure, same_bytes  # noqa: E402,F401


def parse_time_v(path):
    """The figures of a `/usr/bin/time -v -o FILE` report (s3_latency.py measures that way)."""
    values = {}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.strip().rpartition(": ")
            values[key] = value
    return {
        "max_rss_kib": int(values.get("Maximum resident set size (kbytes)", 0)),
        "user_s": float(values.get("User time (seconds)", 0)),
        "sys_s": float(values.get("System time (seconds)", 0)),
        "exit": int(values.get("Exit status", -1)) if "Exit status" in values else None,
    }


TOOLS = ("drctl", "restic", "borg")
DEFAULT_MIX = "chacha20-wal:60,sqlcipher-wal:15,none-wal:10,chacha20-delete:5,sqlcipher-delete:5,none-delete:5"
STORE_MIX = {"plain": "none-wal:1", "chacha20": "chacha20-wal:1"}
MARKER = ".drctl-bench"


# ---------------------------------------------------------------------------------------------
# the stores


def parse_mix(spec):
    mix = []
    for part in spec.split(","):
        name, _, weight = part.partition(":")
        cipher, _, journal = name.strip().partition("-")
        if cipher not in ("none", "chacha20", "sqlcipher") or journal not in ("wal", "delete"):
            raise BenchError(f"--mix: {name!r} is not <none|chacha20|sqlcipher>-<wal|delete>")
        mix.append((cipher, journal, float(weight or 1)))
    return mix


def allocate(total, mix):
    """Largest-remainder split of `total` mailboxes over the mix weights."""
    weights = sum(w for _, _, w in mix)
    exact = [total * w / weights for _, _, w in mix]
    counts = [int(x) for x in exact]
    order = sorted(range(len(mix)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return [(c, j, n) for (c, j, _), n in zip(mix, counts) if n > 0]



def generate_store(args, gen, mailbox_key, kind, folder):
    """One store: the mailboxes of the kind's mix, in parallel generator processes (two at a
    time, as many cores as the machine has), plus the large mailbox. The same seeds for every
    kind, so "plain" and "chacha20" hold the same messages."""
    mix = parse_mix(STORE_MIX.get(kind, args.mix))
    jobs = []
    for index, (cipher, journal, count) in enumerate(allocate(args.mailboxes, mix)):
        halves = [count // 2, count - count // 2] if count > 1 else [count]
        for part, n in enumerate(h for h in halves if h):
            jobs.append((["--count", str(n), "--messages", str(args.messages),
                          "--messages-jitter", str(args.messages_jitter), "--seed", str(args.seed * 1000 + part),
                          "--cipher", cipher, "--journal", journal, f"--suffix=-p{index}{part}.db"]))
    big_cipher, big_journal = ("none", "wal") if kind == "plain" else ("chacha20", "wal")
    jobs.append(["--count", "1", "--messages", str(args.big_messages), "--messages-jitter", "0",
                 "--seed", str(args.seed * 1000 + 999), "--cipher", big_cipher, "--journal", big_journal,
                 "--suffix=-big.db"])
    os.makedirs(folder)
    t0 = time.monotonic()
    created, running = [], []
    parallel = max(1, os.cpu_count() or 1)
    pending = list(jobs)
    while pending or running:
        while pending and len(running) < parallel:
            argv = [sys.executable, gen, "create", "--dir", folder, "--key-file", mailbox_key] + pending.pop(0)
            running.append((argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        argv, process = running.pop(0)
        out, err = process.communicate()
        if process.returncode != 0:
            raise BenchError(f"{' '.join(argv)} exited {process.returncode}\n{err[-2000:]}")
        created += json.loads(out)
    for mailbox in created:
        mailbox["name"] = os.path.basename(mailbox["path"])
    big = [m for m in created if m["name"].endswith("-big.db")][0]
    size = tree_bytes(folder)
    log(f"store {kind}: {len(created)} mailboxes, {size / MiB:.1f} MiB, generated in {time.monotonic() - t0:.1f} s")
    return {"kind": kind, "folder": folder, "created": created, "big": big["name"],
            "info": {"mailboxes": len(created), "bytes": size, "generate_s": round(time.monotonic() - t0, 1),
                     "big_mailbox": big["name"], "big_mailbox_bytes": os.path.getsize(big["path"]),
                     "big_mailbox_messages": big["messages"],
                     "by_kind": {f"{c}-{j}": n for c, j, n in allocate(args.mailboxes, mix)}}}


# ---------------------------------------------------------------------------------------------
# one run: one store, every tool, every operation


class Context:
    pass


def variants_for(ctx, kind):
    """The tool variants of this run, by name. On the plain store also drctl-fast: one target,
    `[backup] compression = "fast"` (zstd -1; pages of the encrypted store are never
    compressed, so there it would be drctl-1 again)."""
    import bench_tools
    tools = ctx.args.tools
    names = []
    if "drctl" in tools:
        names += ["drctl-1", "drctl-2"] + (["drctl-fast"] if kind == "plain" else [])
    names += [t for t in ("restic", "borg") if t in tools]
    if ctx.s3:
        names += [n for n, t in (("drctl-s3", "drctl"), ("restic-s3", "restic")) if t in tools]
    made = {}
    for name in names:
        if name == "drctl-1":
            made[name] = bench_tools.Drctl(ctx, name, file_targets=1)
        elif name == "drctl-2":
            made[name] = bench_tools.Drctl(ctx, name, file_targets=2)
        elif name == "drctl-fast":
            made[name] = bench_tools.Drctl(ctx, name, file_targets=1, compression="fast")
        elif name == "restic":
            made[name] = bench_tools.Restic(ctx, name)
        elif name == "borg":
            made[name] = bench_tools.Borg(ctx, name)
        else:
            place = bench_tools.S3Place(ctx.s3["server"], ctx.s3["counter"], f"{ctx.s3['prefix']}/{name}",
                                        ctx.s3["credentials"])
            made[name] = (bench_tools.Drctl(ctx, name, s3=place) if name == "drctl-s3"
                          else bench_tools.Restic(ctx, name, s3=place))
    return made


def rotated(names, shift):
    shift %= max(1, len(names))
    return names[shift:] + names[:shift]


def sync_seconds():
    t0 = time.monotonic()
    subprocess.run(["sync"], check=False)
    return round(time.monotonic() - t0, 3)


def one_run(args, ctx, store, run_index, store_index):
    from bench_change import change_mailboxes, compare_one, compare_restore, extra_files
    from bench_writers import LiveWriters
    ctx.work = os.path.join(os.path.abspath(args.workdir), f"run-{run_index}-{store['kind']}")
    ctx.store = os.path.join(ctx.work, "store")
    os.makedirs(os.path.join(ctx.work, "time"))
    # A fresh copy of the generated store for every run: each run changes it.
    subprocess.run(["cp", "-a", store["folder"], ctx.store], check=True)
    created = [dict(m, path=os.path.join(ctx.store, m["name"])) for m in store["created"]]
    big = os.path.join(ctx.store, store["big"])
    variants = variants_for(ctx, store["kind"])
    names = list(variants)
    order = rotated(names, run_index - 1 + store_index)
    local = [n for n in order if not n.endswith("-s3")]
    log(f"run {run_index}, store {store['kind']}: order {' '.join(order)}")
    result = {"store": store["kind"], "store_info": store["info"], "order": order, "variants": {n: {} for n in names},
              "uptime_before": uptime_line()}
    for name in order:
        variants[name].init()
        result["variants"][name]["initial_bytes"] = variants[name].sizes()
    if "restic" in variants:
        result["restic_repository_version"] = variants["restic"].repository_version
    result["wal_shm_journal_files_at_full_backup"] = extra_files(ctx.store)

    for name in order:
        entry = result["variants"][name]
        entry["full"] = variants[name].backup("full backup")
        entry["after_full_bytes"] = variants[name].sizes()

    result["change"] = change_mailboxes(ctx, created)
    for name in order:
        entry = result["variants"][name]
        entry["incremental"] = variants[name].backup("incremental backup")
        entry["after_incremental_bytes"] = variants[name].sizes()
        entry["growth"] = {k: entry["after_incremental_bytes"][k] - entry["after_full_bytes"][k]
                           for k in ("per_target", "total")}

    def cold(name):
        """With --repositories cold (the default), the tool's local repository leaves the page
        cache before it is read: a restore after a disaster, or a check of last night's backup,
        reads from the disk. drctl writes packs with direct I/O, so its repository is cold
        anyway; restic's and borg's were just written through the page cache and would be read
        from memory (docs/BENCHMARKS.md). S3 repositories stay as the server keeps them."""
        if args.repositories == "cold":
            return {"evicted_bytes": evict(variants[name].local_repositories())}
        return {}

    for name in order:
        entry = result["variants"][name]
        destination = os.path.join(ctx.work, "restore", name)
        evicted = cold(name)
        measured, root = variants[name].restore(destination)
        measured.update(evicted)
        # drctl fsyncs every restored file, restic and borg do not: a sync right after puts them
        # on the same footing (durable on disk).
        measured["sync_after_s"] = sync_seconds()
        entry["restore"] = measured
        entry["restore_check"] = compare_restore(ctx, variants[name].kind, root)
        shutil.rmtree(destination)

    for name in local:
        entry = result["variants"][name]
        destination = os.path.join(ctx.work, "restore-one", name)
        evicted = cold(name)
        measured, restored = variants[name].restore_one(destination, big)
        measured.update(evicted)
        measured["sync_after_s"] = sync_seconds()
        entry["restore_one"] = measured
        entry["restore_one_check"] = compare_one(ctx, variants[name].kind, big, restored)
        shutil.rmtree(destination)

    for name in local:
        if name != "drctl-2":
            evicted = cold(name)
            result["variants"][name]["check"] = variants[name].check()
            result["variants"][name]["check"].update(evicted)

    if args.live_writers:
        rng = random.Random(args.seed + 11)
        chosen = sorted(rng.sample([m for m in created if m["path"] != big and m["journal"] == "wal"],
                                   min(args.live_writers, len(created) - 1)), key=lambda m: m["path"])
        # The writers alone, for as long as a backup takes: their baseline on this machine.
        writers = LiveWriters(ctx, chosen, "alone", args.writer_pause_ms)
        writers.start()
        time.sleep(args.writers_alone_s)
        result["writers_alone"] = writers.stop()
        result["writers_alone"]["seconds"] = args.writers_alone_s
        for name in local:
            writers = LiveWriters(ctx, chosen, name, args.writer_pause_ms)
            pids = writers.start()
            ctx.helper_pids = list(ctx.base_helper_pids) + pids
            try:
                measured = variants[name].backup("incremental under live writers", live=True)
            finally:
                ctx.helper_pids = list(ctx.base_helper_pids)
                stats = writers.stop()
            measured["writers"] = stats
            result["variants"][name]["live"] = measured
    result["uptime_after"] = uptime_line()
    for name in names:
        if getattr(variants[name], "s3", None):
            try:
                variants[name].s3.delete()
            except Exception as error:  # noqa: BLE001 - cleaning up is best effort, and said
                log(f"could not delete {variants[name].s3.prefix}: {error}")
    if not args.keep:
        shutil.rmtree(ctx.work)
    return result


# ---------------------------------------------------------------------------------------------
# S3: SeaweedFS from scripts/s3-servers, reached through the byte counter


def setup_s3(args, ctx, secrets_dir):
    """{server, counter, prefix, credentials} or None; starts servers of our own with --own-s3."""
    servers_file = args.s3_servers or (None if args.no_s3 else os.environ.get("DRCTL_S3_SERVERS"))
    if args.own_s3:
        log(f"starting S3 servers in {args.own_s3} (scripts/s3-servers start; about a minute)")
        subprocess.run([os.path.join(args.root, "scripts", "s3-servers"), "start", "--dir", args.own_s3], check=True,
                       stdout=subprocess.DEVNULL)
        servers_file = os.path.join(args.own_s3, "servers.json")
    if args.no_s3 or not servers_file:
        return None
    import s3_latency
    from bench_tcpcount import TcpCounter
    with open(servers_file) as handle:
        entry = {s["name"]: s for s in json.load(handle)["servers"]}["seaweedfs"]
    server = s3_latency.Server(entry)
    credentials = os.path.join(secrets_dir, "seaweedfs.credentials")
    write_private(credentials, server.credentials_text())
    counter = TcpCounter(int(server.endpoint.rsplit(":", 1)[1]))
    pids = s3_latency.server_pids(servers_file).get("seaweedfs", [])
    prefix = f"drctl-bench/{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    log(f"S3: SeaweedFS at {server.endpoint} (counted through {counter.endpoint}), prefix {prefix}")
    return {"server": server, "counter": counter, "prefix": prefix, "credentials": credentials, "pids": pids,
            "servers_file": servers_file}


# ---------------------------------------------------------------------------------------------
# main


def versions(drctl, tools):
    v = {"drctl": run([drctl, "--version"]).strip()}
    # The commit the binary was built from (the bench's own tree; "+dirty" when its Sources changed).
    root = os.path.dirname(os.path.dirname(os.path.dirname(drctl)))
    try:
        # The last commit that changed what the binary is built from (not the bench's own commits).
        head = run(["git", "-C", root, "log", "-1", "--format=%h", "--", "Sources", "Package.swift"]).strip()
        dirty = run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", "Sources",
                     "Package.swift"]).strip()
        v["drctl_sources_commit"] = head + ("+dirty" if dirty else "")
    except BenchError:
        pass
    if "restic" in tools:
        v["restic"] = run(["restic", "version"]).strip()
    if "borg" in tools:
        v["borg"] = run(["borg", "--version"]).strip()
    v["zstd"] = run(["zstd", "--version"]).strip()
    return v


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true",
                        help="run the scale benchmark instead (issue 9); its options: scripts/bench --scale --help")
    parser.add_argument("--frequent", action="store_true",
                        help="run the frequent-timer benchmark instead (issue 11); scripts/bench --frequent --help")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run, ~1-2 min: 16 mailboxes x 600 messages and a 1500-message large one")
    parser.add_argument("--stores", default="plain,chacha20",
                        help="comma list of plain, chacha20, mixed (default plain,chacha20)")
    parser.add_argument("--mailboxes", type=int, help="mailboxes per store besides the large one (default 150; --quick 16)")
    parser.add_argument("--messages", type=int, help="messages per mailbox (default 1000; --quick 600)")
    parser.add_argument("--messages-jitter", type=int, help="+/- messages per mailbox (default 30%%)")
    parser.add_argument("--big-messages", type=int,
                        help="messages of the large mailbox restored alone (default 9000, ~50 MB; --quick 1500)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"the mixed store's cipher-journal:weight list ({DEFAULT_MIX})")
    parser.add_argument("--changed-fraction", type=float, default=0.10, help="share of mailboxes changed")
    parser.add_argument("--row-fraction", type=float, default=0.01,
                        help="writer transactions per changed mailbox, as a share of its messages")
    parser.add_argument("--live-writers", type=int, default=4,
                        help="writers committing during the incremental under live writers (0: skip it; default 4)")
    parser.add_argument("--writer-pause-ms", type=int, default=20,
                        help="each live writer sleeps a random 0..MS between transactions (default 20)")
    parser.add_argument("--writers-alone-s", type=float,
                        help="seconds the writers run with no backup, for their baseline (default 3; --quick 1)")
    parser.add_argument("--tools", default="drctl,restic,borg", help="comma list (default all three)")
    parser.add_argument("--repeat", type=int, default=1, help="whole runs per store; the tables show medians")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--s3-servers", help="servers.json of a running scripts/s3-servers pair (default "
                                             "$DRCTL_S3_SERVERS): adds drctl-s3 and restic-s3 on SeaweedFS")
    parser.add_argument("--own-s3", metavar="DIR", nargs="?", const=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "drctl-bench-s3"),
                        help="start scripts/s3-servers in DIR (default $TMPDIR/drctl-bench-s3) and stop it at the end")
    parser.add_argument("--no-s3", action="store_true", help="no S3 rows even when $DRCTL_S3_SERVERS is set")
    parser.add_argument("--no-bound", action="store_true", help="do not measure the physical bound")
    parser.add_argument("--repositories", choices=("cold", "warm"), default="cold",
                        help="cold (default): every tool's local repository is evicted from the page cache "
                             "before each restore and check, as after a disaster; warm: read as left")
    parser.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "drctl-bench"),
                        help="scratch folder, emptied first (default $TMPDIR/drctl-bench)")
    parser.add_argument("--keep", action="store_true", help="keep stores, repositories and restores")
    parser.add_argument("--json", dest="json_file", help="write every figure of every run to this file")
    parser.add_argument("--markdown", help="write the tables as Markdown to this file (for docs/BENCHMARKS.md)")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), help=argparse.SUPPRESS)
    parser.add_argument("--drctl", help="drctl binary (default ROOT/.build/release/drctl)")
    parser.add_argument("--drctl-bench", help="drctl-bench binary (default ROOT/.build/release/drctl-bench)")
    parser.add_argument("--no-build", action="store_true", help="do not run swift build (scripts/bench)")
    args = parser.parse_args(argv)
    args.mailboxes = args.mailboxes or (16 if args.quick else 150)
    args.messages = args.messages or (600 if args.quick else 1000)
    args.big_messages = args.big_messages or (1500 if args.quick else 9000)
    args.writers_alone_s = args.writers_alone_s or (1.0 if args.quick else 3.0)
    if args.messages_jitter is None:
        args.messages_jitter = int(args.messages * 0.3)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if any(t not in TOOLS for t in args.tools):
        parser.error(f"--tools: choose among {', '.join(TOOLS)}")
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if any(s not in ("plain", "chacha20", "mixed") for s in args.stores):
        parser.error("--stores: choose among plain, chacha20, mixed")
    if args.own_s3:
        args.own_s3 = os.path.abspath(args.own_s3)
    return args


def main():
    if "--scale" in sys.argv[1:]:
        # The scale benchmark (issue 9): its own harness and options (scripts/bench --scale --help).
        import scale
        return scale.main([a for a in sys.argv[1:] if a != "--scale"])
    if "--frequent" in sys.argv[1:]:
        # The frequent timer's cost with nothing changed (issue 11): scripts/bench --frequent --help.
        import frequent_timer
        return frequent_timer.main([a for a in sys.argv[1:] if a != "--frequent"])
    args = parse_args(sys.argv[1:])
    import bench_bound
    import bench_report as report
    drctl = os.path.abspath(args.drctl or os.path.join(args.root, ".build", "release", "drctl"))
    drctl_bench = os.path.abspath(args.drctl_bench or os.path.join(args.root, ".build", "release", "drctl-bench"))
    if not os.access(drctl, os.X_OK):
        raise SystemExit(f"bench: {drctl} is missing; run scripts/bench without --no-build")
    if not args.no_bound and not os.access(drctl_bench, os.X_OK):
        raise SystemExit(f"bench: {drctl_bench} is missing (the physical bound needs it); run scripts/bench "
                         "without --no-build, or pass --no-bound")

    workdir = os.path.abspath(args.workdir)
    if os.path.exists(workdir):
        if not os.path.exists(os.path.join(workdir, MARKER)):
            raise SystemExit(f"bench: {workdir} exists and is not a bench folder (no {MARKER}); choose another")
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    open(os.path.join(workdir, MARKER), "w").close()
    command = "scripts/bench " + " ".join(a for a in sys.argv[1:] if not a.startswith("--root") and a != args.root)

    ctx = Context()
    ctx.args, ctx.drctl = args, drctl
    ctx.gen = os.path.join(args.root, "scripts", "gen-mailstore")
    ctx.secrets = os.path.join(workdir, "secrets")
    os.makedirs(ctx.secrets, mode=0o700)
    ctx.mailbox_key = os.path.join(ctx.secrets, "mailbox.key")
    write_private(ctx.mailbox_key, os.urandom(32).hex() + "\n")
    started = time.monotonic()
    uptime_start = uptime_line()
    tool_versions = versions(drctl, args.tools)
    runs, stores, rates = [], {}, None
    ctx.s3 = None
    try:
        ctx.s3 = setup_s3(args, ctx, ctx.secrets)
        ctx.base_helper_pids = list(ctx.s3["pids"]) if ctx.s3 else []
        ctx.helper_pids = list(ctx.base_helper_pids)
        if not ctx.s3:
            log("no S3 servers (--own-s3, --s3-servers or $DRCTL_S3_SERVERS): the S3 rows are left out")
        for kind in args.stores:
            stores[kind] = generate_store(args, ctx.gen, ctx.mailbox_key, kind, os.path.join(workdir, "stores", kind))
        if not args.no_bound:
            plain = stores.get("plain")
            sample = os.path.join(plain["folder"], plain["big"]) if plain else None
            rates = bench_bound.measure_rates(os.path.join(workdir, "bound"), drctl, drctl_bench, sample)
        for index in range(args.repeat):
            for store_index, kind in enumerate(args.stores):
                log(f"run {index + 1} of {args.repeat}, store {kind}")
                runs.append(one_run(args, ctx, stores[kind], index + 1, store_index))
    except BenchError as error:
        raise SystemExit(f"bench: {error}")
    finally:
        if ctx.s3:
            ctx.s3["counter"].close()
        if args.own_s3:
            subprocess.run([os.path.join(args.root, "scripts", "s3-servers"), "stop", "--dir", args.own_s3],
                           stdout=subprocess.DEVNULL)

    summary, sections, bad = {}, [], []
    goal_table, bound_table = [], []
    for kind in args.stores:
        kind_runs = [r for r in runs if r["store"] == kind]
        combined = report.combine(kind_runs)
        r = kind_runs[0]
        info = r["store_info"]
        entry = {"combined": combined}
        if rates:
            drctl1 = [x["variants"]["drctl-1"] for x in kind_runs if "drctl-1" in x["variants"]]
            if drctl1:
                stored = statistics.median(e["after_full_bytes"]["per_target"] for e in drctl1)
                entry["bounds"] = bench_bound.bounds(
                    rates, os.cpu_count() or 1, info["bytes"], stored, kind == "plain",
                    statistics.median(x["change"]["changed_page_bytes"] for x in kind_runs),
                    statistics.median(e["growth"]["per_target"] for e in drctl1),
                    info["big_mailbox_bytes"], info["big_mailbox_bytes"] * stored / info["bytes"],
                    statistics.median(x["change"]["changed_mailbox_bytes"] for x in kind_runs))
                bound_table += report.bound_rows(combined, entry["bounds"], kind)[1]
        summary[kind] = entry
        goal_table += report.goal_rows(combined, kind)[1]
        changed = statistics.median(x["change"]["changed_page_bytes"] for x in kind_runs)
        title = (f"store {kind}: {info['mailboxes']} mailboxes, {info['bytes'] / MiB:.1f} MiB (the large one "
                 f"{info['big_mailbox_bytes'] / MiB:.1f} MiB, {info['big_mailbox_messages']} messages); changed: "
                 f"{r['change']['mailboxes']} mailboxes, {r['change']['writer_transactions']} writer transactions, "
                 f"{changed / MiB:.2f} MiB of changed pages; runs: {len(kind_runs)}"
                 + (" (medians)" if len(kind_runs) > 1 else "")
                 + f"; repositories read {args.repositories} by restores and checks")
        if "writers_alone" in r:
            w = r["writers_alone"]
            title += (f"; live writers: {w['writers']}, pause 0–{args.writer_pause_ms} ms; alone for "
                      f"{w['seconds']} s: {w['committed']} transactions, longest {w['max_transaction_ms']:.0f} ms, "
                      f"p99 {w['p99_transaction_ms_worst_writer']:.0f} ms")
        sections.append((kind, title, report.absolute_rows(combined), report.ratio_rows(combined)))
        for x in kind_runs:
            for v, e in x["variants"].items():
                for check in (e["restore_check"], e.get("restore_one_check")):
                    if check and (check["different"] or check["missing"]):
                        bad.append(f"{kind} run: {v}: different {check['different']}, missing {check['missing']}")

    goals_header = ["store", "goal", "limit", "measured", "verdict"]
    bound_header = report.BOUND_HEADER
    for markdown in (False, True):
        out = []
        for kind, title, (h1, r1), (h2, r2) in sections:
            out += ["", ("### " if markdown else "") + title, "", report.render(h1, r1, markdown), "",
                    report.render(h2, r2, markdown)]
        out += ["", ("### " if markdown else "") + "Goals (issue 14)", "", report.render(goals_header, goal_table, markdown)]
        if bound_table:
            out += ["", ("### " if markdown else "") + "Physical bound (bench_bound.py)", "",
                    report.render(bound_header, bound_table, markdown)]
            out += ["", "rates: " + ", ".join(f"{k} {1 / v / 1e6:.0f} MB/s per core" for k, v in rates.items()
                                              if k not in ("start_s", "durable_commit_s", "disk_write_bytes_per_s",
                                                           "disk_read_bytes_per_s", "drctl_bench_output")
                                              and not k.startswith("zstd_compress_"))
                    + f"; disk write {rates['disk_write_bytes_per_s'] / 1e6:.0f} MB/s"
                    + (f"; disk read {rates['disk_read_bytes_per_s'] / 1e6:.0f} MB/s" if "disk_read_bytes_per_s" in rates else "")
                    + f"; process start {rates['start_s'] * 1000:.0f} ms"
                    + (f"; durable commit {rates['durable_commit_s'] * 1000:.1f} ms" if "durable_commit_s" in rates else "")]
        text = "\n".join(out)
        if markdown and args.markdown:
            with open(args.markdown, "w") as handle:
                handle.write(text.lstrip() + "\n")
        elif not markdown:
            print(text)
    loads = [e[p]["other_load_cores"] for x in runs for e in x["variants"].values()
             for p in ("full", "incremental", "restore", "restore_one", "check", "live") if p in e]
    print()
    print(f"- Tool order per run: " + "; ".join(f"{x['store']}: {' '.join(x['order'])}" for x in runs) + ".")
    print(f"- Other load while a tool ran: up to {max(loads):.2f} cores of {os.cpu_count()}"
          + (" (NOISY: repeat with --repeat N or when the machine is idle)." if max(loads) >= 0.3 else " (quiet)."))
    print(f"- uptime at start: {uptime_start}; at end: {uptime_line()}")
    if ctx.s3:
        print("- S3: SeaweedFS on loopback, every byte through bench_tcpcount.py (splice relay, counts HTTP "
              "headers too); the server's CPU is in helper_cpu_s of the JSON, not in 'other load'.")
    for line in bad:
        print(f"- RESTORE MISMATCH {line}")
    if args.json_file:
        document = {"command": command, "machine": dict(machine(), disk=disk_of(workdir)),
                    "versions": tool_versions,
                    "arguments": {k: v for k, v in vars(args).items() if k not in ("root", "json_file")},
                    "uptime_start": uptime_start, "uptime_end": uptime_line(),
                    "elapsed_s": round(time.monotonic() - started, 1), "rates": rates,
                    "summary": summary, "goals": [dict(zip(goals_header, row)) for row in goal_table],
                    "bounds": [dict(zip(bound_header, row)) for row in bound_table], "runs": runs}
        with open(args.json_file, "w") as handle:
            json.dump(document, handle, indent=2, default=str)
        log(f"wrote {args.json_file}")
    if not args.keep:
        shutil.rmtree(os.path.join(workdir, "stores"), ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
