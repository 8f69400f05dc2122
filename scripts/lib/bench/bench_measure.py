"""Measuring one command for scripts/bench: wall, CPU, peak RSS and the bytes it read and wrote.

The command is started by bench_launch.py (a small process of its own) and waited for with
waitid(WNOWAIT), so that its /proc/PID/io can still be read while it is a zombie; wait4 then
reaps it and gives its rusage (user and system CPU, peak RSS). /proc/PID/io says how many bytes the process passed to
read()/write() (rchar/wchar: page cache included, sockets too when written with write(2)) and
how many it made the block layer read and dirty (read_bytes/write_bytes).
"""
import json
import os
import platform
import subprocess
import sys

MiB = 1024 * 1024
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_launch.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def cpu_busy_seconds():
    """Busy CPU seconds of the whole machine so far (all processes, all cores)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def pid_cpu_seconds(pid):
    """User + system CPU seconds of one live process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def read_proc_io(pid):
    values = {}
    try:
        with open(f"/proc/{pid}/io") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                values[key.strip()] = int(value)
    except OSError:
        pass
    return values


def measure(label, argv, workdir, env=None, cwd=None, check=True, counter=None, helpers=(), ok_exits=(0,)):
    """Runs argv and returns what it cost. counter: a TcpCounter whose bytes are recorded;
    helpers: pids of processes whose CPU is charged apart from "other load" (S3 server, writers)."""
    safe = label.replace(" ", "_").replace("/", "_")
    out_file = os.path.join(workdir, "time", safe + ".out")
    err_file = os.path.join(workdir, "time", safe + ".err")
    full_env = dict(os.environ)
    full_env.update(env or {})
    # Earlier steps' dirty pages (the store, other tools' repositories) are flushed first so
    # that no tool pays for another's writeback.
    subprocess.run(["sync"], check=False)
    helper_cpu0 = {pid: pid_cpu_seconds(pid) for pid in helpers}
    counted0 = counter.totals() if counter else None
    busy0, load0 = cpu_busy_seconds(), os.getloadavg()[0]
    report_file = os.path.join(workdir, "time", safe + ".json")
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        process = subprocess.run([sys.executable, "-S", LAUNCHER, report_file, "--"] + list(argv),
                                 stdout=out, stderr=err, env=full_env, cwd=cwd)
    try:
        with open(report_file) as handle:
            launched = json.load(handle)
    except (OSError, ValueError):
        raise BenchError(f"{label}: {LAUNCHER} wrote no report (exit {process.returncode})")
    wall, io = launched["wall_s"], launched["io"]
    busy = cpu_busy_seconds() - busy0
    own_cpu = launched["user_s"] + launched["sys_s"]
    helper_cpu = sum(pid_cpu_seconds(pid) - cpu for pid, cpu in helper_cpu0.items())
    result = {
        "wall_s": round(wall, 3),
        "cpu_s": round(own_cpu, 3),
        "user_s": round(launched["user_s"], 3),
        "sys_s": round(launched["sys_s"], 3),
        # Peak RSS has a floor of ~8 MiB: the launcher's own size, which a forked child inherits.
        "max_rss_mib": round(launched["maxrss_kib"] / 1024, 1),
        "io": {k: io.get(k) for k in ("rchar", "wchar", "read_bytes", "write_bytes")},
        # CPU used by everything else on the machine meanwhile, in cores: the noise indicator
        # (the S3 server, the byte counter and live writers are charged apart, in helper_cpu_s).
        "helper_cpu_s": round(helper_cpu, 3),
        "other_load_cores": round(max(0.0, busy - own_cpu - helper_cpu) / wall, 2) if wall > 0 else 0.0,
        "loadavg_1m_before": round(load0, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "exit": process.returncode,
    }
    if counter:
        counted = counter.totals()
        result["network"] = {k: counted[k] - counted0[k] for k in counted}
    with open(out_file, "rb") as handle:
        result["_stdout"] = handle.read().decode(errors="replace")
    if check and process.returncode not in ok_exits:
        with open(err_file, "rb") as handle:
            tail = handle.read().decode(errors="replace")[-2000:]
        raise BenchError(f"{label}: {' '.join(argv)} exited {process.returncode}\n{tail}")
    log(f"{label}: {result['wall_s']} s, CPU {result['cpu_s']} s, {result['max_rss_mib']} MiB RSS, "
        f"other load {result['other_load_cores']} cores")
    return result


def run(argv, env=None, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.run(argv, env=full_env, cwd=cwd, capture_output=True, text=True)
    if process.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {process.returncode}\n{(process.stderr or '')[-2000:]}")
    return process.stdout


def tree_bytes(path):
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                pass
    return total


def evict(paths):
    """Drops the files under each path from the page cache (after a sync, so that nothing dirty
    stays behind): the next read comes from the disk, as a restore's does after a disaster.
    Returns the bytes evicted. posix_fadvise(DONTNEED) needs no privilege and leaves every other
    process's cached files alone (unlike writing to /proc/sys/vm/drop_caches)."""
    subprocess.run(["sync"], check=False)
    total = 0
    for root in paths:
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    total += os.fstat(fd).st_size
                finally:
                    os.close(fd)
    return total


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def same_bytes(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def machine():
    """CPU model, cores, RAM, the disk under the scratch folder, kernel, distribution."""
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as handle:
            info["mem_gib"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
        with open("/etc/debian_version") as handle:
            info["debian"] = handle.read().strip()
    except OSError:
        pass
    try:
        info["hypervisor"] = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


def disk_of(path):
    """The filesystem and block device that hold path (findmnt), with the device's model."""
    try:
        out = subprocess.run(["findmnt", "-J", "-T", path], capture_output=True, text=True).stdout
        fs = json.loads(out)["filesystems"][0]
        device = os.path.basename(fs["source"])
        info = {"source": fs["source"], "fstype": fs["fstype"], "target": fs["target"]}
        rotational = f"/sys/block/{device}/queue/rotational"
        if os.path.exists(rotational):
            with open(rotational) as handle:
                info["rotational"] = handle.read().strip() == "1"
        with open(f"/sys/block/{device}/size") as handle:
            info["size_gib"] = round(int(handle.read()) * 512 / 1024 ** 3, 1)
        return info
    except (OSError, ValueError, KeyError, IndexError):
        return {}


def uptime_line():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
