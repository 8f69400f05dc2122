#!/usr/bin/env python3
"""drctl backups to two real S3 servers, one of them behind 100 ms of added latency (issue 10).

    python3 scripts/lib/bench/s3_latency.py [--own-servers [DIR] | --servers FILE] [--repeat 3]
        [--latency-ms 100] [--cases A,B0,B,C,E,R,F,S,SB] [--mailboxes 30] [--messages 1000]
        [--json FILE] [--markdown FILE]                        (--help for the rest)

Needs S3 servers of scripts/s3-servers: --own-servers starts a pair in DIR and stops it at the
end; or --servers / $DRCTL_S3_SERVERS names a running pair's servers.json ("seaweedfs" and
"radosgw"). Also a release drctl (--drctl; default .build-release/release/drctl, else
.build/release/drctl; --build makes .build-release), python3-boto3 and /usr/bin/time.
See docs/BENCHMARKS.md, "S3 targets and a distant region".

Cases (targets named "near" = seaweedfs and "far" = radosgw, each on a fresh prefix of the
"plain" bucket, with a fresh state folder and repository key; nothing is shared between runs):
  A   near + far, both direct
  B0  near direct + far behind scripts/lib/tests/s3_fault_proxy.py with latency 0 (the proxy's
      own cost: a Python process forwarding every byte on the same cores)
  B   near direct + far behind the proxy with --latency-ms before every request
  C   near alone
  E   as B, with `concurrency = --slow-concurrency` (default 8) on far
  R   far alone, direct (radosgw's own pace)
  F   far alone behind the proxy with --latency-ms
  S   near + a second target "far" on seaweedfs too (its own prefix), direct: radosgw answers
      most requests in ~45 ms even on loopback, seaweedfs in ~1 ms, so S and SB show what the
      latency costs next to a target that is really near
  SB  as S, far behind the proxy with --latency-ms
Every case, every repetition: drctl init (not timed), a full backup, then --changed mailboxes
get 1 % of their messages in writer transactions (gen-mailstore write, which then exits), then
an incremental backup. Each backup: `drctl backup --json --no-progress` under /usr/bin/time -v
(wall, peak RSS, CPU), its report's durationSeconds and targets[].transfer. While it runs, a
thread lists each target's prefix on its server directly (never through the proxy) every
--poll-s seconds: the first time each object is seen gives when each target had its last pack
and its snapshot manifest (the report does not say when each target finished). The CPU that the
S3 servers (pids from their .state files), the proxy and this harness used meanwhile is
measured apart from drctl's; "other" is the rest of the machine (the noise indicator).
The case order rotates between repetitions. Prefixes are deleted after each case (--keep-objects
keeps them) and radosgw's garbage collected (radosgw-admin gc process: its memstore OSD would
fill otherwise, see purge_radosgw). Prints tables of medians (min–max over repetitions).
"""
import argparse
import datetime
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import DEFAULT_MIX, allocate, cpu_busy_seconds, parse_mix, parse_time_v, write_private  # noqa: E402

MiB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MARKER = ".drctl-bench-s3-latency"
CASES = {
    "A": "two targets, both direct",
    "B0": "far behind the proxy, 0 ms",
    "B": "far behind the proxy, {L} ms",
    "C": "near alone",
    "E": "as B, far concurrency {K}",
    "R": "far alone, direct",
    "F": "far alone behind the proxy, {L} ms",
    "S": "near + far on seaweedfs too, direct",
    "SB": "near + far on seaweedfs too, far behind the proxy, {L} ms",
}
PROXIED = {"B0": 0, "B": None, "E": None, "F": None, "SB": None}   # None: --latency-ms


def log(message):
    print(f"s3-latency: {message}", file=sys.stderr, flush=True)


class Failed(RuntimeError):
    pass


def run(argv, env=None, check=True):
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited {done.returncode}\n{done.stderr[-2000:]}")
    return done.stdout


# ---------------------------------------------------------------------------------------------
# CPU of other processes


def pid_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def server_pids(servers_file):
    """{server name: [pid]} from scripts/s3-servers' <name>.state files beside servers.json."""
    folder = os.path.dirname(os.path.abspath(servers_file))
    pids = {}
    for name in ("seaweedfs", "radosgw"):
        try:
            with open(os.path.join(folder, f"{name}.state")) as handle:
                pids[name] = [int(line.split()[1]) for line in handle if line.startswith("pid ")]
        except (OSError, ValueError, IndexError):
            pids[name] = []
    return pids


def purge_radosgw(servers_file):
    """radosgw deletes lazily (its garbage collector frees a deleted object's space after
    rgw_gc_obj_min_wait, 2 h): scripts/s3-servers' memstore OSD (RAM, 3-6 GiB) fills after
    ~20 full backups even though every prefix is deleted, and then refuses every write until
    someone frees space. So after each case the garbage is collected at once, when the servers are
    scripts/s3-servers' own (DIR/radosgw/ceph.conf beside servers.json)."""
    conf = os.path.join(os.path.dirname(os.path.abspath(servers_file)), "radosgw", "ceph.conf")
    if not os.path.exists(conf) or not shutil.which("radosgw-admin"):
        return "not done (no scripts/s3-servers ceph.conf or no radosgw-admin)"
    try:
        done = subprocess.run(["radosgw-admin", "-c", conf, "gc", "process", "--include-all"],
                              capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "timed out (is the OSD full? `ceph -c CONF -s`)"
    return "done" if done.returncode == 0 else f"failed ({done.returncode})"


# ---------------------------------------------------------------------------------------------
# S3: listing and cleaning prefixes directly on the servers


class Server:
    def __init__(self, entry):
        import boto3
        from botocore.config import Config
        self.name = entry["name"]
        self.endpoint = entry["endpoint"]
        self.region = entry["region"]
        self.bucket = entry["buckets"]["plain"]
        self._entry = entry
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                                   aws_access_key_id=entry["access_key_id"],
                                   aws_secret_access_key=entry["secret_access_key"],
                                   config=Config(retries={"max_attempts": 2}))

    def credentials_text(self):
        return (f'# written by scripts/lib/bench/s3_latency.py\naccess_key_id = "{self._entry["access_key_id"]}"\n'
                f'secret_access_key = "{self._entry["secret_access_key"]}"\n')

    def keys(self, prefix):
        """{name under the prefix: size}."""
        names, token = {}, None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix + "/", **extra)
            names.update({o["Key"][len(prefix) + 1:]: o["Size"] for o in page.get("Contents", [])})
            if not page.get("IsTruncated"):
                return names
            token = page["NextContinuationToken"]

    def delete(self, prefix):
        names = list(self.keys(prefix))
        for i in range(0, len(names), 500):
            self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": f"{prefix}/{n}"} for n in names[i:i + 500]], "Quiet": True})
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix + "/")
        for upload in uploads.get("Uploads", []):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])


class Poller:
    """Lists each target's prefix every `interval` s; remembers when each object was first seen."""

    def __init__(self, targets, interval):
        self.targets = targets          # [(target name, Server, prefix)]
        self.interval = interval
        self.seen = {name: {} for name, _, _ in targets}
        self.sizes = {name: {} for name, _, _ in targets}
        self.known = {name: set() for name, _, _ in targets}
        self.stop_event = threading.Event()
        self.polls = 0
        self.errors = 0

    def snapshot_known(self):
        for name, server, prefix in self.targets:
            self.known[name] = set(server.keys(prefix))

    def poll_once(self, t0):
        for name, server, prefix in self.targets:
            try:
                keys = server.keys(prefix)
            except Exception:  # noqa: BLE001 - a failed poll loses resolution, nothing else
                self.errors += 1
                continue
            now = time.monotonic() - t0
            for key, size in keys.items():
                if key not in self.known[name] and key not in self.seen[name]:
                    self.seen[name][key] = now
                    self.sizes[name][key] = size
        self.polls += 1

    def start(self, t0):
        def loop():
            while not self.stop_event.is_set():
                self.poll_once(t0)
                self.stop_event.wait(self.interval)
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def finish(self, t0):
        self.stop_event.set()
        self.thread.join()
        self.poll_once(t0)   # objects written after the last poll: seen "at the end" at the latest

    def timeline(self, name):
        seen = self.seen[name]
        packs = sorted(t for k, t in seen.items() if k.startswith("data/"))
        manifests = sorted(t for k, t in seen.items() if k.startswith("snapshots/"))
        return {"new_objects": len(seen), "packs": len(packs),
                "first_pack_s": round(packs[0], 2) if packs else None,
                "last_pack_s": round(packs[-1], 2) if packs else None,
                "manifest_s": round(manifests[-1], 2) if manifests else None,
                "pack_times_s": [round(t, 2) for t in packs],
                "pack_bytes": sorted(size for k, size in self.sizes[name].items() if k.startswith("data/"))}


def round_trip_ms(endpoint, bucket, count=15):
    """Median time of a small request on one kept-alive connection (an anonymous listing,
    answered 403 by the server: nothing to sign, nothing listed), in ms."""
    import http.client
    host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    times = []
    for _ in range(count):
        t0 = time.monotonic()
        connection.request("GET", f"/{bucket}?list-type=2&max-keys=1")
        connection.getresponse().read()
        times.append((time.monotonic() - t0) * 1000)
    connection.close()
    return round(statistics.median(times[2:]), 1)


# ---------------------------------------------------------------------------------------------
# the proxy


class Proxy:
    def __init__(self, upstream, latency_ms, folder):
        os.makedirs(folder, exist_ok=True)
        self.plan = os.path.join(folder, "plan.json")
        self.stats_file = os.path.join(folder, "stats.json")
        port_file = os.path.join(folder, "port")
        with open(self.plan, "w") as handle:
            json.dump({"latency_ms": latency_ms}, handle)
        self.log = open(os.path.join(folder, "proxy.log"), "w")
        # The proxy logs one line per request when it has answered it (method, path, names of
        # the query's parameters, status; never a signature): each is stamped here on arrival.
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts", "lib", "tests", "s3_fault_proxy.py"),
             "--upstream", upstream, "--port", "0", "--port-file", port_file, "--plan", self.plan,
             "--stats-file", self.stats_file], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def read():
            for line in self.process.stderr:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.log.write(line)
        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        for _ in range(200):
            if os.path.exists(port_file):
                with open(port_file) as handle:
                    self.endpoint = f"http://127.0.0.1:{int(handle.read())}"
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise Failed("the fault proxy did not start (see proxy.log)")

    def trace(self, t0, t1):
        """The requests answered between t0 and t1, as [seconds after t0, "METHOD path status"]."""
        prefix = "s3-fault-proxy: #"
        return [[round(t - t0, 3), line[len(prefix) - 1:]] for t, line in list(self.lines)
                if t0 <= t <= t1 and line.startswith(prefix)]

    def stats(self):
        try:
            with open(self.stats_file) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(5)
        self.log.close()


# ---------------------------------------------------------------------------------------------
# the store


def generate_store(args, store, key):
    os.makedirs(store)
    created = []
    gen = os.path.join(ROOT, "scripts", "gen-mailstore")
    jitter = int(args.messages * 0.3)
    for index, (cipher, journal, count) in enumerate(allocate(args.mailboxes, parse_mix(DEFAULT_MIX))):
        created += json.loads(run([sys.executable, gen, "create", "--dir", store, "--key-file", key,
                                   "--count", str(count), "--messages", str(args.messages),
                                   "--messages-jitter", str(jitter), "--seed", str(args.seed * 1000 + index),
                                   "--cipher", cipher, "--journal", journal]))
    return created


def store_bytes(store):
    return sum(os.path.getsize(os.path.join(store, n)) for n in os.listdir(store))


def reset_changed(store, pristine, chosen):
    """Puts the chosen mailboxes back as generated (new files: new inodes and times)."""
    for mailbox in chosen:
        name = os.path.basename(mailbox["path"])
        for suffix in ("-wal", "-shm", "-journal"):
            try:
                os.remove(os.path.join(store, name + suffix))
            except FileNotFoundError:
                pass
        shutil.copyfile(os.path.join(pristine, name), os.path.join(store, name + ".tmp"))
        os.replace(os.path.join(store, name + ".tmp"), os.path.join(store, name))


def change(args, key, chosen):
    gen = os.path.join(ROOT, "scripts", "gen-mailstore")
    for index, mailbox in enumerate(chosen):
        run([sys.executable, gen, "write", "--db", mailbox["path"], "--cipher", mailbox["cipher"],
             "--key-file", key, "--seed", str(args.seed * 100 + index),
             "--max-transactions", str(max(1, round(mailbox["messages"] * 0.01)))])


# ---------------------------------------------------------------------------------------------
# one backup, measured


def measure_backup(drctl, config, folder, label, poller, pids, proxy):
    time_file = os.path.join(folder, f"{label}.time")
    out_file, err_file = os.path.join(folder, f"{label}.json"), os.path.join(folder, f"{label}.err")
    subprocess.run(["sync"], check=False)
    server_pids_all = [p for ps in pids.values() for p in ps]
    cpu0 = {p: pid_cpu_seconds(p) for p in server_pids_all}
    proxy_pid = proxy.process.pid if proxy else None
    proxy0 = pid_cpu_seconds(proxy_pid) if proxy else 0.0
    stats0 = proxy.stats() if proxy else {}
    self0 = sum(os.times()[:2])
    busy0, load0 = cpu_busy_seconds(), os.getloadavg()[0]
    t0 = time.monotonic()
    poller.start(t0)
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        process = subprocess.run(["/usr/bin/time", "-v", "-o", time_file, "--", drctl, "backup", "--config",
                                  config, "--json", "--no-progress"], stdout=out, stderr=err)
    t1 = time.monotonic()
    wall = t1 - t0
    busy = cpu_busy_seconds() - busy0
    poller.finish(t0)
    if process.returncode != 0:
        with open(err_file, errors="replace") as handle:
            raise Failed(f"{label}: drctl backup exited {process.returncode}\n{handle.read()[-2000:]}")
    with open(out_file) as handle:
        report = json.load(handle)
    if report.get("failures") or not all(t.get("ok") for t in report.get("targets", [])):
        raise Failed(f"{label}: the backup was not complete: {json.dumps(report)[:2000]}")
    stats = parse_time_v(time_file)
    own = stats["user_s"] + stats["sys_s"]
    servers = {name: round(sum(pid_cpu_seconds(p) - cpu0.get(p, 0) for p in ps), 2) for name, ps in pids.items()}
    proxy_cpu = round(pid_cpu_seconds(proxy_pid) - proxy0, 2) if proxy else 0.0
    harness = sum(os.times()[:2]) - self0
    other = max(0.0, busy - own - sum(servers.values()) - proxy_cpu - harness)
    result = {
        "wall_s": round(wall, 3), "duration_s": round(report["durationSeconds"], 3),
        "max_rss_mib": round(stats["max_rss_kib"] / 1024, 1), "cpu_s": round(own, 2),
        "cpu_servers_s": servers, "cpu_proxy_s": proxy_cpu, "cpu_harness_s": round(harness, 2),
        "other_load_cores": round(other / wall, 2), "loadavg_1m_before": round(load0, 2),
        "files": report.get("files"), "files_unchanged": report.get("filesUnchanged"),
        "new_chunk_bytes": report.get("newChunkBytes"),
        "targets": {t["name"]: {"stored_bytes": t.get("storedBytes"), "transfer": t.get("transfer"),
                                "timeline": poller.timeline(t["name"])} for t in report["targets"]},
        "polls": poller.polls, "poll_errors": poller.errors,
    }
    if proxy:
        stats1 = proxy.stats()
        result["proxy"] = {k: stats1.get(k, 0) - stats0.get(k, 0)
                           for k in ("requests", "forwarded", "bytes_in", "bytes_out", "connections")}
        time.sleep(0.1)   # the last log lines
        result["far_requests"] = proxy.trace(t0, t1 + 0.1)
    far = result["targets"].get("far", {}).get("timeline", {})
    near = result["targets"].get("near", {}).get("timeline", {})
    log(f"{label}: {result['wall_s']} s (report {result['duration_s']} s), {result['max_rss_mib']} MiB, "
        f"near last pack {near.get('last_pack_s')} s" + (f", far last pack {far.get('last_pack_s')} s" if far else "")
        + f", other load {result['other_load_cores']}")
    return result


# ---------------------------------------------------------------------------------------------
# one case


def target_toml(name, server, endpoint, prefix, credentials, extra=""):
    return (f'\n[[target]]\nname = "{name}"\nurl = "s3://{server.bucket}/{prefix}"\nendpoint = "{endpoint}"\n'
            f'region = "{server.region}"\ncredentials_file = "{credentials}"\nallow_insecure_http = true\n{extra}')


def run_case(ctx, case, rep):
    args = ctx.args
    folder = os.path.join(ctx.work, "runs", f"{case}-{rep}")
    os.makedirs(folder)
    reset_changed(ctx.store, ctx.pristine, ctx.chosen)
    near = ctx.servers["seaweedfs"]
    far_name = "seaweedfs" if case in ("S", "SB") else "radosgw"
    far = ctx.servers[far_name]
    prefix = f"drctl-bench-latency/{ctx.run_id}-{case}-{rep}"
    proxy = None
    if case in PROXIED:
        latency = args.latency_ms if PROXIED[case] is None else PROXIED[case]
        proxy = Proxy(far.endpoint, latency, os.path.join(folder, "proxy"))
    targets = []
    try:
        text = (f'# written by scripts/lib/bench/s3_latency.py, case {case}\n[store]\npath = "{ctx.store}"\n'
                f'include = ["*.db"]\nfallback_page_size = 1024\n\n[repository]\n'
                f'key_file = "{os.path.join(folder, "repository.key")}"\n\n[state]\n'
                f'path = "{os.path.join(folder, "state")}"\n')
        # One prefix per target: drctl refuses two targets with the same bucket and prefix even
        # on different endpoints ("same location").
        if case not in ("R", "F"):
            targets.append(("near", near))
            text += target_toml("near", near, near.endpoint, f"{prefix}/near", ctx.credentials["seaweedfs"])
        if case != "C":
            targets.append(("far", far))
            extra = f"concurrency = {args.slow_concurrency}\n" if case == "E" else ""
            text += target_toml("far", far, proxy.endpoint if proxy else far.endpoint, f"{prefix}/far",
                                ctx.credentials[far_name], extra)
        config = os.path.join(folder, "drctl.toml")
        with open(config, "w") as handle:
            handle.write(text)
        run([ctx.drctl, "init", "--config", config, "--json"])
        result = {"case": case, "rep": rep, "prefix": prefix, "far_server": far_name}
        poller = Poller([(n, s, f"{prefix}/{n}") for n, s in targets], args.poll_s)
        poller.snapshot_known()
        result["full"] = measure_backup(ctx.drctl, config, folder, f"{case}-{rep} full", poller, ctx.pids, proxy)
        change(args, ctx.key, ctx.chosen)
        poller = Poller([(n, s, f"{prefix}/{n}") for n, s in targets], args.poll_s)
        poller.snapshot_known()
        result["incremental"] = measure_backup(ctx.drctl, config, folder, f"{case}-{rep} incremental", poller,
                                               ctx.pids, proxy)
        return result
    finally:
        if proxy:
            proxy.stop()
        if not args.keep_objects:
            for name, server in targets:
                try:
                    server.delete(f"{prefix}/{name}")
                except Exception as e:  # noqa: BLE001
                    log(f"could not delete {prefix} on {server.name}: {e}")
            outcome = purge_radosgw(args.servers)
            if outcome != "done":
                log(f"radosgw garbage collection {outcome}: deleted objects keep their space for 2 h")


# ---------------------------------------------------------------------------------------------
# the table


def med(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(triple, digits=2, spread=True):
    if triple is None:
        return "–"
    m, lo, hi = triple
    if not spread or lo == hi:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def transfer_text(results, phase, target):
    rows = [r[phase]["targets"].get(target) for r in results]
    rows = [r for r in rows if r]
    if not rows:
        return "–"
    t = [r["transfer"] or {} for r in rows]
    written = med([x.get("bytesWritten", 0) / MiB for x in t])
    total = med([(x.get("faults") or {}).get("requests", 0) for x in t])
    puts = med([x.get("putRequests", 0) for x in t])
    gets = med([x.get("getRequests", 0) for x in t])
    lists = med([x.get("listRequests", 0) for x in t])
    return (f"{written[0]:.1f} MiB; {total[0]:.0f} requests: {puts[0]:.0f} PUT, {gets[0]:.0f} GET, "
            f"{lists[0]:.0f} LIST")


def first_upload(trace):
    """(requests answered before far's first pack upload, when that upload was answered, s)."""
    for index, (t, line) in enumerate(trace or []):
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("PUT", "POST") and "/data/" in parts[2]:
            return index, t
    return None


def table(results, cases, args):
    by = {c: [r for r in results if r["case"] == c] for c in cases}
    label = {c: CASES[c].format(L=args.latency_ms, K=args.slow_concurrency) for c in cases}
    lines = ["| case | targets | full: wall s | full: report s | full: peak RSS MiB | full: drctl CPU s | "
             "incr.: wall s | incr.: report s | incr.: peak RSS MiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cases:
        rs = by[c]
        f = lambda phase, key: med([r[phase][key] for r in rs])  # noqa: E731
        lines.append(f"| {c} | {label[c]} | {fmt(f('full', 'wall_s'))} | {fmt(f('full', 'duration_s'))} | "
                     f"{fmt(f('full', 'max_rss_mib'), 0)} | {fmt(f('full', 'cpu_s'), 1, False)} | "
                     f"{fmt(f('incremental', 'wall_s'))} | {fmt(f('incremental', 'duration_s'))} | "
                     f"{fmt(f('incremental', 'max_rss_mib'), 0)} |")
    wall = {c: (med([r["full"]["wall_s"] for r in by[c]]), med([r["incremental"]["wall_s"] for r in by[c]]))
            for c in cases if by[c]}
    ratios = []
    for x, y in (("B", "A"), ("B0", "A"), ("B", "B0"), ("E", "B"), ("C", "A"), ("F", "R"), ("R", "C"),
                 ("SB", "S"), ("S", "C")):
        if x in wall and y in wall:
            ratios.append(f"{x}/{y}: full {wall[x][0][0] / wall[y][0][0]:.2f}, "
                          f"incremental {wall[x][1][0] / wall[y][1][0]:.2f}")
    lines += ["", "Wall-time ratios of the medians: " + "; ".join(ratios) + "."]

    lines += ["", "| case | phase | near: first / last pack landed, s | far: first / last pack landed, s | "
              "far: requests before its first upload; that upload answered at, s | packs; larger than part_size |",
              "|---|---|---:|---:|---|---|"]
    for c in cases:
        for phase in ("full", "incremental"):
            rs = by[c]
            tl = lambda t, key: med([r[phase]["targets"].get(t, {}).get("timeline", {}).get(key) for r in rs])  # noqa: E731
            cells = []
            for t in ("near", "far"):
                first, last = tl(t, "first_pack_s"), tl(t, "last_pack_s")
                cells.append("–" if last is None else f"{fmt(first, 1, False)} / {fmt(last, 1)}")
            ups = [first_upload(r[phase].get("far_requests")) for r in rs]
            ups = [u for u in ups if u]
            up = (f"{statistics.median(u[0] for u in ups):.0f}; {statistics.median(u[1] for u in ups):.2f}"
                  if ups else "–")
            sizes = [size for r in rs[:1] for v in r[phase]["targets"].values() for size in v["timeline"]["pack_bytes"]]
            packs = [len(v["timeline"]["pack_bytes"]) for v in rs[0][phase]["targets"].values()] if rs else []
            over = sum(1 for size in sizes if size > 16 * MiB)
            lines.append(f"| {c} | {phase} | {cells[0]} | {cells[1]} | {up} | "
                         f"{'/'.join(str(n) for n in packs)}; {over} |")

    lines += ["", "| case | phase | near: written; requests | far: written; requests | far via proxy: "
              "requests; proxy CPU s | servers CPU s (seaweedfs / radosgw) | other load, cores (max) |",
              "|---|---|---|---|---|---|---:|"]
    for c in cases:
        for phase in ("full", "incremental"):
            rs = by[c]
            proxy = "–"
            if rs and "proxy" in rs[0][phase]:
                proxy = (f"{med([r[phase]['proxy']['requests'] for r in rs])[0]:.0f}; "
                         f"{med([r[phase]['cpu_proxy_s'] for r in rs])[0]:.1f}")
            sw = med([r[phase]["cpu_servers_s"].get("seaweedfs", 0) for r in rs])
            rg = med([r[phase]["cpu_servers_s"].get("radosgw", 0) for r in rs])
            other = med([r[phase]["other_load_cores"] for r in rs])
            lines.append(f"| {c} | {phase} | {transfer_text(rs, phase, 'near')} | {transfer_text(rs, phase, 'far')} "
                         f"| {proxy} | {sw[0]:.1f} / {rg[0]:.1f} | {other[2]:.2f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def machine():
    info = {"cpus": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as handle:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
        with open("/proc/meminfo") as handle:
            info["mem_gib"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
        with open("/etc/debian_version") as handle:
            info["debian"] = handle.read().strip()
    except (OSError, StopIteration):
        pass
    return info


class Context:
    pass


def main():
    parser = argparse.ArgumentParser(prog="scripts/lib/bench/s3_latency.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default=os.environ.get("DRCTL_S3_SERVERS"),
                        help="servers.json of scripts/s3-servers (default $DRCTL_S3_SERVERS)")
    parser.add_argument("--own-servers", metavar="DIR", nargs="?", const=os.path.join(
                            os.environ.get("TMPDIR", "/tmp"), "drctl-bench-s3-latency-servers"),
                        help="start a pair of its own with `scripts/s3-servers start --dir DIR` and stop it at "
                             "the end (keeps the benchmark's load and garbage off servers others test against)")
    parser.add_argument("--drctl", help="release binary (default .build-release/release/drctl, else .build/release/drctl)")
    parser.add_argument("--build", action="store_true",
                        help="first run `nice swift build -c release --scratch-path .build-release --product drctl`")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)} (default all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--slow-concurrency", type=int, default=8, help="far's concurrency in case E")
    parser.add_argument("--mailboxes", type=int, default=30)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=3, help="mailboxes changed before the incremental")
    parser.add_argument("--poll-s", type=float, default=0.2, help="listing interval of the timeline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "drctl-bench-s3-latency"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (store, configs, reports)")
    parser.add_argument("--keep-objects", action="store_true", help="leave the prefixes on the servers")
    parser.add_argument("--json", dest="json_file")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    if any(c.strip() not in CASES for c in args.cases.split(",") if c.strip()):
        parser.error(f"--cases: choose among {', '.join(CASES)}")
    own = None
    if args.own_servers:
        own = os.path.abspath(args.own_servers)
        log(f"starting S3 servers in {own} (scripts/s3-servers; about 20 s)")
        subprocess.run([os.path.join(ROOT, "scripts", "s3-servers"), "start", "--dir", own], check=True,
                       stdout=subprocess.DEVNULL)
        args.servers = os.path.join(own, "servers.json")
    try:
        return measure_all(parser, args)
    finally:
        if own:
            subprocess.run([os.path.join(ROOT, "scripts", "s3-servers"), "stop", "--dir", own],
                           stdout=subprocess.DEVNULL)


def measure_all(parser, args):
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not args.servers or not os.path.exists(args.servers):
        parser.error("--servers (or $DRCTL_S3_SERVERS): servers.json of scripts/s3-servers is needed "
                     "(scripts/s3-servers start --dir DIR)")
    if args.build:
        subprocess.run(["nice", "-n", "10", "swift", "build", "-c", "release", "--scratch-path",
                        os.path.join(ROOT, ".build-release"), "--product", "drctl"], cwd=ROOT, check=True)
    drctl = args.drctl or next((p for p in (os.path.join(ROOT, ".build-release", "release", "drctl"),
                                            os.path.join(ROOT, ".build", "release", "drctl")) if os.access(p, os.X_OK)),
                               None)
    if not drctl or not os.access(drctl, os.X_OK):
        parser.error("no release drctl: pass --build or --drctl")
    if not os.access("/usr/bin/time", os.X_OK):
        parser.error("/usr/bin/time is missing (Debian package time)")

    with open(args.servers) as handle:
        entries = {s["name"]: s for s in json.load(handle)["servers"]}
    ctx = Context()
    ctx.args, ctx.drctl = args, os.path.abspath(drctl)
    ctx.servers = {name: Server(entries[name]) for name in ("seaweedfs", "radosgw")}
    ctx.pids = server_pids(args.servers)
    ctx.run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)

    work = os.path.abspath(args.workdir)
    if os.path.exists(work):
        if not os.path.exists(os.path.join(work, MARKER)):
            raise SystemExit(f"s3-latency: {work} exists and is not this bench's folder; choose another --workdir")
        shutil.rmtree(work)
    os.makedirs(work)
    open(os.path.join(work, MARKER), "w").close()
    ctx.work = work
    secret_dir = os.path.join(work, "secrets")
    os.makedirs(secret_dir, mode=0o700)
    ctx.key = os.path.join(secret_dir, "mailbox.key")
    write_private(ctx.key, secrets.token_hex(32) + "\n")
    ctx.credentials = {}
    for name, server in ctx.servers.items():
        ctx.credentials[name] = os.path.join(secret_dir, f"{name}.credentials")
        write_private(ctx.credentials[name], server.credentials_text())

    t0 = time.monotonic()
    ctx.store = os.path.join(work, "store")
    created = generate_store(args, ctx.store, ctx.key)
    ctx.chosen = sorted(random.Random(args.seed + 7).sample(created, min(args.changed, len(created))),
                        key=lambda m: m["path"])
    ctx.pristine = os.path.join(work, "pristine")
    os.makedirs(ctx.pristine)
    for mailbox in ctx.chosen:
        shutil.copyfile(mailbox["path"], os.path.join(ctx.pristine, os.path.basename(mailbox["path"])))
    size = store_bytes(ctx.store)
    log(f"store: {len(created)} mailboxes, {size / MiB:.1f} MiB ({time.monotonic() - t0:.0f} s); "
        f"{len(ctx.chosen)} change before each incremental")

    round_trips = {}
    for name, server in ctx.servers.items():
        round_trips[name] = round_trip_ms(server.endpoint, server.bucket)
        probe = Proxy(server.endpoint, args.latency_ms, os.path.join(work, f"probe-{name}"))
        try:
            round_trips[f"{name} via proxy {args.latency_ms} ms"] = round_trip_ms(probe.endpoint, server.bucket)
        finally:
            probe.stop()
    log(f"round trip of a small listing, median ms: {round_trips}")

    results = []
    try:
        for rep in range(1, args.repeat + 1):
            shift = (rep - 1) % len(cases)
            for case in cases[shift:] + cases[:shift]:
                results.append(run_case(ctx, case, rep))
    finally:
        summary = {
            "command": "python3 scripts/lib/bench/s3_latency.py " + " ".join(sys.argv[1:]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "drctl": run([ctx.drctl, "--version"], check=False).strip(),
            "drctl_binary": ctx.drctl, "drctl_binary_mtime": datetime.datetime.fromtimestamp(
                os.path.getmtime(ctx.drctl), datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).strip(),
            "sources_modified": run(["git", "-C", ROOT, "status", "--short", "--", "Sources", "Package.swift"],
                                    check=False).split("\n")[:-1],
            "store": {"mailboxes": len(created), "bytes": size, "changed": [m["path"] for m in ctx.chosen]},
            "latency_ms": args.latency_ms, "round_trip_ms": round_trips, "results": results,
        }
        if args.json_file:
            with open(args.json_file, "w") as handle:
                json.dump(summary, handle, indent=1)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    done_cases = [c for c in cases if any(r["case"] == c for r in results)]
    text = table(results, done_cases, args)
    header = (f"store: {len(created)} mailboxes, {size / MiB:.1f} MiB; {args.repeat} repetitions, medians "
              f"(min–max); latency {args.latency_ms} ms before each request to far "
              f"(cases {', '.join(c for c, v in PROXIED.items() if v is None)}); "
              f"drctl {summary['drctl']} at {summary['commit']}"
              f"{' + uncommitted changes in Sources' if summary['sources_modified'] else ''}; "
              f"{machine().get('cpus')} cores; {summary['date']}\n"
              "round trip of a small listing (median ms): "
              + ", ".join(f"{k} {v}" for k, v in round_trips.items()))
    print(header)
    print()
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(header + "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
