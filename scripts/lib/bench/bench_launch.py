"""bench_launch.py REPORT -- ARGV...: runs ARGV and writes what it cost to REPORT (JSON).

A small process of its own, started with `python3 -S` (a few MiB), forks the measured command:
Linux carries the parent's peak RSS into a forked child's (through exec), so forking the
command from the bench itself (50+ MiB with boto3 loaded) would report the bench's size for
any command smaller than it. Waits with waitid(WNOWAIT) to read /proc/PID/io of the zombie,
then reaps it with wait4 for its rusage. Exits with the command's exit status.
"""
import json
import os
import sys
import time

report, argv = sys.argv[1], sys.argv[3:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
wall = time.monotonic() - t0
io = {}
try:
    with open(f"/proc/{pid}/io") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            io[key.strip()] = int(value)
except OSError:
    pass
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as handle:
    json.dump({"wall_s": wall, "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "maxrss_kib": usage.ru_maxrss,
               "io": io, "exit": code}, handle)
sys.exit(code if 0 <= code < 256 else 128 + (-code))
