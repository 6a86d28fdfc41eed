"""The one evaluator of checks, shared by `driftlab check`, `driftlab course test` and the TUI.

`evaluate` runs a step's checks once against the cluster and returns every result; it never raises: a check
that cannot run (API unreachable, unknown kind, a bug) fails with a message that says why. `plan` tells the
watcher what the checks read, so it can watch exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .context import CheckContext
from .kinds import LAB_KINDS, OBJECT_KINDS, Scope, Verdict, command, gitops, read_of, title_of
from .reader import JSON, ApiResource, Read, ReadError
from .results import CheckResult, StepResult, group
from .spec import Check


def evaluate(checks: Sequence[Check], context: CheckContext) -> StepResult:
    """One synchronous pass over `checks`: every check read and judged, in order."""
    session = _Session(context)
    return StepResult(tuple(session.check(check) for check in checks))


def evaluate_check(check: Check, context: CheckContext) -> CheckResult:
    return _Session(context).check(check)


def not_yet_checked(checks: Sequence[Check]) -> StepResult:
    """What to show before the first evaluation: every check by name, pending."""
    return StepResult(tuple(_pending(check) for check in checks))


def _pending(check: Check) -> CheckResult:
    children = (check.all if check.kind == "all" else check.any if check.kind == "any" else None) or []
    inner = tuple(_pending(child) for child in children)
    return CheckResult(title_of(check), check.kind, None, "not checked yet", children=inner)


@dataclass
class _Session:
    """One evaluation pass: reads and kind resolutions are shared between its checks."""

    context: CheckContext
    reads: dict[Read, list[JSON] | ReadError] = field(default_factory=dict)
    kinds: dict[tuple[str, str | None], ApiResource | ReadError] = field(default_factory=dict)

    @property
    def scope(self) -> Scope:
        return Scope(self.context.namespace, self.resolve)

    def resolve(self, kind: str, api_version: str | None) -> ApiResource:
        key = (kind, api_version)
        if key not in self.kinds:
            try:
                self.kinds[key] = self.context.reader.resolve(kind, api_version)
            except ReadError as err:
                self.kinds[key] = err
        found = self.kinds[key]
        if isinstance(found, ReadError):
            raise found
        return found

    def fetch(self, read: Read) -> list[JSON]:
        if read not in self.reads:
            try:
                self.reads[read] = self.context.reader.fetch(read)
            except ReadError as err:
                self.reads[read] = err
        found = self.reads[read]
        if isinstance(found, ReadError):
            raise found
        return found

    def check(self, check: Check) -> CheckResult:
        kind = check.kind
        try:
            name = title_of(check)
        except Exception:
            name = check.name or f"{kind} check"
        try:
            if kind in ("all", "any"):
                children = check.all if kind == "all" else check.any
                return group(name, kind, [self.check(child) for child in children or []])
            verdict = self._verdict(kind, check)
        except ReadError as err:
            verdict = Verdict(False, f"could not check: {err}", "", "an error")
        except Exception as err:  # a check must fail, never crash the lab
            verdict = Verdict(False, f"could not check ({type(err).__name__}: {err})", "", "an error")
        return CheckResult(name, kind, verdict.passed, verdict.message, verdict.expected, verdict.found)

    def _verdict(self, kind: str, check: Check) -> Verdict:
        body = check.body
        if kind == "command":
            return command.judge(body, command.run(body, self.context))
        if kind == "gitops":
            return self._gitops(body)
        if kind in LAB_KINDS:
            module = LAB_KINDS[kind]
            return module.judge(body, module.read(body, self.context))
        module = OBJECT_KINDS[kind]
        read = read_of(kind, body, self.scope)
        return module.judge(body, self.fetch(read), read)

    def _gitops(self, body: gitops.GitOpsCheck) -> Verdict:
        owner_read, subject_read = gitops.owner_read(body, self.scope), gitops.subject_read(body, self.scope)
        owners = self.fetch(owner_read) if owner_read is not None else []
        subjects = self.fetch(subject_read) if subject_read is not None else []
        state = gitops.GitOpsState(owners[0] if owners else None, tuple(subjects), gitops.head_of(body, self.context))
        return gitops.judge(body, state, subject_read)


@dataclass(frozen=True)
class Plan:
    """What a step's checks read: the reads to watch, whether commands run, and kinds not (yet) served.

    `lab_state` is true when git or pipeline checks read the lab's repos or runs, which no watch can see.
    """

    reads: frozenset[Read]
    commands: bool
    unresolved: tuple[str, ...]
    lab_state: bool = False


def plan(checks: Iterable[Check], context: CheckContext) -> Plan:
    """The reads behind `checks` (groups and the kubectl calls of commands included). Raises Unreachable."""
    session = _Session(context)
    reads: set[Read] = set()
    unresolved: list[str] = []
    commands = False
    lab_state = False
    for check in _flatten(checks):
        kind = check.kind
        if kind in LAB_KINDS:
            lab_state = True
            continue
        if kind == "command":
            commands = True
            reads.update(command.reads(check.body, session.scope))
            continue
        try:
            if kind == "gitops":
                lab_state = lab_state or check.body.at_head is not None
                reads.update(gitops.reads(check.body, session.scope))
                continue
            reads.add(read_of(kind, check.body, session.scope))
        except ReadError as err:
            if _unreachable(err):
                raise
            unresolved.append(str(err))
    return Plan(frozenset(reads), commands, tuple(unresolved), lab_state)


def _unreachable(err: ReadError) -> bool:
    from .reader import Unreachable

    return isinstance(err, Unreachable)


def _flatten(checks: Iterable[Check]) -> Iterable[Check]:
    for check in checks:
        if check.kind in ("all", "any"):
            yield from _flatten((check.all if check.kind == "all" else check.any) or [])
        else:
            yield check
