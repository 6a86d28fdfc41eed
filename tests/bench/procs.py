"""driftlab's processes as /proc sees them: which belong to a state folder, what they are, how much memory.

A process belongs to a state folder when its environment's DRIFTLAB_HOME lies inside it, which is how daemons
of other users of the same machine (other engineers, other benches) are left out of the sums.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROLES = {
    "engine.cluster.embedded.daemon": "cluster daemon",
    "engine.lab.daemon": "lab daemon",
    "engine.cli": "driftlab command or TUI",
}


@dataclass(frozen=True)
class Process:
    pid: int
    role: str
    rss_mb: float

    @property
    def pss_mb(self) -> float:
        """Proportional set size: resident memory with pages shared between processes divided among them, so
        a sum over processes is what they take from the machine (RSS counts shared pages once per process)."""
        return pss_mb(self.pid)

    @property
    def cpu_seconds(self) -> float:
        """User and system CPU time used so far (0 once the process is gone)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _environ_home(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in raw.split(b"\0"):
        if entry.startswith(b"DRIFTLAB_HOME="):
            return entry.split(b"=", 1)[1].decode(errors="replace")
    return None


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) in MB; 0 for a process that is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _role(pid: int) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    words = [arg.decode(errors="replace") for arg in args if arg]
    for module, role in ROLES.items():
        if module in words:
            return role
    return os.path.basename(words[0]) if words else "unknown"


def under(root: Path) -> list[Process]:
    """Every live process (but this one) whose DRIFTLAB_HOME is `root` or inside it."""
    prefix = str(root.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        home = _environ_home(pid)
        if home is None or not (home == prefix or home.startswith(prefix + os.sep)):
            continue
        role = _role(pid)
        if role != "gone":
            found.append(Process(pid, role, rss_mb(pid)))
    return found


def listening_ports(pids: set[int]) -> set[int]:
    """TCP ports on which any of `pids` listens (from their sockets' inodes and /proc/net/tcp*)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
