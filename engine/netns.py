"""A network of its own for one process and everything it starts (Linux): a new user and network namespace
whose loopback interface is up, so 127.0.0.1 there belongs to this process tree alone.

A workshop (`driftlab serve --workshop`) runs many learners on one machine, and every embedded cluster serves
its NodePorts and its API on 127.0.0.1: in one shared network, the second learner's shop cannot listen on the
port the course names, and their `curl 127.0.0.1:30100` reaches the first learner's shop. Each learner's
session therefore runs in a namespace of its own (`isolate`), made before the process starts any thread (a
threaded process cannot enter a new user namespace). The user namespace is what lets an ordinary user make
the network namespace; it maps the user's own ids to themselves, so files keep their owner.

`probe` tries the whole thing once in a child process, so a server can decide before serving whether its
sessions will be isolated, and say why not where the machine refuses (no user namespaces in the kernel, a
sysctl or AppArmor forbidding them to unprivileged users, another system than Linux).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading

from .errors import DriftlabError

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
LOOPBACK = "lo"
PROBE_TIMEOUT = 20.0

_REFUSED = {
    errno.EPERM: "this system does not let unprivileged users create user namespaces (Ubuntu's AppArmor "
    "restriction, kernel.unprivileged_userns_clone=0, or a container that forbids it)",
    errno.EACCES: "this system does not let unprivileged users create user namespaces",
    errno.ENOSPC: "the limit of user or network namespaces is reached (user.max_user_namespaces, "
    "user.max_net_namespaces)",
    errno.EUSERS: "user namespaces are nested too deep here",
    errno.EINVAL: "the kernel refused a new user namespace for this process",
    errno.ENOSYS: "this kernel has no namespaces",
}


class IsolationError(DriftlabError):
    """A network of its own cannot be made here; the message says why, for the presenter. `moved` tells that
    the process is in the new namespaces already (the failure came after them), so it cannot carry on as before."""

    def __init__(self, message: str, moved: bool = False) -> None:
        super().__init__(message)
        self.moved = moved


def isolate() -> None:
    """Move this process into a new user and network namespace with its loopback up; what it starts from now
    on inherits both. IsolationError (this process unchanged, or at worst left in a network without a working
    loopback) when the system refuses, or when a thread runs already."""
    if not sys.platform.startswith("linux"):
        raise IsolationError("network namespaces exist only on Linux")
    if threading.active_count() > 1:
        raise IsolationError("a process must make its namespaces before it starts any thread")
    uid, gid = os.getuid(), os.getgid()
    _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    try:
        _map_ids(uid, gid)
        loopback_up()
    except IsolationError as err:
        raise IsolationError(str(err), moved=True) from None


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(ctypes.c_int(flags)) != 0:
        code = ctypes.get_errno()
        raise IsolationError(_REFUSED.get(code, f"unshare failed: {os.strerror(code)}"))


def _map_ids(uid: int, gid: int) -> None:
    """Be the same user inside as outside. setgroups must be denied before an unprivileged gid map."""
    try:
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
    except FileNotFoundError:  # kernels before 3.19 have no such file and need nothing
        pass
    except OSError as err:
        raise IsolationError(f"cannot set up the new user namespace: {err.strerror}") from None
    for name, value in (("uid_map", uid), ("gid_map", gid)):
        try:
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(f"{value} {value} 1\n")
        except OSError as err:
            raise IsolationError(f"cannot map the user into the new namespace ({name}): {err.strerror}") from None


def loopback_up() -> None:
    """Bring `lo` up (a new network namespace starts with it down), by ioctl: no iproute2 needed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", LOOPBACK.encode(), 0)
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request)
            flags = struct.unpack("16sH22x", answer)[1]
            if not flags & IFF_UP:
                fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", LOOPBACK.encode(), flags | IFF_UP))
        except OSError as err:
            raise IsolationError(f"cannot bring the loopback interface up: {err.strerror}") from None


def loopback_works() -> bool:
    """Whether a connection to 127.0.0.1 reaches a listener here."""
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=2):
                return True
    except OSError:
        return False


def probe(timeout: float = PROBE_TIMEOUT) -> str | None:
    """Try `isolate` in a child process: None when it works here, else why not (one sentence)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces exist only on Linux"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "engine.netns"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=_package_parent(),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"the test of network namespaces did not run: {err}"
    if result.returncode == 0:
        return None
    said = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return said[-1] if said else f"the test of network namespaces failed (exit code {result.returncode})"


def _package_parent() -> str:
    """Where `python -m engine.netns` finds this package, installed or not."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    """`python -m engine.netns`: exit 0 when this process could get a network of its own, else say why."""
    try:
        isolate()
    except IsolationError as err:
        print(err)
        return 1
    if not loopback_works():
        print("the loopback interface of a new network namespace does not carry connections")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
