#!/usr/bin/env python3
"""Runs `drctl ARGS…` on a fresh pseudo-terminal, waits for its passphrase prompt, types
KEYS (Ctrl-C is \\x03) and reports, as one JSON line, whether echo was off at the prompt, how
the process ended, and whether the terminal's echo is on again afterwards.

Used by PassphrasePromptTests: a signal at the prompt must not leave the terminal silent.
usage: pty-interrupt.py DRCTL HOME KEYS ARG…
"""
import json, os, pty, select, signal, sys, termios, time
drctl, home, key, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    # An operator's shell starts programs with Ctrl-C's default action, whatever ours has.
    # (A test runner may start us with these ignored or blocked; a shell would not.)
    guarded = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
    for number in guarded:
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, guarded)
    os.execve(drctl, [drctl] + args, {'HOME': home, 'XDG_DATA_HOME': home + '/data', 'PATH': '/usr/bin:/bin'})
seen, buf = b'', b''
deadline = time.time() + 30
while b'passphrase' not in buf and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try: buf += os.read(fd, 1024)
        except OSError: break
echo_during = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
os.write(fd, key.encode())
status = None
deadline = time.time() + 30
while status is None and time.time() < deadline:
    done, code = os.waitpid(pid, os.WNOHANG)
    if done: status = code
    else: time.sleep(0.05)
if status is None:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({'error': 'drctl did not end after the keys were typed'}))
    sys.exit(1)
echo_after = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
print(json.dumps({'prompt': buf.decode(errors='replace')[-60:], 'echoDuringPrompt': echo_during,
                  'signalled': os.WIFSIGNALED(status), 'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  'echoAfter': echo_after}))
