"""The bench's figures, the machine they were measured on, and the one table `make bench` prints.

`make bench` writes bench-results.json in two passes: `tests.bench.run` writes the machine and the bench's
figures, then the load tests (tests/load, marker `load`) add theirs to the same file when
`DRIFTLAB_BENCH_RESULTS` names it. The table is printed once, at the end, from the file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS_ENV = "DRIFTLAB_BENCH_RESULTS"
FIELDS = ("name", "median", "target", "unit", "runs", "ok")
MACHINE = ("cpu_model", "cpu_count", "memory_mb", "os", "python")
# Every figure the issues named, by a part of its name: a results file without one of them is incomplete.
REQUIRED = (
    "cluster up",
    "GET one object",
    "LIST 1,000 ConfigMaps",
    "watch delivery to 20 watchers",
    "apply to rollout status",
    "apply to rolled out, 50 Deployments",
    "cluster daemon resident memory",
    "lab daemon resident memory",
    "check latency",
    "push to pipeline start",
    "git push to change live (Flux",
    "git push to change live (Argo CD",
    "clone a seeded repo",
    "lab up to first step ready",
    "course test wall time",
    "TUI: start to the picker",
    "TUI: kubectl change",
    "labs up: PSS of all driftlab processes",
    "labs up: check latency",
    "clients: reads (GET, LIST) p99",
    "clients: writes p99",
    "clients: watch delivery p99",
)


@dataclass
class Figure:
    """One row of the table: a median (or the percentile the name says) over `runs` samples, next to its target
    (lower is better); a figure reported without a target has none (a throughput, an idle load)."""

    name: str
    median: float
    target: float | None
    runs: int
    unit: str = "ms"
    group: str = "bench"

    @property
    def ok(self) -> bool:
        return math.isfinite(self.median) and (self.target is None or self.median <= self.target)

    def as_json(self) -> dict[str, Any]:
        """JSON has no infinity: a figure that could not be measured has a null median and is not ok."""
        data = asdict(self)
        data["median"] = round(self.median, 3) if math.isfinite(self.median) else None
        return {**data, "ok": self.ok}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def machine() -> dict[str, Any]:
    """What the figures depend on; the load average says how busy the machine was when the bench started."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_mb": _memory_mb(),
        "os": _os_name(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_average_at_start": [round(value, 2) for value in load],
    }


def read_results(path: Path) -> dict[str, Any]:
    """A results file; one written before the machine was recorded (a bare list of figures) has none."""
    doc = json.loads(path.read_text())
    return {"machine": {}, "figures": doc} if isinstance(doc, list) else doc


def write_results(path: Path, figures: list[Figure]) -> None:
    """A fresh results file: the machine and these figures."""
    doc = {"machine": machine(), "figures": [f.as_json() for f in figures]}
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def add_results(figures: list[Figure], path: Path | None = None) -> None:
    """Add figures to the results file named by DRIFTLAB_BENCH_RESULTS (replacing rows of the same name);
    without it there is nowhere to add them, and the caller's printout is all there is."""
    target = path or (Path(os.environ[RESULTS_ENV]) if os.environ.get(RESULTS_ENV) else None)
    if target is None:
        return
    doc = read_results(target) if target.exists() else {"machine": machine(), "figures": []}
    names = {f.name for f in figures}
    kept = [row for row in doc.get("figures", []) if row.get("name") not in names]
    doc["figures"] = kept + [f.as_json() for f in figures]
    target.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _cell(value: float | None, unit: str, decimals: int = 1) -> str:
    if value is None:
        return f"{'—':>8}{'':<2}"
    return f"{value:>8.{decimals if value < 10_000 else 0}f}{unit:<2}"


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as one plain-text table: figure, median, target, runs, ok."""
    width = max([len("figure"), *(len(row["name"]) for row in rows)])
    lines = [f"{'figure':<{width}}  {'median':>10}  {'target':>10}  {'runs':>5}  ok"]
    for row in rows:
        unit = row.get("unit", "ms")
        lines.append(
            f"{row['name']:<{width}}  {_cell(row.get('median'), unit)}  {_cell(row.get('target'), unit, 0)}  "
            f"{row.get('runs', 0):>5}  {'yes' if row.get('ok') else 'NO'}"
        )
    return "\n".join(lines)


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"machine: {info.get('cpu_model')} × {info.get('cpu_count')} CPUs, {info.get('memory_mb')} MB, "
        f"{info.get('os')}, {info.get('python')}, load average at start {info.get('load_average_at_start')}"
    )


def problems(doc: dict[str, Any]) -> list[str]:
    """What the results file lacks: a named figure, a field of a figure, a fact about the machine."""
    rows = doc.get("figures", [])
    found = [f"no figure {part!r}" for part in REQUIRED if not any(part in row["name"] for row in rows)]
    found += [f"{row.get('name')}: no {key}" for row in rows for key in FIELDS if key not in row]
    found += [f"machine: no {key}" for key in MACHINE if not (doc.get("machine") or {}).get(key)]
    return found


def print_file(path: Path) -> int:
    """Print the results file's table and machine; 0 when it is complete and every figure met its target."""
    doc = read_results(path)
    rows = doc.get("figures", [])
    print(table(rows))
    print(machine_line(doc.get("machine", {})))
    missing = problems(doc)
    for problem in missing:
        print(f"incomplete: {problem}")
    return 0 if rows and not missing and all(row.get("ok") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(print_file(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results.json")))
