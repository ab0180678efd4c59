"""The seccomp filter bwrap puts on task code: no new processes (threads are allowed).

A classic BPF program, written out here so no library is needed. Without it, a fork bomb in
the sandbox is bounded only by RLIMIT_NPROC, which counts every process of the same user on
the host (so concurrent sandboxes would starve each other, and a non-root deployment shares
the count with its own workers). With it, `fork`, `vfork` and `clone` without CLONE_THREAD
fail with EPERM; `clone3` answers ENOSYS, so the C library falls back to `clone`, where
threads are told apart. Threads stay within the address-space limit. Any other architecture
or ABI (x32 on x86_64) is killed at its first system call.
"""

import errno
import platform
import struct

# struct seccomp_data: nr (int), arch (u32), instruction_pointer (u64), args[6] (u64)
_NR, _ARCH, _ARG0 = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000

# machine: (AUDIT_ARCH_*, clone, clone3, other syscalls that make a process)
_ARCHES = {
    "x86_64": (0xC000003E, 56, 435, (57, 58)),  # fork, vfork
    "aarch64": (0xC00000B7, 220, 435, ()),
}


class Unsupported(Exception):
    """No filter for this machine's architecture: task code does not run here."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def no_new_processes() -> bytes:
    """The filter program for this machine, as bwrap's --seccomp reads it (struct sock_filter[])."""
    machine = platform.machine()
    if machine not in _ARCHES:
        raise Unsupported(f"Code tasks have no process filter for the {machine} architecture.")
    arch, clone, clone3, forks = _ARCHES[machine]
    deny, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    # Laid out from the end: every jump is relative to the instruction after it.
    tail = [
        _insn(_LD_W_ABS, 0, 0, _ARG0),  # clone's flags (their low 32 bits)
        _insn(_JSET_K, 0, 1, _CLONE_THREAD),
        _insn(_RET_K, 0, 0, _ALLOW),
        _insn(_RET_K, 0, 0, deny),
    ]
    checks = [
        _insn(_JEQ_K, 0, 1, clone3),
        _insn(_RET_K, 0, 0, enosys),
        *(part for nr in forks for part in (_insn(_JEQ_K, 0, 1, nr), _insn(_RET_K, 0, 0, deny))),
        _insn(_JEQ_K, 1, 0, clone),
        _insn(_RET_K, 0, 0, _ALLOW),
    ]
    head = [
        _insn(_LD_W_ABS, 0, 0, _ARCH),
        _insn(_JEQ_K, 1, 0, arch),
        _insn(_RET_K, 0, 0, _KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _NR),
        _insn(0x35, 0, 1, _X32_BIT),  # JGE: an x32 system call
        _insn(_RET_K, 0, 0, _KILL_PROCESS),
    ]
    return b"".join(head + checks + tail)
