""".driftlab/pipeline.yaml: what runs on a push, modelled strictly so a typo is an error, not a silent no-op.

```yaml
triggers:
  branches: [main, "release/*"]   # glob patterns: * stays within one path segment, ** crosses them
env: {APP: shop}                  # given to every step
secrets: [DEPLOY_TOKEN]           # names of lab secrets exposed to the steps as variables
timeout: 10m                      # the whole run; a number of seconds or a text like 90s, 5m, 1h30m
jobs:
  - name: deploy
    steps:
      - name: apply
        run: kubectl apply -f deploy/
        env: {DRY_RUN: "false"}
        timeout: 2m
```
Problems are reported as `FILE:LINE:COL: message`, every one of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .. import durations
from ..yamlguard import expansion, guarded_loader
from .errors import PipelineFileError, Problem

PIPELINE_FILE = ".driftlab/pipeline.yaml"
DEFAULT_RUN_TIMEOUT = 30 * 60.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a text such as `90s`, `5m`, `1h30m`, `500ms`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a duration is a number of seconds or a text like 90s, 5m or 1h30m")
    if isinstance(value, str):
        found = durations.seconds(value.strip())
        if found is None:
            raise ValueError(f"{value!r} is not a duration: write a number of seconds or a text like 90s, 5m or 1h30m")
        seconds = found
    else:
        seconds = float(value)
    if seconds <= 0:
        raise ValueError("a duration must be more than 0 seconds")
    return seconds


def _env_value(value: Any) -> str:
    """YAML turns `true` and `3` into booleans and numbers; a step's environment holds their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError("an environment value must be a text, a number or a boolean")


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a variable name: use letters, digits and '_', not starting with a digit")
    return name


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def glob_pattern(pattern: str) -> re.Pattern[str]:
    """A branch pattern as a regular expression: `*` and `?` stay within a segment, `**` spans segments."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        char = pattern[i]
        out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(out))


Duration = Annotated[float, BeforeValidator(parse_duration)]
EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str, BeforeValidator(_env_value)]
Text = Annotated[str, AfterValidator(_not_blank)]
Environment = dict[EnvName, EnvValue]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Triggers(_Strict):
    """Which pushes start a run: branches whose name matches one of the patterns (every branch by default)."""

    branches: Annotated[list[Text], BeforeValidator(_one_or_many)] = Field(default_factory=lambda: ["**"])

    def matches(self, branch: str) -> bool:
        return any(glob_pattern(pattern).fullmatch(branch) for pattern in self.branches)


class Step(_Strict):
    name: Text
    run: Text
    env: Environment = Field(default_factory=dict)
    timeout: Duration | None = None


class Job(_Strict):
    name: Text
    steps: list[Step] = Field(min_length=1)


class Pipeline(_Strict):
    triggers: Triggers = Field(default_factory=Triggers)
    env: Environment = Field(default_factory=dict)
    secrets: list[EnvName] = Field(default_factory=list)
    timeout: Duration = DEFAULT_RUN_TIMEOUT
    jobs: list[Job] = Field(min_length=1)

    def steps(self) -> Iterator[tuple[Job, Step]]:
        """Every step in the order it runs, with its job."""
        for job in self.jobs:
            for step in job.steps:
                yield job, step


_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): Pipeline,
    ("triggers",): Triggers,
    ("jobs",): Job,
    ("jobs", "steps"): Step,
}


@dataclass
class _Positions:
    """Where each node of a YAML document starts, keyed by its path such as `("jobs", 0, "name")`."""

    values: dict[tuple[Any, ...], yaml.Mark] = field(default_factory=dict)
    keys: dict[tuple[Any, ...], yaml.Mark] = field(default_factory=dict)
    duplicates: list[tuple[tuple[Any, ...], yaml.Mark]] = field(default_factory=list)

    def walk(self, node: Node, path: tuple[Any, ...] = ()) -> None:
        self.values[path] = node.start_mark
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node.start_mark)
                if key in seen:
                    self.duplicates.append(((*path, key), key_node.start_mark))
                seen.add(key)
                self.keys[(*path, key)] = key_node.start_mark
                self.walk(value_node, (*path, key))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))

    def locate(self, loc: tuple[Any, ...], key: bool = False) -> yaml.Mark:
        """The mark of the deepest node of `loc` present in the file (its key's mark when `key`)."""
        path: tuple[Any, ...] = ()
        for part in loc:
            step = (*path, part if isinstance(part, int) else str(part))
            if part == "[key]":
                return self.keys.get(path, self.values[path])
            if step not in self.values:
                break
            path = step
        if key and path in self.keys:
            return self.keys[path]
        return self.values[path]


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"{_where(loc[:-1]) + ': ' if loc[:-1] else ''}missing required field '{loc[-1]}'"
    if kind == "extra_forbidden":
        owner = _MODELS.get(tuple(part for part in loc[:-1] if not isinstance(part, int)))
        allowed = f" (allowed: {', '.join(owner.model_fields)})" if owner else ""
        return f"{_where(loc[:-1]) + ': ' if loc[:-1] else ''}unknown field '{loc[-1]}'{allowed}"
    if kind == "too_short":
        return f"{_where(loc)}: must list at least one {'step' if loc[-1] == 'steps' else 'job'}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{_where(loc)}: {message}" if loc else message


def _problem(file: str, mark: yaml.Mark | None, message: str) -> Problem:
    return Problem(file, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, message)


def _duplicate_names(pipeline: Pipeline) -> list[tuple[tuple[Any, ...], str]]:
    """Jobs, and steps within a job, are named in logs and checks, so their names must be unique."""
    found: list[tuple[tuple[Any, ...], str]] = []
    jobs: set[str] = set()
    for i, job in enumerate(pipeline.jobs):
        if job.name in jobs:
            found.append((("jobs", i, "name"), f"jobs[{i}].name: another job is already named {job.name!r}"))
        jobs.add(job.name)
        steps: set[str] = set()
        for j, step in enumerate(job.steps):
            if step.name in steps:
                message = f"jobs[{i}].steps[{j}].name: job {job.name!r} already has a step {step.name!r}"
                found.append((("jobs", i, "steps", j, "name"), message))
            steps.add(step.name)
    return found


MAX_DEPTH = 50
"""Deepest nesting of lists and mappings in a pipeline file (real ones use five or six levels)."""
MAX_ALIAS_EXPANSION = 10_000
"""Most values aliases may add: an alias bomb ("billion laughs") is refused before it expands."""


_Loader = guarded_loader(MAX_DEPTH)


def load_pipeline(text: str, file: str = PIPELINE_FILE) -> Pipeline:
    """Parse and validate a pipeline file; raise PipelineFileError listing every problem with its position."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        if root is not None and expansion(root).values > MAX_ALIAS_EXPANSION:
            message = f"aliases (*name) expand the file by more than {MAX_ALIAS_EXPANSION} values"
            raise PipelineFileError([_problem(file, root.start_mark, message)])
        data = yaml.SafeLoader("").construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise PipelineFileError([_problem(file, mark, f"not valid YAML: {err.problem or err}")]) from None
    except yaml.YAMLError as err:
        raise PipelineFileError([_problem(file, None, f"not valid YAML: {' '.join(str(err).split())}")]) from None
    except RecursionError:
        raise PipelineFileError([_problem(file, None, f"nested more than {MAX_DEPTH} levels deep")]) from None
    if root is None or data is None:
        raise PipelineFileError([_problem(file, None, "the pipeline is empty: it needs at least 'jobs'")])
    if not isinstance(data, dict):
        message = "the pipeline must be a mapping with 'jobs' (and optionally triggers, env, secrets, timeout)"
        raise PipelineFileError([_problem(file, root.start_mark, message)])
    positions = _Positions()
    try:
        positions.walk(root)
    except RecursionError:
        message = f"aliases (*name) nest the file more than {MAX_DEPTH} levels deep, or refer to themselves"
        raise PipelineFileError([_problem(file, root.start_mark, message)]) from None
    problems = [
        _problem(file, mark, f"{_where(path[:-1]) + ': ' if path[:-1] else ''}'{path[-1]}' is given twice")
        for path, mark in positions.duplicates
    ]
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as err:
        for error in err.errors():
            loc = tuple(error["loc"])
            mark = positions.locate(loc, key=error["type"] == "extra_forbidden")
            problems.append(_problem(file, mark, _message(error)))
        raise PipelineFileError(sorted(problems, key=lambda p: (p.line, p.column))) from None
    problems += [_problem(file, positions.locate(path), message) for path, message in _duplicate_names(pipeline)]
    if problems:
        raise PipelineFileError(sorted(problems, key=lambda p: (p.line, p.column)))
    return pipeline
