"""What the lab daemon needs before it answers: the cluster's pid as its parent tells it through a pipe, and a
pipeline package that loads neither the pipeline file's model (pydantic) nor GitPython until they are used."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.lab.daemon import ClusterNeverStarted, _cluster_pid


def told(*chunks: bytes, close: bool = True) -> int:
    read, write = os.pipe()
    for chunk in chunks:
        os.write(write, chunk)
    if close:
        os.close(write)
    return read


@pytest.mark.parametrize(
    ("chunks", "pid"),
    [((b"4242\n",), 4242), ((b"42", b"42\n"), 4242), ((b"\n",), None), ((b"zero\n",), None), ((b"0\n",), None)],
)
def test_the_clusters_pid_is_read_from_one_line(chunks: tuple[bytes, ...], pid: int | None) -> None:
    assert _cluster_pid(told(*chunks)) == pid


def test_a_pipe_closed_untold_means_the_cluster_never_started() -> None:
    with pytest.raises(ClusterNeverStarted, match="did not start"):
        _cluster_pid(told(b"42"))


def test_silence_past_the_timeout_means_the_cluster_never_started() -> None:
    read, write = os.pipe()
    try:
        with pytest.raises(ClusterNeverStarted, match="no word"):
            _cluster_pid(read, timeout=0)
    finally:
        os.close(write)


def loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_pipeline_runner_and_store_load_without_pydantic_or_gitpython() -> None:
    loaded = loaded_after("from engine.pipeline import PipelineRunner, PipelineStore, PipelineError, Run")
    assert "engine" in loaded
    assert not {"pydantic", "git"} & loaded


def test_the_pipeline_package_still_gives_every_name_it_lists() -> None:
    loaded = loaded_after(
        "import engine.pipeline as p\n"
        "assert sorted(p.__all__) == sorted(n for n in p.__all__ if getattr(p, n) is not None)\n"
        "assert p.load_pipeline('jobs: [{name: a, steps: [{name: b, run: echo}]}]').jobs[0].name == 'a'\n"
        "assert set(p.__all__) <= set(dir(p))\n"
        "try:\n    p.nothing\nexcept AttributeError as err:\n    assert 'nothing' in str(err)\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    assert "pydantic" in loaded
