"""The push-pipeline runner with the real git: pushes are simulated by calling on_push with real commits."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import paths, proc
from engine.gitserver.events import ZERO, PushEvent
from engine.pipeline import PipelineEvent, PipelineRunner, PipelineStore, Run
from engine.pipeline.runner import INTERRUPTED_NOTE

from .conftest import Cluster

LAB = "shop-lab"


@dataclass
class Repo:
    """A bare repo as the Git server keeps it, and a clone to commit and push from."""

    name: str
    bare: Path
    work: Path

    def git(self, *args: str) -> str:
        result = proc.run(
            ["git", "-c", "user.name=Ann Author", "-c", "user.email=ann@example.com", *args], cwd=self.work
        )
        assert result.ok, result.stderr
        return result.stdout.strip()

    def commit(self, message: str, files: dict[str, str | None], branch: str = "main") -> str:
        """Commit the files (None deletes one) and push them to the bare repo; the new commit's id."""
        for name, text in files.items():
            path = self.work / name
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")

    def push(self, sha: str, branch: str = "main", old: str = ZERO, pusher: str = "learner") -> PushEvent:
        return PushEvent(self.name, f"refs/heads/{branch}", old, sha, pusher)


def make_repo(root: Path, name: str = "shop") -> Repo:
    bare = root / "repos" / f"{name}.git"
    assert proc.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)]).ok
    work = root / "work" / name
    assert proc.run(["git", "clone", "-q", str(bare), str(work)]).ok
    return Repo(name, bare, work)


def pipeline(*steps: dict[str, Any] | str, job: str = "build", **top: Any) -> dict[str, str | None]:
    """A pipeline file with one job; a step given as text is `run:` code named s1, s2, ..."""
    listed = [s if isinstance(s, dict) else {"name": f"s{i}", "run": s} for i, s in enumerate(steps, 1)]
    return {".driftlab/pipeline.yaml": yaml.safe_dump({**top, "jobs": [{"name": job, "steps": listed}]})}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path)


def runner_for(root: Path, **kwargs: Any) -> PipelineRunner:
    return PipelineRunner(root / "state" / "pipelines.db", root / "repos", **kwargs)


def drive(
    root: Path, scenario: Callable[[PipelineRunner], Awaitable[Any]], store: Path | None = None, **kwargs: Any
) -> Any:
    """Run a scenario against a started runner, stopping it afterwards."""

    async def main() -> Any:
        runner = PipelineRunner(store, root / "repos", **kwargs) if store else runner_for(root, **kwargs)
        await runner.start()
        try:
            return await scenario(runner)
        finally:
            await runner.stop()

    return asyncio.run(main())


def log_of(store: PipelineStore, run_id: int, step: int | None = None) -> list[str]:
    return [line.text for line in store.lines(run_id, step=step) if step is None or line.stream == "out"]


async def push_and_wait(runner: PipelineRunner, event: PushEvent) -> Run:
    runner.on_push(event)
    await runner.drain()
    return runner.store.runs(limit=1)[0]


async def wait_for_line(runner: PipelineRunner, run_id: int, text: str) -> None:
    async for line in runner.follow(run_id):
        if line.text == text:
            return
    raise AssertionError(f"run {run_id} ended without printing {text!r}")


def release(fifo: Path, text: str = "go") -> Awaitable[int]:
    """Write to a FIFO a step is reading from (opening it waits for the reader, so in a thread)."""
    return asyncio.to_thread(fifo.write_text, text + "\n")


def test_a_push_runs_the_pipeline_in_a_fresh_checkout_of_the_pushed_commit(repo: Repo, tmp_path: Path) -> None:
    files = {"app.txt": "version 1\n", **pipeline("cat app.txt", "git status --porcelain; git branch --show-current")}
    sha = repo.commit("Ship version 1", files)
    repo.commit("Ship version 2", {"app.txt": "version 2\n"})  # the branch has moved on since the push

    run = drive(tmp_path, lambda runner: push_and_wait(runner, repo.push(sha)))
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert (run.status, run.repo, run.ref, run.commit, run.summary) == (
        "succeeded",
        "shop",
        "refs/heads/main",
        sha,
        "Ship version 1",
    )
    assert (run.pusher, run.author, run.error) == ("learner", "Ann Author <ann@example.com>", "")
    assert run.duration is not None and run.started_at is not None and run.queued_at <= run.started_at
    assert [(s.job, s.name, s.status, s.exit_code) for s in store.steps(run.id)] == [
        ("build", "s1", "succeeded", 0),
        ("build", "s2", "succeeded", 0),
    ]
    assert log_of(store, run.id, 0) == ["version 1"]
    assert log_of(store, run.id, 1) == ["main"]  # a clean checkout, on a branch named like the pushed one
    log = log_of(store, run.id)
    assert log[0] == f"run {run.id} of shop: main at {sha[:7]}, pushed by learner"
    assert log[-1].startswith(f"run {run.id} succeeded after ")
    assert list((tmp_path / "state" / "pipeline-work").iterdir()) == []


def test_a_failing_step_fails_the_run_and_later_steps_do_not_run(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Break it", pipeline("echo first", "echo broken >&2; exit 7", "echo never"))
    run = drive(tmp_path, lambda runner: push_and_wait(runner, repo.push(sha)))
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert (run.status, run.error) == ("failed", "step 's2' failed with exit code 7")
    steps = store.steps(run.id)
    assert [(s.status, s.exit_code) for s in steps] == [("succeeded", 0), ("failed", 7), ("skipped", None)]
    assert steps[2].started_at is None
    assert "never" not in log_of(store, run.id)
    assert log_of(store, run.id, 1) == ["broken"]


def test_a_step_over_its_timeout_is_killed_and_fails_the_run(repo: Repo, tmp_path: Path) -> None:
    slow = {"name": "slow", "run": "echo waiting; sleep 30", "timeout": "300ms"}
    sha = repo.commit("Slow", pipeline(slow, "echo never"))
    run = drive(tmp_path, lambda runner: push_and_wait(runner, repo.push(sha)))
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert (run.status, run.error) == ("failed", "step 'slow' timed out after 0.3s")
    assert [(s.status, s.exit_code) for s in store.steps(run.id)] == [("timed_out", 143), ("skipped", None)]
    assert run.duration is not None and run.duration < 10


def test_the_run_timeout_covers_all_steps(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Slow", pipeline("echo quick", "sleep 30", "echo never", timeout=1.5))
    run = drive(tmp_path, lambda runner: push_and_wait(runner, repo.push(sha)))
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert run.status == "failed"
    assert run.error.startswith("the run timed out during step 's2' after ")
    assert [s.status for s in store.steps(run.id)] == ["succeeded", "timed_out", "skipped"]


def test_secrets_and_cluster_credentials_reach_the_steps_as_in_ci(repo: Repo, tmp_path: Path) -> None:
    lab_kubeconfig = tmp_path / "lab.kubeconfig"
    lab_kubeconfig.write_text("apiVersion: v1\nkind: Config\n# the lab's cluster-admin credentials\n")
    script = """\
test "$DEPLOY_TOKEN" = "s3cr3t-value" && echo token-ok
echo "token: $DEPLOY_TOKEN"
echo "other: ${OTHER_SECRET:-unset}"
echo "kubeconfig: $KUBECONFIG"
cat "$KUBECONFIG"
echo "kubectl: $(command -v kubectl)"
echo "ci=$CI lab=$LAB_NAME app=$APP step=$STEP_ONLY commit=$DRIFTLAB_PIPELINE_COMMIT"
"""
    step = {"name": "env", "run": script, "env": {"STEP_ONLY": "yes", "DRIFTLAB_PIPELINE_COMMIT": "forged"}}
    sha = repo.commit("Look around", pipeline(step, secrets=["DEPLOY_TOKEN"], env={"APP": "shop", "CI": "false"}))
    secrets = {"DEPLOY_TOKEN": "s3cr3t-value", "OTHER_SECRET": "not-for-this-pipeline"}
    env = {"KUBECONFIG": str(lab_kubeconfig), "LAB_NAME": LAB}
    run = drive(tmp_path, lambda r: push_and_wait(r, repo.push(sha)), env=env, secrets=secrets)
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert run.status == "succeeded"
    output = log_of(store, run.id, 0)
    run_kubeconfig = tmp_path / "state" / "pipeline-work" / f"run-{run.id}" / "kubeconfig"
    assert output == [
        "token-ok",
        "token: ***",  # secret values are hidden in the log, as CI systems do
        "other: unset",
        f"kubeconfig: {run_kubeconfig}",
        *lab_kubeconfig.read_text().splitlines(),
        f"kubectl: {proc.tool('kubectl')}",
        f"ci=true lab={LAB} app=shop step=yes commit={sha}",
    ]
    assert "s3cr3t-value" not in "\n".join(log_of(store, run.id))
    assert not run_kubeconfig.exists()


def test_without_lab_credentials_steps_cannot_reach_the_users_own_clusters(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "my-own-kubeconfig"
    own.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(own))  # the environment the lab's daemon happens to have
    script = 'test "$KUBECONFIG" != "$OWN" && test -f "$KUBECONFIG" && test ! -s "$KUBECONFIG" && echo isolated'
    sha = repo.commit("Look", pipeline({"name": "look", "run": script, "env": {"OWN": str(own)}}))
    run = drive(tmp_path, lambda r: push_and_wait(r, repo.push(sha)))
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert run.status == "succeeded", log_of(store, run.id)
    assert log_of(store, run.id, 0) == ["isolated"]
    assert "no cluster credentials were given to this lab's pipelines ($KUBECONFIG is empty)" in log_of(store, 1)


def test_multi_line_secrets_are_hidden_line_by_line(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Key", pipeline('echo "$SSH_KEY"; echo done', secrets=["SSH_KEY"]))
    key = "-----BEGIN KEY-----\nc2VjcmV0\n-----END KEY-----"
    run = drive(tmp_path, lambda r: push_and_wait(r, repo.push(sha)), secrets={"SSH_KEY": key})
    assert log_of(PipelineStore(tmp_path / "state" / "pipelines.db"), run.id, 0) == ["***", "***", "***", "done"]


def test_a_secret_the_lab_does_not_have_fails_the_run(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Needs a token", pipeline("echo never", secrets=["REGISTRY_TOKEN"]))
    run = drive(tmp_path, lambda r: push_and_wait(r, repo.push(sha)), secrets={"DEPLOY_TOKEN": "x"})
    message = "the pipeline asks for secrets this lab does not have: REGISTRY_TOKEN (it has: DEPLOY_TOKEN)"
    assert (run.status, run.error) == ("failed", message)
    assert message in log_of(PipelineStore(tmp_path / "state" / "pipelines.db"), run.id)


def test_a_bad_pipeline_file_makes_a_run_that_fails_at_once_and_says_where(repo: Repo, tmp_path: Path) -> None:
    bad = "jobs:\n  - name: deploy\n    steps:\n      - name: apply\n        rn: kubectl apply -f deploy/\n"
    sha = repo.commit("Typo", {".driftlab/pipeline.yaml": bad})
    run = drive(tmp_path, lambda runner: push_and_wait(runner, repo.push(sha)))
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert run.status == "failed"
    assert store.steps(run.id) == []
    log = log_of(store, run.id)
    assert ".driftlab/pipeline.yaml:5:9: jobs[0].steps[0]: unknown field 'rn' (allowed: name, run, env, timeout)" in log
    assert ".driftlab/pipeline.yaml:4:9: jobs[0].steps[0]: missing required field 'run'" in log


def test_only_pushes_to_triggering_branches_with_a_pipeline_make_runs(repo: Repo, tmp_path: Path) -> None:
    plain = repo.commit("No pipeline yet", {"README.md": "shop\n"})
    sha = repo.commit("Add a pipeline", pipeline("echo ran", triggers={"branches": ["main", "release/*"]}))
    events = [
        repo.push(plain),
        repo.push(sha, branch="feature/login"),
        repo.push(sha, branch="release/1.0/hotfix"),
        PushEvent("shop", "refs/tags/v1", ZERO, sha, "learner"),
        PushEvent("shop", "refs/heads/release/1.0", sha, ZERO, "learner"),  # a deleted branch
        PushEvent("nosuchrepo", "refs/heads/main", ZERO, sha, "learner"),
        PushEvent("../shop", "refs/heads/main", ZERO, sha, "learner"),
        repo.push("f" * 40),  # a commit the repo does not have
        repo.push(sha, branch="release/1.0"),
        repo.push(sha),
    ]

    async def scenario(runner: PipelineRunner) -> list[Run]:
        for event in events:
            runner.on_push(event)
        await runner.drain()
        return runner.store.runs()

    runs = drive(tmp_path, scenario)
    assert [(run.branch, run.status) for run in reversed(runs)] == [("release/1.0", "succeeded"), ("main", "succeeded")]


def test_twenty_pushes_in_a_row_run_one_at_a_time_in_push_order(repo: Repo, tmp_path: Path) -> None:
    repo.commit("Pipeline", pipeline("cat n.txt"))
    shas = [repo.commit(f"Change {i}", {"n.txt": f"{i}\n"}) for i in range(20)]
    seen: list[tuple[int, str]] = []

    async def scenario(runner: PipelineRunner) -> list[Run]:
        runner.add_listener(lambda event: seen.append((event.run.id, event.run.status)) if not event.step else None)
        for sha in shas:
            runner.on_push(repo.push(sha))
        await runner.drain()
        return runner.store.runs()[::-1]

    runs = drive(tmp_path, scenario)
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert [run.commit for run in runs] == shas
    assert all(run.status == "succeeded" for run in runs)
    assert [log_of(store, run.id, 0) for run in runs] == [[str(i)] for i in range(20)]
    for before, after in itertools.pairwise(runs):
        assert before.ended_at is not None and after.started_at is not None
        assert before.ended_at <= after.started_at
    starts = [run_id for run_id, status in seen if status == "running"]
    assert starts == [run.id for run in runs]


def test_repos_run_side_by_side(tmp_path: Path) -> None:
    shop, api = make_repo(tmp_path, "shop"), make_repo(tmp_path, "api")
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    blocked = shop.commit("Wait", pipeline(f"echo waiting; read answer < {fifo}; echo got $answer"))
    quick = api.commit("Quick", pipeline("echo quick"))

    async def scenario(runner: PipelineRunner) -> tuple[str, str]:
        runner.on_push(shop.push(blocked))
        await runner.received()
        await wait_for_line(runner, 1, "waiting")
        runner.on_push(api.push(quick))
        await runner.received()
        done = await runner.wait(2)  # while the shop's run is still waiting
        status_of_shop = runner.store.run(1).status
        await release(fifo)
        await runner.drain()
        return done.status, status_of_shop

    assert drive(tmp_path, scenario) == ("succeeded", "running")
    assert log_of(PipelineStore(tmp_path / "state" / "pipelines.db"), 1, 0) == ["waiting", "got go"]


def test_follow_streams_each_line_while_the_step_is_still_running(repo: Repo, tmp_path: Path) -> None:
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    sha = repo.commit("Wait", pipeline(f"echo first; read answer < {fifo}; echo second: $answer"))

    async def scenario(runner: PipelineRunner) -> list[str]:
        runner.on_push(repo.push(sha))
        await runner.received()
        texts = []
        async for line in runner.follow(1):
            texts.append(line.text)
            if line.text == "first":
                assert runner.store.run(1).status == "running"
                await release(fifo, "go")
        return texts

    texts = drive(tmp_path, scenario)
    assert texts.index("first") < texts.index("second: go")
    assert texts[-1].startswith("run 1 succeeded after")


def test_cancelling_a_running_run_kills_its_step(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Slow", pipeline("echo started; sleep 30", "echo never"))

    async def scenario(runner: PipelineRunner) -> Run:
        runner.on_push(repo.push(sha))
        await runner.received()
        await wait_for_line(runner, 1, "started")
        await runner.cancel(1)
        return await runner.wait(1)

    run = drive(tmp_path, scenario)
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert (run.status, run.error) == ("cancelled", "cancelled during step 's1'")
    assert [(s.status, s.exit_code) for s in store.steps(1)] == [("cancelled", 137), ("skipped", None)]


def test_cancelling_a_queued_run_removes_it_from_the_queue(repo: Repo, tmp_path: Path) -> None:
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    first = repo.commit("Wait", pipeline(f"echo waiting; read answer < {fifo}"))
    second = repo.commit("Next", pipeline("echo second"))
    third = repo.commit("Last", pipeline("echo third"))

    async def scenario(runner: PipelineRunner) -> list[Run]:
        for sha in (first, second, third):
            runner.on_push(repo.push(sha))
        await runner.received()
        await wait_for_line(runner, 1, "waiting")
        cancelled = await runner.cancel(2)
        assert cancelled.status == "cancelled"
        await release(fifo)
        await runner.drain()
        return runner.store.runs()[::-1]

    runs = drive(tmp_path, scenario)
    assert [(run.status, run.started_at is None) for run in runs] == [
        ("succeeded", False),
        ("cancelled", True),
        ("succeeded", False),
    ]
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert log_of(store, 2) == ["cancelled before it started"]


def test_pushes_taken_before_start_or_from_other_threads_are_kept(repo: Repo, tmp_path: Path) -> None:
    one = repo.commit("One", pipeline("echo one"))
    two = repo.commit("Two", pipeline("echo two"))

    async def main() -> list[Run]:
        runner = runner_for(tmp_path)
        runner.on_push(repo.push(one))
        await runner.start()
        thread = threading.Thread(target=runner.on_push, args=(repo.push(two),))
        thread.start()
        await asyncio.to_thread(thread.join)
        await runner.drain()
        await runner.stop()
        return runner.store.runs()[::-1]

    runs = asyncio.run(main())
    assert [(run.commit, run.status) for run in runs] == [(one, "succeeded"), (two, "succeeded")]


def test_stopping_interrupts_the_running_run_and_keeps_the_queue(repo: Repo, tmp_path: Path) -> None:
    slow = repo.commit("Slow", pipeline("echo started; sleep 30"))
    quick = repo.commit("Quick", pipeline("echo quick"))

    async def first(runner: PipelineRunner) -> None:
        runner.on_push(repo.push(slow))
        runner.on_push(repo.push(quick))
        await runner.received()
        await wait_for_line(runner, 1, "started")

    drive(tmp_path, first)
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert [run.status for run in store.runs()[::-1]] == ["interrupted", "queued"]
    assert INTERRUPTED_NOTE in log_of(store, 1)
    assert [s.status for s in store.steps(1)] == ["interrupted"]

    async def second(runner: PipelineRunner) -> Run:
        await runner.drain()
        return runner.store.run(2)

    assert drive(tmp_path, second).status == "succeeded"


def test_run_forever_serves_pushes_until_it_is_cancelled(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Serve", pipeline("echo served"))

    async def main() -> Run:
        runner = runner_for(tmp_path)
        finished = asyncio.Event()
        runner.add_listener(lambda event: event.run.finished and finished.set())
        serving = asyncio.create_task(runner.run_forever())
        runner.on_push(repo.push(sha))
        await finished.wait()
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        return runner.store.run(1)

    assert asyncio.run(main()).status == "succeeded"


def test_pushes_taken_just_before_stopping_run_after_the_next_start(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("Late", pipeline("echo late"))

    async def push_and_stop(runner: PipelineRunner) -> None:
        runner.on_push(repo.push(sha))

    drive(tmp_path, push_and_stop)
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert [(run.commit, run.status) for run in store.runs()] == [(sha, "queued")]

    async def resume(runner: PipelineRunner) -> None:
        await runner.drain()

    drive(tmp_path, resume)
    assert store.run(1).status == "succeeded"


CRASHING_RUNNER = """
import asyncio, sys
from pathlib import Path
from engine.gitserver.events import PushEvent, ZERO
from engine.pipeline import PipelineRunner

async def main():
    root, shas = Path(sys.argv[1]), sys.argv[2:]
    runner = PipelineRunner(root / "state" / "pipelines.db", root / "repos")
    queued = asyncio.Event()
    runner.add_listener(lambda e: e.run.id == len(shas) and e.run.status == "queued" and queued.set())
    await runner.start()
    for sha in shas:
        runner.on_push(PushEvent("shop", "refs/heads/main", ZERO, sha, "learner"))
    await queued.wait()
    async for line in runner.follow(1):
        if line.text == "sleeping":
            break
    print("READY", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def wait_gone(pid: int, timeout: float = 10) -> None:
    """Wait for a process that is not our child to end, without polling (Linux pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
    try:
        await asyncio.wait_for(ended, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def test_a_run_cut_off_by_a_killed_runner_is_interrupted_and_the_queue_resumes(repo: Repo, tmp_path: Path) -> None:
    pidfile = tmp_path / "step.pid"
    slow = repo.commit("Slow", pipeline(f"echo $$ > {pidfile}; echo sleeping; exec sleep 60", "echo never"))
    shas = [slow, repo.commit("Next", pipeline("echo next")), repo.commit("Last", pipeline("echo last"))]

    async def crash() -> None:
        child = await proc.start_in_group([sys.executable, "-c", CRASHING_RUNNER, str(tmp_path), *shas])
        output = []
        while (line := await asyncio.wait_for(child.output.readline(), 60)) and line != b"READY\n":
            output.append(line.decode())
        assert line == b"READY\n", "".join(output)
        os.kill(child.pid, signal.SIGKILL)
        await child.process.wait()
        child.close_output()

    asyncio.run(crash())
    step_pid = int(pidfile.read_text())
    assert Path(f"/proc/{step_pid}").exists()  # the step's process outlived the runner

    async def restart(runner: PipelineRunner) -> list[Run]:
        await wait_gone(step_pid)  # the restarted runner ended the orphaned step
        await runner.drain()
        return runner.store.runs()[::-1]

    runs = drive(tmp_path, restart)
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert [(run.status, run.commit) for run in runs] == [
        ("interrupted", shas[0]),
        ("succeeded", shas[1]),
        ("succeeded", shas[2]),
    ]
    assert runs[0].error == "the runner stopped during the run"
    assert [s.status for s in store.steps(1)] == ["interrupted", "skipped"]
    assert log_of(store, 1)[-1] == INTERRUPTED_NOTE
    assert runs[0].ended_at is not None and runs[0].ended_at <= runs[1].started_at  # type: ignore[operator]
    assert list((tmp_path / "state" / "pipeline-work").iterdir()) == []


def cli(home: Path, *args: str) -> proc.Result:
    return proc.run([sys.executable, "-m", "engine.cli", "pipeline", *args], env={"DRIFTLAB_HOME": str(home)})


def test_the_cli_follows_and_cancels_runs_of_a_runner_in_another_process(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DRIFTLAB_HOME", str(home))
    store_path = paths.pipeline_store(LAB)
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    first = repo.commit("Wait", pipeline(f"echo waiting; read answer < {fifo}; echo got $answer"))
    second = repo.commit("Slow", pipeline("echo started; sleep 30", "echo never"))

    async def scenario(runner: PipelineRunner) -> tuple[list[str], proc.Result]:
        runner.on_push(repo.push(first))
        await runner.received()
        await wait_for_line(runner, 1, "waiting")
        follower = await proc.start_in_group(
            [sys.executable, "-m", "engine.cli", "pipeline", "logs", "1", "-f", "--lab", LAB],
            env={"DRIFTLAB_HOME": str(home)},
        )
        lines = []
        while not (line := (await asyncio.wait_for(follower.output.readline(), 30)).decode()).endswith("waiting\n"):
            lines.append(line)
        await release(fifo)
        while line := (await asyncio.wait_for(follower.output.readline(), 30)).decode():
            lines.append(line)
        assert await follower.process.wait() == 0
        runner.on_push(repo.push(second))
        await runner.received()
        await wait_for_line(runner, 2, "started")
        cancelled = await asyncio.to_thread(cli, home, "cancel", "2")
        await runner.drain()
        return lines, cancelled

    followed, cancelled = drive(tmp_path, scenario, store=store_path)
    assert " | run 1 succeeded after " in followed[-1]
    assert any(line.endswith("  got go\n") for line in followed)
    assert cancelled.ok, cancelled.stderr
    assert cancelled.stdout == "run 2 cancelled: cancelled during step 's1'\n"
    store = PipelineStore(store_path)
    assert [s.status for s in store.steps(2)] == ["cancelled", "skipped"]
    listing = cli(home, "runs").stdout.splitlines()
    assert listing[0].split() == ["ID", "REPO", "BRANCH", "COMMIT", "STATUS", "DURATION", "STARTED"]
    assert [row.split()[:5] for row in listing[1:]] == [
        ["2", "shop", "main", second[:7], "cancelled"],
        ["1", "shop", "main", first[:7], "succeeded"],
    ]
    again = cli(home, "cancel", "2")
    assert (again.returncode, again.stderr) == (1, "error: run 2 has already finished (cancelled)\n")


def test_a_pipeline_deploys_to_the_lab_cluster(repo: Repo, tmp_path: Path, cluster: Cluster, ns: str) -> None:
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: {ns}\ndata:\n  v: '1'\n"
    script = "kubectl apply -f deploy/\nkubectl get configmap web-config -n " + ns + " -o jsonpath='{.data.v}'"
    sha = repo.commit("Deploy", {"deploy/config.yaml": manifest, **pipeline({"name": "apply", "run": script})})
    events: list[PipelineEvent] = []

    async def scenario(runner: PipelineRunner) -> Run:
        runner.add_listener(events.append)
        return await push_and_wait(runner, repo.push(sha))

    run = drive(tmp_path, scenario, env={"KUBECONFIG": str(cluster.kubeconfig)})
    store = PipelineStore(tmp_path / "state" / "pipelines.db")
    assert run.status == "succeeded", log_of(store, run.id)
    assert log_of(store, run.id, 0) == ["configmap/web-config created", "1"]
    assert cluster.get_json("configmap", "web-config", "-n", ns)["data"] == {"v": "1"}
    assert [(e.run.status, e.step.status if e.step else None) for e in events] == [
        ("queued", None),
        ("running", None),
        ("running", "running"),
        ("running", "succeeded"),
        ("succeeded", None),
    ]
