"""The check kinds a course can use, as pydantic models (and so as JSON Schema for course authors).

A check in YAML is a mapping with exactly one kind key (`exists`, `absent`, `field`, `condition`, `count`,
`cel`, `event`, `command`, `git`, `pipeline`, `gitops`, `all`, `any`) plus the common keys (`name`, `timeout`, `hint`).
For example:

    - name: the web Deployment is available
      condition: {kind: Deployment, name: web, namespace: shop, type: Available}
      timeout: 30
    - name: the replica count is pushed
      git: {repo: app, file: deploy/web.yaml, contains: "replicas: 3"}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Target(_Strict):
    """Which objects a check reads. `name` or `selector` narrows; neither means every object of the kind."""

    kind: str = Field(description="Kind, plural or short name as kubectl accepts it: Deployment, deploy, pods.")
    api_version: str | None = Field(
        None, alias="apiVersion", description="Group/version when the kind is ambiguous, e.g. apps/v1."
    )
    name: str | None = None
    namespace: str | None = Field(
        None,
        description="Defaults to the lab's default namespace for namespaced kinds; '*' means every namespace.",
    )
    selector: str | None = Field(None, description="A label selector, as in kubectl -l.")
    field_selector: str | None = Field(None, alias="fieldSelector")


class Comparison(_Strict):
    """How a value read from the cluster is judged. Exactly one of the operators."""

    equals: Any = None
    not_equals: Any = Field(None, alias="notEquals")
    matches: str | None = Field(None, description="A Python regular expression the value (as text) must match.")
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @field_validator("matches")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        return _regex(value)

    @model_validator(mode="after")
    def _one_operator(self) -> Comparison:
        chosen = [name for name in self.model_fields_set if name in _OPERATORS]
        if len(chosen) != 1:
            raise ValueError(f"give exactly one of {', '.join(_OPERATORS)}")
        return self


_OPERATORS = ("equals", "not_equals", "matches", "gt", "ge", "lt", "le")


class FieldCheck(Target):
    """A field of one object, read with a kubectl-style JSONPath such as `{.status.readyReplicas}`."""

    path: str = Field(description="kubectl JSONPath: {.status.readyReplicas} or .status.readyReplicas.")
    expect: Comparison

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        from .jsonpath import parse

        parse(value)
        return value


class ConditionCheck(Target):
    """`status.conditions[type]` has the given status (and reason, if given)."""

    type: str
    status: Literal["True", "False", "Unknown"] = "True"
    reason: str | None = None


class CountCheck(Target):
    """How many objects match the target."""

    expect: Comparison


class CelCheck(Target):
    """A CEL expression over `object` (with `name`) or over `objects` (a list, without `name`)."""

    expression: str

    @field_validator("expression")
    @classmethod
    def _compiles(cls, value: str) -> str:
        from .cel import compile_expression

        compile_expression(value)
        return value


class EventCheck(_Strict):
    """An Event was recorded about an object (involvedObject) with this reason and, optionally, message."""

    kind: str
    name: str
    namespace: str | None = None
    reason: str
    type: Literal["Normal", "Warning"] | None = None
    message: str | None = Field(None, description="A regular expression the event message must match.")

    @field_validator("message")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        return _regex(value)


class CommandCheck(_Strict):
    """A shell command run with the lab's KUBECONFIG; passes on the expected exit code (and output)."""

    run: str = Field(description="Shell code, run with bash (sh where bash is missing) in the course folder.")
    exit_code: int = Field(0, alias="exitCode")
    stdout: str | None = Field(None, description="A regular expression stdout must match.")
    timeout_seconds: float = Field(
        30,
        gt=0,
        alias="timeoutSeconds",
        description="Seconds one run may take before it is stopped and fails.",
    )

    @field_validator("stdout")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        return _regex(value)


class GitCheck(_Strict):
    """State of a repository on the lab's Git server: a file at the head of a branch, or a commit's message."""

    repo: str = Field(description="Repository name on the lab's Git server, without .git.")
    branch: str = "main"
    file: str | None = Field(None, description="A path in the branch's head commit.")
    contains: str | None = Field(None, description="Text the file must contain.")
    matches: str | None = Field(None, description="A regular expression the file must match.")
    absent: bool = Field(False, description="The file must not exist at the head (e.g. a deleted manifest).")
    message: str | None = Field(
        None, description="A regular expression some commit message on the branch must match (newest 50 commits)."
    )
    since_seed: bool = Field(
        False, alias="sinceSeed", description="Only commits made after the lab seeded the repo count (your pushes)."
    )

    @field_validator("matches", "message")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        return _regex(value)

    @model_validator(mode="after")
    def _consistent(self) -> GitCheck:
        if self.file is None and (self.contains is not None or self.matches is not None or self.absent):
            raise ValueError("contains, matches and absent need a file")
        if self.absent and (self.contains is not None or self.matches is not None):
            raise ValueError("an absent file cannot contain or match anything: drop absent, or contains/matches")
        if self.since_seed and self.message is None:
            raise ValueError("sinceSeed needs a message")
        return self


class PipelineCheck(_Strict):
    """The latest pipeline run of a repository (on a branch) and, optionally, one of its steps."""

    repo: str
    branch: str | None = None
    status: Literal["succeeded", "failed", "running", "queued", "cancelled", "interrupted"] | None = Field(
        None, description="The status of the latest run or, with `step`, of that step."
    )
    step: str | None = Field(
        None, description="Name of a step of the run to look at (job/step when several jobs have one of that name)."
    )
    log: str | None = Field(None, description="A regular expression the run's (or the step's) log must match.")
    min_runs: int = Field(
        1, ge=0, alias="minRuns", description="At least this many runs of the repo (on the branch, if given) exist."
    )

    @field_validator("log")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        return _regex(value)


class GitOpsCheck(_Strict):
    """What a GitOps agent reports: one of its objects ready (at the Git head), or an object it manages or pruned.

    Name the agent's object with `kustomization`, `gitRepository` (Flux) or `application` (Argo CD). Alone, it
    must be ready (Flux: Ready=True for its current generation; Argo CD: Synced and Healthy), and with `atHead`
    at the head commit of that lab repository's branch. With `managed`, the target object exists and carries
    the agent's ownership (Flux's labels, Argo CD's tracking annotation), by that object if one is named. With
    `pruned`, the target object is gone and no longer in the named object's inventory (or resources): the
    agent deleted it, rather than it never having been applied.
    """

    kustomization: str | None = None
    git_repository: str | None = Field(None, alias="gitRepository")
    application: str | None = None
    namespace: str | None = Field(
        None, description="Namespace of the agent's object: defaults to flux-system (Flux) or argocd (Argo CD)."
    )
    ready: bool = Field(True, description="Whether the agent's object must be ready (false: must not be).")
    at_head: str | None = Field(
        None, alias="atHead", description="A lab repository whose branch head the object must have applied."
    )
    branch: str = Field("main", description="The branch of `atHead`.")
    managed: Target | None = None
    pruned: Target | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GitOpsCheck:
        owners = [name for name in ("kustomization", "git_repository", "application") if getattr(self, name)]
        if len(owners) > 1:
            raise ValueError("name at most one of kustomization, gitRepository and application")
        if self.managed is not None and self.pruned is not None:
            raise ValueError("give managed or pruned, not both")
        if self.pruned is not None and not (self.kustomization or self.application):
            raise ValueError("pruned needs the kustomization or application that pruned it")
        if self.managed is None and self.pruned is None and not owners:
            raise ValueError("name the agent's object (kustomization, gitRepository or application), or give managed")
        if self.git_repository and (self.managed is not None or self.pruned is not None):
            raise ValueError("a GitRepository manages no objects: use kustomization")
        return self

    @property
    def owner_kind(self) -> str | None:
        if self.kustomization:
            return "Kustomization"
        if self.git_repository:
            return "GitRepository"
        if self.application:
            return "Application"
        return None

    @property
    def owner_name(self) -> str | None:
        return self.kustomization or self.git_repository or self.application

    @property
    def owner_namespace(self) -> str:
        return self.namespace or ("argocd" if self.application else "flux-system")


class Check(_Strict):
    """One check of a step: exactly one kind key, plus what the learner sees and how long it may take."""

    name: str | None = Field(None, description="What the learner sees next to ✓/✗.")
    timeout: float = Field(0, ge=0, description="Seconds the check may take to pass once the step is checked.")
    exists: Target | None = None
    absent: Target | None = None
    field: FieldCheck | None = None
    condition: ConditionCheck | None = None
    count: CountCheck | None = None
    cel: CelCheck | None = None
    event: EventCheck | None = None
    command: CommandCheck | None = None
    git: GitCheck | None = None
    pipeline: PipelineCheck | None = None
    gitops: GitOpsCheck | None = None
    all: list[Check] | None = None
    any: list[Check] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        chosen = [name for name in CHECK_KINDS if getattr(self, name) is not None]
        if len(chosen) != 1:
            found = ", ".join(chosen) or "none"
            raise ValueError(f"a check needs exactly one of {', '.join(CHECK_KINDS)} (found: {found})")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in CHECK_KINDS if getattr(self, name) is not None)

    @property
    def body(self) -> Any:
        return getattr(self, self.kind)


def _regex(value: str | None) -> str | None:
    """Regular expressions are checked when the course loads, not when a learner first meets them."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"invalid regular expression {value!r}: {err}") from None
    return value


CHECK_KINDS = (
    "exists",
    "absent",
    "field",
    "condition",
    "count",
    "cel",
    "event",
    "command",
    "git",
    "pipeline",
    "gitops",
    "all",
    "any",
)

CheckList = Annotated[list[Check], Field(default_factory=list)]
