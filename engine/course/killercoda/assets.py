"""Killercoda assets, which it copies onto the learner's machine (`/root/app.yaml`), as files of the course.

In driftlab the learner's machine is their own, so assets become files under the course's `assets/` folder,
and absolute paths to them in scripts and instructions (`/root/app.yaml`, `~/app.yaml`) are rewritten to paths
relative to the course folder (`assets/app.yaml`), where setup scripts, checks and solutions run.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .scenario import ASSETS, INDEX, Asset

COURSE_ASSETS = "assets"
_HOME = "/root"
_ON_PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin")
_DEFAULT_MODE = 0o644
_UMASK = 0o022
_SYMBOLIC = re.compile(r"^(?P<who>[ugoa]*)(?P<op>[-+=])(?P<perms>[rwxX]*)$")
_WHO = {"u": 0o700, "g": 0o070, "o": 0o007}
_PERMS = {"r": 0o444, "w": 0o222, "x": 0o111, "X": 0o111}


@dataclass(frozen=True)
class Placed:
    """One asset file (or folder) of the course and where Killercoda had put it."""

    source: Path
    course_path: str
    machine_path: str
    mode: int | None
    asset: Asset


def place_assets(assets: list[Asset], folder: Path, warnings: list[str]) -> list[Placed]:
    """Where each matched asset goes in the course, with its mode; folders bring every file inside them."""
    root = folder / ASSETS
    placed: dict[str, Placed] = {}
    for asset in assets:
        mode = _mode(asset, warnings)
        target = _machine_folder(asset.target)
        for match in asset.matches:
            entries = [match, *sorted(match.rglob("*"))] if match.is_dir() else [match]
            for entry in entries:
                relative = entry.relative_to(root).as_posix()
                inside = entry.relative_to(match.parent).as_posix()
                course_path = f"{COURSE_ASSETS}/{relative}"
                file_mode = None if entry.is_dir() else mode
                placed.setdefault(course_path, Placed(entry, course_path, f"{target}/{inside}", file_mode, asset))
            if target in _ON_PATH:
                warnings.append(
                    f"{INDEX}: {asset.where}: {match.name} went to {target} (on the PATH) in Killercoda; it is "
                    f"{COURSE_ASSETS}/{match.relative_to(root).as_posix()} in the course, and calls by its bare "
                    "name were not rewritten"
                )
        if asset.host != "host01":
            warnings.append(
                f"{INDEX}: {asset.where}: driftlab has one machine; assets for {asset.host} are in the course's "
                f"{COURSE_ASSETS}/ folder with the others"
            )
    return list(placed.values())


def _machine_folder(target: str) -> str:
    """The target folder as an absolute path: `~`, `~/x` and `$HOME` are root's home on Killercoda."""
    target = target.rstrip("/") or "/"
    for home in ("~", "$HOME", "${HOME}"):
        if target == home or target.startswith(home + "/"):
            target = _HOME + target[len(home) :]
    return str(PurePosixPath(target))


def _mode(asset: Asset, warnings: list[str]) -> int:
    if asset.chmod is None:
        return _DEFAULT_MODE
    mode = chmod_mode(asset.chmod, _DEFAULT_MODE)
    if mode is None:
        warnings.append(f"{INDEX}: {asset.where}.chmod: {asset.chmod!r} is not understood; the files keep mode 644")
        return _DEFAULT_MODE
    return mode


def chmod_mode(spec: str, mode: int) -> int | None:
    """The mode `chmod spec` would give a file of `mode`: octal (`755`) or symbolic (`+x`, `u+rwx,go-w`)."""
    spec = spec.strip()
    if re.fullmatch(r"[0-7]{3,4}", spec):
        return int(spec, 8)
    for clause in spec.split(","):
        match = _SYMBOLIC.match(clause)
        if match is None:
            return None
        # Without u, g, o or a, chmod leaves out the bits the umask masks (`+w` is `u+w` under umask 022).
        who = sum(_WHO[c] for c in set(match["who"].replace("a", "ugo"))) or (0o777 & ~_UMASK)
        bits = sum(_PERMS[c] for c in set(match["perms"])) & who
        if match["op"] == "+":
            mode |= bits
        elif match["op"] == "-":
            mode &= ~bits
        else:
            mode = (mode & ~who) | bits
    return mode & 0o7777


def apply_mode(path: Path, mode: int | None) -> None:
    if mode is not None:
        path.chmod(mode | stat.S_IRUSR | stat.S_IWUSR)


@dataclass(frozen=True)
class Rewriter:
    """Rewrites absolute paths of assets into course paths, longest first so folders do not shadow files."""

    placed: tuple[Placed, ...]

    def rewrite(self, text: str) -> tuple[str, list[Placed]]:
        """The text with asset paths rewritten, and the assets whose paths were found."""
        used: list[Placed] = []
        for entry in sorted(self.placed, key=lambda item: -len(item.machine_path)):
            pattern = _path_pattern(entry.machine_path)
            text, count = pattern.subn(entry.course_path, text)
            if count:
                used.append(entry)
        return text, used


def _path_pattern(machine_path: str) -> re.Pattern[str]:
    """The path as written in a script: absolute, or from the home folder (`~/x`, `$HOME/x`)."""
    spellings = [re.escape(machine_path)]
    if machine_path.startswith(_HOME + "/"):
        rest = re.escape(machine_path[len(_HOME) :])
        spellings += [f"~{rest}", rf"\$HOME{rest}", rf"\$\{{HOME\}}{rest}"]
    return re.compile(rf"(?<![\w./~$-])(?:{'|'.join(spellings)})(?![\w.-])")
