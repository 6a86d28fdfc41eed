"""A course's lab: its cluster, seeded and set up for the learner's current step.

A lab is one cluster named after the course (`lab-<course>`), on the backend `choose` picks the first time
(see engine.cluster.backend; engine.lab.backends says what differs on kind and on a shared cluster). `up`
starts it with the lab's image
catalogue, creates the lab's namespaces, applies its seed manifests and runs the setup of every step up to the
current one, then returns: the step is ready. What has been done to the cluster is written to `lab.json` in
the cluster's state folder (so it goes away with the cluster's objects), which makes `up` idempotent and lets
an interrupted `up` finish the job next time. The learner's progress lives in the progress store.

`reset` returns the current step to its start. Undoing exactly what setups, solutions and the learner
created is not possible in general, so reset does the robust thing instead: it deletes the lab's namespaces
(those lab.yaml lists, the course's namespace, and Namespaces in the seed manifests), waits until they are
gone (kubectl's delete waits through a watch), seeds again, and re-runs the setup of every step up to and
including the current one. Objects outside those namespaces (cluster-scoped objects, anything in `default`
or another system namespace) are left as they are, so courses keep the learner's work in the lab's namespaces.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .. import paths
from ..checks.context import CheckContext
from ..checks.results import StepResult
from ..checks.spec import Check
from ..cluster.backend import (
    EMBEDDED,
    BackendChoice,
    BackendOptions,
    ClusterBackend,
    ClusterStatus,
    choose_backend,
    make_cluster,
    open_cluster,
    recorded_backend,
)
from ..cluster.embedded.settings import ClusterSettings, PodTimings
from ..cluster.existing import ExistingCluster
from ..cluster.kind_backend import KindCluster
from ..course import Course, Lab, Step, load_lab
from ..course.manifests import seed_namespaces
from ..errors import DriftlabError
from ..gitops import crds
from . import bootstrap
from .daemon import LabDaemon, LabDaemonStatus, PendingDaemon, stop_all
from .names import LAB_PREFIX, cluster_name
from .progress import CourseProgress, ProgressStore
from .runner import ActionRunner, SetupError
from .trust import require_trust, shell_code

if TYPE_CHECKING:
    from ..cluster.existing import NamespaceOwner
    from ..gitops.status import AgentObject
    from ..pipeline import Run

RECORD_FILE = "lab.json"
KUBECONFIG_FILE = "lab.kubeconfig"
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
NAMESPACE_DELETE_TIMEOUT = "120s"
SHOWN_PROBLEMS = 8

PhaseCallback = Callable[[str, str, str], None]
"""Told `(phase, state, detail)` while `up` works: phases `cluster`, `git`, `seed`, `agent`, `setup`; states `running`,
`done`, `skipped`. It may raise to stop `up` between phases (what ran stays recorded, so the next `up` resumes)."""


def current_step(course: Course, progress: CourseProgress) -> Step | None:
    """The step the learner is on: the recorded one, else the first not passed; None when all are done."""
    ids = [step.id for step in course.steps]
    if progress.current_step in ids:
        return course.step(progress.current_step or "")
    if progress.finished:
        return None
    return next((step for step in course.steps if not progress.passed(step.id)), None)


def step_after(course: Course, step: Step) -> Step | None:
    index = course.steps.index(step)
    return course.steps[index + 1] if index + 1 < len(course.steps) else None


def needs_wait(checks: Sequence[Check]) -> bool:
    """Whether any check may take time to pass (a timeout on it, or on a check inside a group)."""
    return any(check.timeout > 0 or needs_wait((check.all or []) + (check.any or [])) for check in checks)


@dataclass(frozen=True)
class RepoStatus:
    """One of the lab's Git repos: where to clone it from (no credentials) and its latest pipeline run."""

    name: str
    clone_url: str | None
    serving: bool = False
    latest_run: Run | None = None


@dataclass(frozen=True)
class LabStatus:
    """What `driftlab lab status` shows."""

    course: Course
    cluster: str
    created: bool
    running: bool
    server: str | None
    progress: CourseProgress
    step: Step | None
    checks: StepResult | None = None
    checks_note: str = ""
    repos: tuple[RepoStatus, ...] = ()
    agents: tuple[AgentObject, ...] = ()

    @property
    def position(self) -> int:
        """1-based number of the current step (0 when the course is finished)."""
        return self.course.steps.index(self.step) + 1 if self.step is not None else 0


@dataclass(frozen=True)
class CheckOutcome:
    """What `driftlab check` found, and what it recorded."""

    step: Step | None
    result: StepResult
    advanced: bool = False
    next_step: Step | None = None
    finished: bool = False
    setup_error: str = ""

    @property
    def passed(self) -> bool:
        return self.step is not None and self.result.passed


class LabRuntime:
    """The lab of one course. Commands that run a course's shell code check trust first (see trust.py).

    `retry` is the command line shown to a learner who must add --trust. `cluster`, `timings`, `store`
    and `workdir` let `course test` run a throwaway copy with its own cluster, progress and working folder;
    `agent_scale` shrinks the GitOps agents' intervals there (see `engine.gitops.controller.Timing`).
    `backend` is the backend asked for (`--backend`), `options` what it needs (context, learner), and `say`
    receives the lines worth telling while the lab starts (the backend chosen, kind's progress).
    """

    def __init__(
        self,
        course: Course,
        *,
        trusted: bool = False,
        retry: str = "",
        store: ProgressStore | None = None,
        cluster: str | None = None,
        timings: PodTimings | None = None,
        workdir: Path | None = None,
        agent_scale: float = 1.0,
        backend: str | None = None,
        options: BackendOptions | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.course = course
        self.trusted = trusted
        self.retry = retry or f"the same command with --trust (course {course.folder})"
        self.store = store if store is not None else ProgressStore()
        self._cluster_name = paths.check_name(cluster or cluster_name(course.name))
        self.requested_backend = backend
        self.options = options or BackendOptions()
        self.say = say or _unsaid
        self.choice: BackendChoice | None = None
        self._cluster: ClusterBackend | None = None
        self.timings = timings
        self.workdir = workdir or course.folder
        self.agent_scale = agent_scale
        self._lab: Lab | None = None
        self._choice_said = False

    # Identity -------------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.course.name

    @property
    def cluster_name(self) -> str:
        return self._cluster_name

    @property
    def cluster(self) -> ClusterBackend:
        """The lab's cluster on the backend it was made with (embedded when it was never made)."""
        if self._cluster is None:
            self._cluster = open_cluster(self._cluster_name, None, self.options)
        return self._cluster

    @property
    def shared(self) -> bool:
        """Whether the lab runs on a shared cluster, in the learner's prefixed namespaces."""
        return isinstance(self.cluster, ExistingCluster)

    def choose(self) -> BackendChoice:
        """The backend (decided once): the one the lab's cluster was made with, else `choose_backend`'s."""
        if self.choice is not None:
            return self.choice
        made = recorded_backend(self._cluster_name)
        found = open_cluster(self._cluster_name, self.requested_backend, self.options)
        if made is not None and found.exists():
            self.choice = BackendChoice(found.backend, "the lab's cluster was made on it", obvious=True)
            found = make_cluster(self._cluster_name, found.backend, self._backend_options(found.backend))
        else:
            self.choice = choose_backend(self.lab.backend, self.requested_backend)
            found = make_cluster(self._cluster_name, self.choice.name, self._backend_options(self.choice.name))
        self._cluster = found
        return self.choice

    def _backend_options(self, backend: str) -> BackendOptions:
        if backend != "kind":
            return self.options
        from .backends import node_ports

        return dataclasses.replace(self.options, node_ports=tuple(node_ports(self.course, self.lab)))

    def namespace_of(self, name: str) -> str:
        """Where a namespace the course names is in the cluster: the learner's own on a shared cluster."""
        cluster = self.cluster
        return cluster.namespace(name) if isinstance(cluster, ExistingCluster) else name

    @property
    def lab(self) -> Lab:
        if self._lab is None:
            self._lab = load_lab(self.course.lab_folder)
        return self._lab

    @property
    def state_name(self) -> str:
        """The name of the lab's state folder (Git repos, pipeline runs): the course's, or the cluster's for a
        throwaway lab on a cluster of its own (course test), so the two never share repos or runs."""
        if self.cluster_name == cluster_name(self.name):
            return cluster_name(self.name, prefix="")
        return self.cluster_name

    def daemon(self) -> LabDaemon | None:
        """The daemon serving the lab's Git repos, running their pipelines and hosting its GitOps agents (the
        embedded ones: on other backends the real agents run in the cluster); None when the lab has neither
        repos nor agents."""
        if not self.lab.repos and not self.lab.agents:
            return None
        return LabDaemon(
            self.state_name,
            self.lab.folder / "repos",
            self.kubeconfig_path(),
            self.cluster_name,
            agents=self.lab.agents if self.cluster.embedded_agents else [],
            agent_scale=self.agent_scale,
            hosts=self.git_hosts,
            notify=[] if self.cluster.embedded_agents else self.lab.agents,
        )

    def git_hosts(self) -> list[str]:
        """Addresses the Git server listens on besides 127.0.0.1, for agents inside the cluster (the kind
        network's gateway); none on the embedded cluster, whose agents run beside the Git server."""
        host = self.cluster.agent_git_host()
        return [host] if host and host != "127.0.0.1" else []

    def namespaces(self) -> list[str]:
        """Namespaces created at lab up: the lab's, then the course's own (system namespaces exist already)."""
        wanted = [*self.lab.namespaces, self.course.namespace]
        return [name for name in dict.fromkeys(wanted) if name not in SYSTEM_NAMESPACES]

    def reset_namespaces(self) -> list[str]:
        """Namespaces that reset deletes: those created at lab up, and the Namespaces among the seed manifests."""
        found = self.namespaces() + self._seed_namespaces()
        return [name for name in dict.fromkeys(found) if name not in SYSTEM_NAMESPACES]

    def shared_namespaces(self) -> list[str]:
        """The namespaces the lab names, as the course writes them, `default` included: on a shared cluster each
        becomes one of the learner's (the kube-* ones are never the lab's)."""
        from .backends import lab_namespace_names

        return lab_namespace_names(self.course, self.lab)

    def owned_namespaces(self) -> list[str]:
        """On a shared cluster, the learner's namespaces this lab creates, resets and deletes."""
        return [self.namespace_of(name) for name in self.shared_namespaces()]

    def _seed_namespaces(self) -> list[str]:
        return seed_namespaces(self.lab.seed_paths())

    # Progress -------------------------------------------------------------------------------------------------

    def progress(self) -> CourseProgress:
        return self.store.load(self.name)

    def current(self) -> Step | None:
        return current_step(self.course, self.progress())

    def _started(self) -> CourseProgress:
        progress = self.progress()
        if not progress.opened:
            raise DriftlabError(
                f"course {self.name!r} has not been started; start it with: driftlab lab up {self.name}"
            )
        return progress

    def _through(self, step: Step | None) -> list[Step]:
        """The steps whose setup makes `step` ready: every step up to it (all of them when finished)."""
        if step is None:
            return list(self.course.steps)
        return list(self.course.steps[: self.course.steps.index(step) + 1])

    # Life cycle -----------------------------------------------------------------------------------------------

    def up(self, on_phase: PhaseCallback | None = None) -> LabStatus:
        """Start (or resume) the lab and make the current step ready; idempotent."""
        tell = on_phase or _untold
        step = current_step(self.course, self.progress())
        record = self._record()
        pending = [
            item for item in self._through(step) if not record.get("seeded") or item.id not in record["prepared"]
        ]
        require_trust(self.course, shell_code(pending, checks=False), self.trusted, self.retry)
        self.store.open(self.name, self.course.steps[0].id, str(self.course.source))
        tell("cluster", "running", self.cluster_name)
        self._choice_said = False
        ahead = self._daemon_ahead()
        try:
            cluster = self.start()
            tell("cluster", "done", cluster.server or "")
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        daemon = self.daemon()
        # The Git server and pipelines start while the cluster starts and is seeded: they need it only later.
        with ThreadPoolExecutor(max_workers=1) as pool:
            if ahead is not None:
                serving: Future[LabDaemonStatus] | None = pool.submit(ahead.serve, cluster.pid)
            else:
                serving = pool.submit(daemon.up, cluster.pid) if daemon is not None else None
            tell("git", "running" if serving is not None else "skipped", "")
            if not record.get("seeded"):
                tell("seed", "running", "")
                self.seed()
                tell("seed", "done", "")
            else:
                tell("seed", "skipped", "")
            served = serving.result() if serving is not None else None
            if served is not None:
                tell("git", "done", served.git_url or "")
        if self.lab.bootstrap:
            tell("agent", "running", ", ".join(self.lab.agents))
            self.bootstrap()
            tell("agent", "done", "")
        for item in pending:
            tell("setup", "running", item.id)
            self.prepare(item)
        tell("setup", "done" if pending else "skipped", "")
        return self.status(evaluate=False)

    def _daemon_ahead(self) -> PendingDaemon | None:
        """The lab's daemon, started now when the lab's embedded cluster is about to start (it loads and serves
        while the cluster starts, and is told the cluster's pid once it runs); None when there is no daemon, the
        cluster runs already, or it is not embedded (kind's network, where its Git server also listens, exists
        only once that cluster does)."""
        self._choose()
        cluster = self.cluster
        if cluster.backend != EMBEDDED:
            return None
        daemon = self.daemon()
        if daemon is None or (cluster.exists() and cluster.status().running):
            return None
        return daemon.start_ahead()

    def _choose(self) -> BackendChoice:
        """`choose`, saying the choice when it is not obvious (once per `up`)."""
        try:
            choice = self.choose()
        except DriftlabError as err:
            if self.lab.backend == "kind":
                raise DriftlabError(f"lab {self.lab.name!r} runs only on the kind backend: {err}") from None
            raise
        if not choice.obvious and not self._choice_said:
            self._choice_said = True
            self.say(choice.message)
        return choice

    def start(self) -> ClusterStatus:
        """The cluster running with the lab's settings, the lab's kubeconfig written, and on a real cluster the
        lab's real GitOps agents installed."""
        self._choose()
        self._choice_said = False
        cluster = self.cluster
        if cluster.backend == EMBEDDED:
            lab_settings(self.lab, self.timings).save(cluster.state_dir)
        if self.shared:
            self._require_shareable()
        status = cluster.up(progress=self.say)
        self._write_kubeconfig(status)
        catalogue = self.lab.images_path()
        if isinstance(cluster, KindCluster) and catalogue is not None:
            cluster.load_images(catalogue, progress=self.say)
        if self.lab.agents and not cluster.embedded_agents:
            self.install_agents()
        return status

    def _require_shareable(self) -> None:
        from .backends import shared_cluster_problems

        problems = shared_cluster_problems(self.course, self.lab, self.shared_namespaces())
        if problems:
            listing = "\n".join(f"  - {problem}" for problem in problems[:SHOWN_PROBLEMS])
            more = len(problems) - SHOWN_PROBLEMS
            if more > 0:
                listing += f"\n  ... and {more} more: driftlab course validate --backend existing {self.course.folder}"
            raise DriftlabError(
                f"course {self.name!r} cannot run on a shared cluster (the existing backend):\n{listing}\n"
                "Run it on the embedded or kind backend (--backend embedded)."
            )

    def install_agents(self) -> None:
        """Install the real Flux / Argo CD of the lab into its cluster (pinned releases; idempotent)."""
        from .backends import install_agents

        install_agents(self.lab.agents, self.kubeconfig_path(), self.say)

    def seed(self) -> None:
        """Create the lab's namespaces and apply its seed manifests, through kubectl, in one call."""
        if self.shared:
            self._seed_shared()
            return
        namespaces = self.namespaces()
        documents = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in namespaces]
        agents = self.lab.agents if self.cluster.embedded_agents else []
        agent_crds = [str(path) for path in crds.files(agents)]
        sources = (["-"] if documents else []) + agent_crds + [str(path) for path in self.lab.seed_paths()]
        if sources:
            try:
                self.runner().apply(sources, stdin=yaml.safe_dump_all(documents, sort_keys=False))
            except SetupError as err:
                raise SetupError(f"seeding lab {self.lab.name!r} failed:\n{err}") from None
        self._save_record({"seeded": True, "prepared": []})

    def _seed_shared(self) -> None:
        """On a shared cluster: claim the learner's namespaces (refusing foreign ones), then apply the seed
        manifests with their namespaces mapped."""
        from .backends import seed_documents

        with self._owner() as owner:
            owner.claim(self.owned_namespaces())
        documents = [doc for doc in seed_documents(self.lab, self.namespace_of) if doc.get("kind") != "Namespace"]
        if documents:
            try:
                self.runner().apply(["-"], stdin=yaml.safe_dump_all(documents, sort_keys=False))
            except SetupError as err:
                raise SetupError(f"seeding lab {self.lab.name!r} failed:\n{err}") from None
        self._save_record({"seeded": True, "prepared": []})

    @contextlib.contextmanager
    def _owner(self) -> Iterator[NamespaceOwner]:
        from ..cluster.client import KubeClient

        cluster = self.cluster
        if not isinstance(cluster, ExistingCluster):
            raise DriftlabError("only a lab on a shared cluster owns namespaces")
        client = KubeClient(self.kubeconfig_path())
        try:
            yield cluster.owner(client)
        finally:
            client.close()

    def bootstrap(self) -> None:
        """Apply the lab's bootstrap manifests with the running Git server's URL and deploy account (on every
        `up`, so a Git server that came back on another port is followed)."""
        if not self.lab.bootstrap:
            return
        daemon = self.daemon()
        served = daemon.status() if daemon is not None else None
        if daemon is None or served is None or not served.running or served.git_url is None:
            raise DriftlabError(f"lab {self.lab.name!r} has bootstrap manifests but its Git server is not running")
        from ..gitserver.credentials import Credentials

        deploy = Credentials.load(paths.git_credentials_file(daemon.name)).deploy
        git_url = self._agent_git_url(served)
        if not self.cluster.embedded_agents:
            from .backends import agent_credentials

            repos = [repo.name for repo in self.lab.repos]
            agent_credentials(self.lab.agents, self.kubeconfig_path(), git_url, repos, deploy.username, deploy.password)
        values = bootstrap.variables(git_url, deploy.username, deploy.password)
        documents = "\n---\n".join(bootstrap.render(path, values) for path in self.lab.bootstrap_paths())
        try:
            self.runner().apply(["-"], stdin=documents)
        except SetupError as err:
            raise SetupError(f"bootstrapping lab {self.lab.name!r} failed:\n{err}") from None

    def _agent_git_url(self, served: LabDaemonStatus) -> str:
        """The Git server's URL as the agents reach it: 127.0.0.1 beside the embedded cluster, the kind
        network's gateway from inside a kind cluster."""
        if self.cluster.embedded_agents:
            return served.git_url or ""
        url = served.url_on(served.hosts[0]) if served.hosts else None
        if url is None:
            raise DriftlabError(
                f"the Git server of lab {self.lab.name!r} does not listen where the cluster's agents can reach it; "
                f"run `driftlab lab up {self.name}` again"
            )
        return url

    def prepare(self, step: Step) -> None:
        """Run the step's setup unless it already ran since the lab was last seeded."""
        record = self._record()
        if step.id in record.get("prepared", []):
            return
        self.runner().run_setup(step)
        self._save_record({"seeded": True, "prepared": [*record.get("prepared", []), step.id]})

    def down(self, purge: bool = False) -> bool:
        """Stop the lab's daemon and cluster (with purge, delete the cluster's objects too; progress, repos and
        pipeline runs are kept). True if the cluster ran."""
        daemon = self.daemon()
        if daemon is not None:
            daemon.down()
        if not self.cluster.exists():
            raise DriftlabError(f"course {self.name!r} has no lab; start it with: driftlab lab up {self.name}")
        return self.cluster.down(purge=purge)

    def reset(self) -> LabStatus:
        """Return the current step to its start: fresh namespaces, seed, and setups up to the current step."""
        progress = self._started()
        steps = self._through(current_step(self.course, progress))
        require_trust(self.course, shell_code(steps, checks=False), self.trusted, self.retry)
        status = self._running()
        self._write_kubeconfig(status)
        self._save_record({"seeded": False, "prepared": []})
        names = self.reset_namespaces()
        if self.shared:
            with self._owner() as owner:
                names = owner.require_owned(self.owned_namespaces())
        if names:
            result = self.runner().kubectl(
                "delete",
                "namespace",
                *names,
                "--ignore-not-found",
                "--wait=true",
                f"--timeout={NAMESPACE_DELETE_TIMEOUT}",
            )
            if not result.ok:
                raise DriftlabError(f"could not delete the lab's namespaces:\n{result.stderr.strip()}")
        self.seed()
        self.bootstrap()
        for step in steps:
            self.prepare(step)
        return self.status(evaluate=False)

    # Looking at it --------------------------------------------------------------------------------------------

    def status(self, evaluate: bool = True) -> LabStatus:
        progress = self.progress()
        step = current_step(self.course, progress)
        created = self.cluster.exists()
        cluster = self.cluster.status() if created else None
        running = bool(cluster and cluster.running)
        checks: StepResult | None = None
        note = ""
        if evaluate and running and step is not None:
            if shell_code([step], setup=False) and not self._may_run_code():
                note = "not checked: its checks run shell code and the course is not trusted (add --trust)"
            else:
                checks = self.evaluate(step)
        server = cluster.server if cluster else None
        repos = self.repo_statuses()
        agents = self.agent_statuses() if running and evaluate else ()
        return LabStatus(
            self.course, self.cluster_name, created, running, server, progress, step, checks, note, repos, agents
        )

    def agent_statuses(self) -> tuple[AgentObject, ...]:
        """The sources and syncs of the lab's GitOps agents as they report them (none without agents)."""
        if not self.lab.agents:
            return ()
        from ..cluster.client import KubeClient
        from ..cluster.errors import ClusterError
        from ..gitops.status import read_all

        client = KubeClient(self.kubeconfig_path())
        try:
            return tuple(read_all(client))
        except ClusterError:
            return ()
        finally:
            client.close()

    def repo_statuses(self) -> tuple[RepoStatus, ...]:
        """Each of the lab's repos with its clone URL (once the daemon has run) and latest pipeline run."""
        daemon = self.daemon()
        if daemon is None:
            return ()
        from ..gitserver.client import clone_url
        from ..pipeline import PipelineError, PipelineStore

        served = daemon.status()
        base = served.git_url
        store_file = paths.pipeline_store(daemon.name)
        store = PipelineStore(store_file, create=False) if store_file.exists() else None
        try:
            found = []
            for repo in self.lab.repos:
                latest = None
                if store is not None:
                    with contextlib.suppress(PipelineError):
                        latest = store.latest(repo.name)
                url = clone_url(base, repo.name) if base else None
                found.append(RepoStatus(repo.name, url, served.running, latest))
            return tuple(found)
        finally:
            if store is not None:
                store.close()

    def evaluate(self, step: Step, wait_for_timeouts: bool = False) -> StepResult:
        """The step's checks, once; with `wait_for_timeouts`, failing checks get their `timeout` to pass."""
        from ..checks.evaluator import evaluate as evaluate_checks

        context = self.context()
        result = evaluate_checks(step.checks, context)
        if result.passed or not wait_for_timeouts or not needs_wait(step.checks):
            return result
        from ..checks.watcher import wait

        return wait(step.checks, context)

    def check(self, step_id: str | None = None, wait: bool = True) -> CheckOutcome:
        """Evaluate a step (the current one by default); when all its checks pass, record it and move on.

        With `wait`, checks that have a timeout get that long to pass (the cluster may still be rolling out)."""
        progress = self._started()
        current = current_step(self.course, progress)
        step = self.course.step(step_id) if step_id else current
        if step is None:
            return CheckOutcome(None, StepResult(), finished=True)
        advancing = current is not None and step.id == current.id
        following = step_after(self.course, step) if advancing else None
        code = shell_code([step], setup=False) + (shell_code([following], checks=False) if following else [])
        require_trust(self.course, code, self.trusted, self.retry)
        self._write_kubeconfig(self._running())
        result = self.evaluate(step, wait_for_timeouts=wait)
        if not result.passed:
            return CheckOutcome(step, result)
        if not advancing:
            self.store.mark_passed(self.name, step.id)
            return CheckOutcome(step, result)
        self.store.pass_and_advance(self.name, step.id, following.id if following else None)
        error = ""
        if following is not None:
            try:
                self.prepare(following)
            except SetupError as err:
                error = f"{err}\nrun `driftlab lab up {self.name}` to try the setup again"
        return CheckOutcome(step, result, True, following, following is None, error)

    def context(self) -> CheckContext:
        """What checks read: on a shared cluster through the learner's namespaces (the course's names are kept
        in the context, and mapped on every read)."""
        context = CheckContext.from_kubeconfig(
            self.kubeconfig_path(), self.course.namespace, cwd=self.workdir, lab=self.state_name
        )
        if self.shared:
            from .backends import MappedReader

            context.reader = MappedReader(context.reader, self.namespace_of)
        return context

    def runner(self) -> ActionRunner:
        if self.shared:
            from .backends import MappedActionRunner

            namespace = self.namespace_of(self.course.namespace)
            return MappedActionRunner(self.kubeconfig_path(), namespace, self.workdir, mapper=self.namespace_of)
        return ActionRunner(self.kubeconfig_path(), self.course.namespace, self.workdir)

    def kubeconfig_text(self) -> str:
        """A kubeconfig for the lab whose context's namespace is the course's (the learner's, when shared)."""
        if not self.cluster.exists():
            raise DriftlabError(f"course {self.name!r} has no lab yet; start it with: driftlab lab up {self.name}")
        status = self.cluster.status()
        if status.server is None:
            raise DriftlabError(f"the lab of course {self.name!r} never started; run: driftlab lab up {self.name}")
        return self.cluster.kubeconfig(self.course.namespace)

    def kubeconfig_path(self) -> Path:
        return paths.clusters_dir() / self.cluster_name / KUBECONFIG_FILE

    def write_kubeconfig(self) -> Path:
        """Write the lab's kubeconfig file (the port may have changed since the last start) and return it."""
        path = self.kubeconfig_path()
        _write_private(path, self.kubeconfig_text())
        return path

    # Internals ------------------------------------------------------------------------------------------------

    def _may_run_code(self) -> bool:
        from .trust import is_trusted

        return self.trusted or is_trusted(self.course)

    def _running(self) -> ClusterStatus:
        status = self.cluster.status() if self.cluster.exists() else None
        if status is None or not status.running:
            raise DriftlabError(
                f"the lab of course {self.name!r} is not running; start it with: driftlab lab up {self.name}"
            )
        return status

    def _write_kubeconfig(self, status: ClusterStatus) -> None:
        if status.server is not None:
            _write_private(self.kubeconfig_path(), self.cluster.kubeconfig(self.course.namespace))

    def _record(self) -> dict[str, Any]:
        """What has been done to the cluster for this course (nothing, when the cluster is new)."""
        if not self.cluster.exists():
            return {"seeded": False, "prepared": []}
        try:
            data = json.loads((self.cluster.state_dir / RECORD_FILE).read_text())
        except (OSError, ValueError):
            return {"seeded": False, "prepared": []}
        if not isinstance(data, dict) or data.get("course") != self.name or not isinstance(data.get("prepared"), list):
            return {"seeded": False, "prepared": []}
        return data

    def _save_record(self, record: dict[str, Any]) -> None:
        data = {"course": self.name, "source": str(self.course.source), **record}
        paths.write_private(self.cluster.state_dir / RECORD_FILE, json.dumps(data, indent=2) + "\n")


def _untold(phase: str, state: str, detail: str) -> None:
    """The phase callback of an `up` nobody watches."""


def _unsaid(line: str) -> None:
    """The `say` of a lab nobody listens to."""


def _write_private(path: Path, text: str) -> None:
    paths.write_private(path, text)


def lab_settings(lab: Lab, timings: PodTimings | None = None) -> ClusterSettings:
    """The embedded cluster's settings for a lab: its image catalogue, and pod timings (`timings` overrides the
    lab's own, which default to realistic ones)."""
    images = lab.images_path()
    return ClusterSettings(
        timings=timings or lab.timings or PodTimings(),
        image_catalogue=images.resolve() if images is not None else None,
    )


def lab_clusters(prefixes: Sequence[str] = (LAB_PREFIX,)) -> list[str]:
    """Names of the clusters that belong to labs (and other prefixes given), in name order."""
    root = paths.clusters_dir()
    if not root.is_dir():
        return []
    return sorted(child.name for child in root.iterdir() if child.is_dir() and child.name.startswith(tuple(prefixes)))


def down_all(purge: bool = False, prefixes: Sequence[str] = (LAB_PREFIX,)) -> list[tuple[str, bool]]:
    """Stop every lab's daemon and cluster; returns each cluster's name with whether it was running."""
    names = lab_clusters(prefixes)
    stop_all(set(names))
    return [(name, open_cluster(name).down(purge=purge)) for name in names]
