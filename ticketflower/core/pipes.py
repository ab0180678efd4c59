"""Talk to a child process that runs what users wrote: send its input, read its answer, bounded.

`subprocess.communicate()` has neither a cap nor a way to kill a whole process tree, so a child
that prints forever or never answers would hold the caller. Here both streams are read up to
their caps and the child is killed at the deadline or past a cap, whatever it does.
"""

import os
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

CHUNK = 65536


@dataclass(frozen=True)
class Exchanged:
    stdout: bytes
    stderr: bytes
    returncode: int
    timed_out: bool  # killed at the deadline
    overflowed: bool  # killed for writing past a cap (what fitted is kept)


def exchange(
    process: subprocess.Popen[bytes],
    payload: bytes,
    *,
    seconds: float,
    max_stdout: int,
    max_stderr: int,
    kill: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Exchanged:
    """Write `payload` to stdin, read stdout and stderr up to their caps, and wait for the end.

    `kill` stops the child (and what it started); by default `process.kill()`. The pipes are
    closed when this returns.
    """
    stdin, stdout, stderr = process.stdin, process.stdout, process.stderr
    if stdin is None or stdout is None or stderr is None:
        raise ValueError("The process needs pipes for stdin, stdout and stderr.")
    stop = kill or subprocess.Popen.kill
    deadline = time.monotonic() + seconds
    out, err = bytearray(), bytearray()
    caps = {stdout.fileno(): (out, max_stdout), stderr.fileno(): (err, max_stderr)}
    timed_out = overflowed = False
    sent = 0
    os.set_blocking(stdin.fileno(), False)
    with selectors.DefaultSelector() as selector:
        selector.register(stdin, selectors.EVENT_WRITE)
        selector.register(stdout, selectors.EVENT_READ)
        selector.register(stderr, selectors.EVENT_READ)
        while selector.get_map() and not overflowed:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in selector.select(left):
                if key.fileobj is stdin:
                    try:
                        sent += os.write(key.fd, payload[sent : sent + CHUNK])
                    except BlockingIOError:
                        continue  # the pipe is full: the rest goes when it drains
                    except BrokenPipeError:
                        sent = len(payload)  # it stopped reading: its exit says why
                    if sent >= len(payload):
                        selector.unregister(stdin)
                        stdin.close()
                    continue
                chunk = os.read(key.fd, CHUNK)
                buffer, cap = caps[key.fd]
                if not chunk:
                    selector.unregister(key.fileobj)
                elif len(buffer) + len(chunk) > cap:
                    buffer += chunk[: cap - len(buffer)]
                    overflowed = True
                    break
                else:
                    buffer += chunk
    if timed_out or overflowed:
        stop(process)
    try:
        returncode = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # the streams closed, but it has not ended
        timed_out = True
        stop(process)
        returncode = process.wait()
    for pipe in (stdin, stdout, stderr):
        if not pipe.closed:
            pipe.close()
    return Exchanged(bytes(out), bytes(err), returncode, timed_out=timed_out, overflowed=overflowed)
