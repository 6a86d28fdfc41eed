"""A Killercoda scenario as a driftlab course: the course.yaml data and the files beside it.

How each part maps:
- a step's `text` → `steps/<id>/instructions.md`, with Killercoda's markers removed;
- its `{{exec}}` code → the step's solution commands, in reading order (from the `answer` page when the text
  has none); commands that never end or wait for a person are left out;
- `verify` → `steps/<id>/verify.sh`, run with bash as a `command` check (the lab's KUBECONFIG is set); the
  step's timeout gives the checks a minute to pass after the solution, as a learner waits before clicking;
- `background` → `steps/<id>/background.sh`, run by the step's setup;
- `foreground` → shown at the end of the instructions (the learner saw it run in their terminal);
- `answer` → the step's hint;
- intro → put before the first step's instructions (its background and exec code first too);
- finish → a last step without checks, so the learner sees it after the last check passes;
- assets → `assets/`, with absolute paths to them rewritten where scripts and instructions use them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assets import Rewriter, place_assets
from .commands import split_commands, why_not_in_solution
from .markdown import convert_markdown, relink
from .scenario import INDEX, Page, Scenario, Source

STEPS = "steps"
TAGS = ["killercoda"]
MINUTES_PER_STEP = 5
# A verify script judges once, when the learner clicks Check; after a solution, give the cluster time to act.
CHECK_WAIT = "1m"
_LEVELS = {
    "beginner": "beginner",
    "easy": "beginner",
    "intermediate": "intermediate",
    "medium": "intermediate",
    "advanced": "advanced",
    "hard": "advanced",
    "expert": "advanced",
}
_TIME_PART = re.compile(
    r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?)(?![a-z])"
)
_NODE_NAMES = re.compile(r"\b(controlplane|node01|node02)\b")
_HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>[^\n#]+?)[ \t#]*$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FOREGROUND_INTRO = (
    "**Run in your terminal by the original scenario.** When this step started, Killercoda ran this script "
    "in your terminal; driftlab shows it here and does not run it:"
)


@dataclass
class Plan:
    """What an import writes: course.yaml's data, text files, files copied as they are, and warnings."""

    course: dict[str, Any]
    texts: dict[str, str] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Draft:
    """A step being assembled from one or more Killercoda pages."""

    id: str
    title: str
    parts: list[str] = field(default_factory=list)
    setup: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    has_exec: bool = False


def plan_course(scenario: Scenario, lab: str) -> Plan:
    """The course a scenario becomes, on lab `lab` (a lab name, or a path relative to the course)."""
    return _Converter(scenario, lab).run()


class _Converter:
    def __init__(self, scenario: Scenario, lab: str) -> None:
        self.scenario = scenario
        self.lab = lab
        self.warnings = list(scenario.warnings)
        self.placed = place_assets(scenario.assets, scenario.folder, self.warnings)
        self.rewriter = Rewriter(tuple(self.placed))
        self.rewritten: dict[str, list[str]] = {}
        self.plan = Plan(course={})
        self.ids: set[str] = set()

    def run(self) -> Plan:
        self._backend()
        drafts = self._drafts()
        for entry in self.placed:
            if entry.mode is not None:
                self.plan.copies[entry.course_path] = entry.source
                self.plan.modes[entry.course_path] = entry.mode
        self._asset_notes()
        self.plan.course = {
            "title": self.scenario.title,
            "summary": self._summary(),
            "duration": self._duration(len(self.scenario.steps) or 1),
            "level": self._level(),
            "tags": list(TAGS),
            "lab": self.lab,
            "steps": [self._step(draft) for draft in drafts],
        }
        self.plan.warnings = list(dict.fromkeys(self.warnings))
        return self.plan

    # -- steps

    def _drafts(self) -> list[_Draft]:
        scenario = self.scenario
        drafts: list[_Draft] = []
        for number, page in enumerate(scenario.steps, start=1):
            draft = self._new_draft(page_title(page), f"step-{number}")
            if number == 1 and scenario.intro is not None:
                self._add(draft, scenario.intro, prefix="intro-")
            self._add(draft, page)
            drafts.append(draft)
        if not drafts and scenario.intro is not None:
            draft = self._new_draft(page_title(scenario.intro) or "Introduction", "introduction")
            self._add(draft, scenario.intro)
            drafts.append(draft)
        if scenario.finish is not None:
            draft = self._new_draft(page_title(scenario.finish) or "Finish", "finish")
            self._add(draft, scenario.finish)
            drafts.append(draft)
        for draft in drafts:
            self._solution_notes(draft)
        return drafts

    def _new_draft(self, title: str | None, fallback: str) -> _Draft:
        title = (title or "").strip() or fallback.replace("-", " ").capitalize()
        base = slug(title) or fallback
        step_id, counter = base, 2
        while step_id in self.ids:
            suffix = f"-{counter}"
            step_id, counter = base[: 63 - len(suffix)].rstrip("-") + suffix, counter + 1
        self.ids.add(step_id)
        return _Draft(step_id, title)

    def _add(self, draft: _Draft, page: Page, prefix: str = "") -> None:
        """Adds a page's text, scripts and exec'd code to a step."""
        folder = f"{STEPS}/{draft.id}"
        if page.text is not None:
            markdown = self._markdown(page.text, draft)
            draft.parts.append(markdown.strip())
        elif not prefix:
            self.warnings.append(f"{INDEX}: {page.where}: no text; the step has no instructions of its own")
        if page.foreground is not None:
            script = self._script(page.foreground)
            draft.parts.append(f"{_FOREGROUND_INTRO}\n\n```bash\n{script.rstrip()}\n```")
            self.warnings.append(
                f"{page.foreground.name}: a foreground script is shown in the step's instructions, not run; move "
                "anything the step needs into its background script"
            )
        if page.background is not None:
            path = f"{folder}/{prefix}background.sh"
            self.plan.texts[path] = self._script(page.background)
            draft.setup.append({"run": f"bash {path}"})
        if page.verify is not None:
            path = f"{folder}/verify.sh"
            self.plan.texts[path] = self._script(page.verify)
            name = first_comment(page.verify.text) or draft.title
            draft.checks.append({"name": name, "command": {"run": f"bash {path}"}})
        if page.answer is not None:
            before = len(draft.commands)
            answer = self._markdown(page.answer, draft, commands=not draft.has_exec)
            draft.hints.append(answer.strip())
            if len(draft.commands) > before:
                self.warnings.append(
                    f"{page.answer.name}: the step's text has no {{{{exec}}}} code; its solution "
                    "comes from the answer page"
                )

    def _markdown(self, source: Source, draft: _Draft, commands: bool = True) -> str:
        text = self._rewrite(source.text, source.name)
        converted = convert_markdown(text)
        self.warnings.extend(f"{source.name}: {note}" for note in converted.notes)
        if commands:
            for block in converted.blocks:
                draft.has_exec = True
                self._commands(block.code, source.name, draft)
        self._node_names(text, source.name)
        return relink(converted.text, lambda target: self._link(target, source))

    def _script(self, source: Source) -> str:
        text = self._rewrite(source.text, source.name)
        self._node_names(text, source.name)
        return text

    def _commands(self, code: str, where: str, draft: _Draft) -> None:
        for command in split_commands(code):
            reason = why_not_in_solution(command)
            first = command.splitlines()[0]
            if reason:
                self.warnings.append(f"{where}: the solution leaves out `{first}`: {reason}")
            elif command in draft.commands:
                self.warnings.append(f"{where}: `{first}` is clicked more than once; the solution runs it once")
            else:
                draft.commands.append(command)

    def _solution_notes(self, draft: _Draft) -> None:
        if draft.checks and not draft.commands:
            self.warnings.append(
                f"step {draft.id!r} has a verify script but no {{{{exec}}}} code, so no solution: add one to "
                "course.yaml so `driftlab course test` can prove its check"
            )

    def _step(self, draft: _Draft) -> dict[str, Any]:
        path = f"{STEPS}/{draft.id}/instructions.md"
        self.plan.texts[path] = "\n\n---\n\n".join(part for part in draft.parts if part) + "\n"
        step: dict[str, Any] = {"id": draft.id, "title": draft.title, "instructions": {"file": path}}
        if draft.setup:
            step["setup"] = draft.setup
        if draft.checks:
            step["checks"] = draft.checks
        if draft.hints:
            step["hints"] = draft.hints
        if draft.commands:
            step["solution"] = {"commands": draft.commands}
        if draft.checks:
            step["timeout"] = CHECK_WAIT
        return step

    # -- paths

    def _rewrite(self, text: str, name: str) -> str:
        text, used = self.rewriter.rewrite(text)
        for entry in used:
            self.rewritten.setdefault(entry.course_path, [])
            if name not in self.rewritten[entry.course_path]:
                self.rewritten[entry.course_path].append(name)
        return text

    def _asset_notes(self) -> None:
        for entry in self.placed:
            files = self.rewritten.get(entry.course_path)
            if files:
                self.warnings.append(
                    f"{INDEX}: {entry.asset.where}: Killercoda put {entry.course_path.removeprefix('assets/')} at "
                    f"{entry.machine_path}; in the course it is {entry.course_path}, and that path was rewritten in "
                    f"{', '.join(files)} (relative to the course folder, where setup, checks and solutions run)"
                )

    def _link(self, target: str, source: Source) -> str | None:
        """Relative links and images point at files copied into the course, from steps/<id>/instructions.md."""
        if _SCHEME.match(target) or target.startswith(("#", "/", "{{", "~")):
            return None
        parts = re.match(r"^(?P<path>[^#?]*)(?P<rest>.*)$", target)
        if parts is None or not parts["path"]:
            return None
        folder = self.scenario.folder.resolve()
        resolved = (source.path.parent / parts["path"]).resolve()
        if not resolved.is_relative_to(folder) or not resolved.is_file():
            self.warnings.append(
                f"{source.name}: the link to {target} does not name a file of the scenario; left as is"
            )
            return None
        relative = resolved.relative_to(folder).as_posix()
        self.plan.copies.setdefault(relative, resolved)
        return f"../../{relative}{parts['rest']}"

    def _node_names(self, text: str, name: str) -> None:
        found = sorted(set(_NODE_NAMES.findall(text)))
        if found:
            self.warnings.append(
                f"{name}: names Killercoda's node {', '.join(found)}; the lab's node is named differently "
                "(see `kubectl get nodes`)"
            )

    # -- metadata

    def _backend(self) -> None:
        image = self.scenario.imageid
        if image is None:
            return
        where = f"index.json: backend.imageid {image!r}"
        if image.startswith("kubernetes"):
            nodes = " with two nodes" if "2node" in image else ""
            self.warnings.append(
                f"{where}: the course runs on the lab {self.lab!r} instead of Killercoda's kubeadm machine{nodes}; "
                "only the Kubernetes API is there (no ssh, crictl, systemctl or /etc/kubernetes)"
            )
        else:
            self.warnings.append(
                f"{where} is not a Kubernetes backend: the course runs on the lab {self.lab!r}; commands that need "
                "a machine of their own (apt, docker, systemctl) will not work"
            )

    def _summary(self) -> str:
        description = " ".join((self.scenario.description or "").split())
        return description or f"{self.scenario.title}, imported from a Killercoda scenario."

    def _duration(self, steps: int) -> str:
        given = self.scenario.time
        if given:
            parsed = duration(given)
            if parsed:
                return parsed
            self.warnings.append(f"index.json: time {given!r} is not understood as a duration")
        estimate = f"{max(1, steps) * MINUTES_PER_STEP}m"
        self.warnings.append(
            f"index.json: the course's duration is estimated at {estimate} ({MINUTES_PER_STEP} minutes a step); "
            "change it in course.yaml"
        )
        return estimate

    def _level(self) -> str:
        difficulty = (self.scenario.difficulty or "").strip().lower()
        if not difficulty:
            return "beginner"
        level = _LEVELS.get(difficulty)
        if level is None:
            self.warnings.append(f"index.json: difficulty {self.scenario.difficulty!r} is not known; level beginner")
            return "beginner"
        return level


def page_title(page: Page) -> str | None:
    """The page's title, else the first heading of its text (finish pages often have only a heading)."""
    if page.title and page.title.strip():
        return page.title.strip()
    if page.text is None:
        return None
    match = _HEADING.search(page.text.text)
    return match["title"].strip() if match else None


def slug(text: str) -> str:
    """A step id from a title: lowercase ASCII letters, digits and '-', at most 63 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:63].strip("-")


def first_comment(script: str) -> str | None:
    """The comment a script opens with (after the #! line), which usually says what it checks."""
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#!"):
            continue
        if not stripped.startswith("#"):
            return None
        text = stripped.lstrip("#").strip()
        if text and not text.lower().startswith(("shellcheck", "-*-")):
            return text
    return None


def duration(text: str) -> str | None:
    """A duration as course.yaml writes it (`15m`, `1h30m`) from Killercoda's free text (`15 minutes`)."""
    seconds = 0.0
    for match in _TIME_PART.finditer(text.lower()):
        unit = match["unit"][0]
        seconds += float(match["number"]) * {"h": 3600, "m": 60, "s": 1}[unit]
    if seconds <= 0:
        return None
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")


def course_relative(path: Path, start: Path) -> str:
    """`path` relative to `start`, as a course writes a lab path (starting with ./ or ../)."""
    relative = Path(os.path.relpath(path, start)).as_posix()
    return relative if relative.startswith("../") or relative == ".." else f"./{relative}"
