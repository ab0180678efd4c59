"""The seccomp filter bwrap puts on task code: one process, one thread, no memory outside its limit.

A classic BPF program, written out here so no library is needed. It refuses (EPERM):

- new processes and threads (`fork`, `vfork`, `clone`; `clone3` answers ENOSYS so the C
  library falls back to `clone`). RLIMIT_NPROC cannot do this: it counts every process of the
  same user on the host, so concurrent sandboxes would starve each other, and a non-root
  deployment would share the count with its own workers. None of the allowed modules needs a
  thread.
- memory the address-space limit does not count: `memfd_create`, System V shared memory,
  message queues and semaphores, io_uring, userfaultfd;
- kernel interfaces no task code needs: bpf, perf events, key rings, ptrace, new namespaces.

Any other architecture or ABI (x32 on x86_64) is killed at its first system call.
"""

import errno
import platform
import struct

# struct seccomp_data: nr (int), arch (u32), instruction_pointer (u64), args[6] (u64)
_NR, _ARCH = 0, 4
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_X32_BIT = 0x40000000

# Refused system calls by name, and their numbers per machine.
_REFUSED = frozenset(
    {
        *("fork", "vfork", "clone", "memfd_create", "shmget", "msgget", "semget", "io_uring_setup"),
        *("userfaultfd", "bpf", "perf_event_open", "add_key", "keyctl", "request_key", "ptrace"),
        *("unshare", "setns"),
    }
)
_NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {
        "fork": 57,
        "vfork": 58,
        "clone": 56,
        "memfd_create": 319,
        "shmget": 29,
        "msgget": 68,
        "semget": 64,
        "io_uring_setup": 425,
        "userfaultfd": 323,
        "bpf": 321,
        "perf_event_open": 298,
        "add_key": 248,
        "keyctl": 250,
        "request_key": 249,
        "ptrace": 101,
        "unshare": 272,
        "setns": 308,
    },
    "aarch64": {  # no fork or vfork: the C library uses clone
        "clone": 220,
        "memfd_create": 279,
        "shmget": 194,
        "msgget": 186,
        "semget": 190,
        "io_uring_setup": 425,
        "userfaultfd": 282,
        "bpf": 280,
        "perf_event_open": 241,
        "add_key": 217,
        "keyctl": 219,
        "request_key": 218,
        "ptrace": 117,
        "unshare": 97,
        "setns": 268,
    },
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_CLONE3 = 435  # the same on both


class Unsupported(Exception):
    """No filter for this machine's architecture: task code does not run here."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def refused_calls(machine: str | None = None) -> dict[str, int]:
    """The refused system calls of `machine` (this one by default), by name."""
    machine = machine or platform.machine()
    if machine not in _NUMBERS:
        raise Unsupported(f"Code tasks have no system call filter for the {machine} architecture.")
    return {name: number for name, number in _NUMBERS[machine].items() if name in _REFUSED}


def program(machine: str | None = None) -> bytes:
    """The filter for `machine` (this one by default), as bwrap's --seccomp reads it (sock_filter[])."""
    machine = machine or platform.machine()
    refused = refused_calls(machine)
    deny, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    head = [
        _insn(_LD_W_ABS, 0, 0, _ARCH),
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH[machine]),
        _insn(_RET_K, 0, 0, _KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _NR),
        _insn(_JGE_K, 0, 1, _X32_BIT),  # an x32 system call
        _insn(_RET_K, 0, 0, _KILL_PROCESS),
        _insn(_JEQ_K, 0, 1, _CLONE3),
        _insn(_RET_K, 0, 0, enosys),
    ]
    # Each: if nr == number, return EPERM; else on to the next pair.
    checks = [
        part
        for number in refused.values()
        for part in (_insn(_JEQ_K, 0, 1, number), _insn(_RET_K, 0, 0, deny))
    ]
    return b"".join([*head, *checks, _insn(_RET_K, 0, 0, _ALLOW)])
