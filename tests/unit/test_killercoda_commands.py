"""Clicked code as solution commands: one complete command per entry, and none that a test could not finish."""

from __future__ import annotations

import pytest

from engine.course.killercoda.commands import split_commands, why_not_in_solution


def test_each_line_is_a_command_without_blanks_and_comments() -> None:
    block = "# look first\nkubectl get pods\n\nkubectl get svc  # and services\n"
    assert split_commands(block) == ["kubectl get pods", "kubectl get svc  # and services"]


def test_continued_lines_stay_one_command() -> None:
    block = "kubectl -n shop expose deployment web \\\n  --port=80\nkubectl get pods |\n  grep web\necho a &&\necho b"
    assert split_commands(block) == [
        "kubectl -n shop expose deployment web \\\n  --port=80",
        "kubectl get pods |\n  grep web",
        "echo a &&\necho b",
    ]


def test_a_here_document_stays_with_its_command() -> None:
    block = (
        "cat <<EOF | kubectl apply -f -\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop # it's ours\nEOF\n"
        "kubectl get ns shop"
    )
    assert split_commands(block) == [
        "cat <<EOF | kubectl apply -f -\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop # it's ours\nEOF",
        "kubectl get ns shop",
    ]


def test_quoted_here_document_words_and_dashes() -> None:
    block = "cat <<-'END' > f.txt\n\tline\n\tEND\necho done"
    assert split_commands(block) == ["cat <<-'END' > f.txt\n\tline\n\tEND", "echo done"]


def test_compound_commands_and_open_quotes_span_lines() -> None:
    block = 'for i in 1 2 3; do\n  echo "$i"\ndone\necho "two\nlines"\nif true; then echo y; fi'
    assert split_commands(block) == [
        'for i in 1 2 3; do\n  echo "$i"\ndone',
        'echo "two\nlines"',
        "if true; then echo y; fi",
    ]


def test_an_unfinished_command_at_the_end_is_kept_as_it_is() -> None:
    assert split_commands("kubectl get pods \\") == ["kubectl get pods \\"]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("kubectl get pods -w", "watches"),
        ("kubectl -n shop get pods --watch", "watches"),
        ("kubectl get events --watch-only", "watches"),
        ("kubectl logs -f deploy/web", "follows the logs"),
        ("kubectl -n shop logs web --follow=true", "follows the logs"),
        ("kubectl port-forward svc/web 8080:80", "port-forward"),
        ("kubectl proxy", "proxy"),
        ("kubectl edit deployment web", "opens an editor"),
        ("kubectl exec -it web -- sh", "interactive"),
        ("kubectl run tmp --rm -i -t --image=busybox -- sh", "interactive"),
        ("k exec --stdin --tty web -- sh", "interactive"),
        ("watch kubectl get pods", "until interrupted"),
        ("sudo vim /etc/hosts", "keyboard"),
        ("tail -f /var/log/syslog", "follows the file"),
        ("kubectl get pods && kubectl get pods -w | grep web", "watches"),
        ("KUBECONFIG=x kubectl get pods -w", "watches"),
    ],
)
def test_commands_that_never_end_or_wait_for_a_person(command: str, reason: str) -> None:
    found = why_not_in_solution(command)
    assert found is not None and reason in found


@pytest.mark.parametrize(
    "command",
    [
        "kubectl apply -f web.yaml",
        "kubectl get pods -o wide",
        "kubectl get pods -owide",
        "kubectl get pods --watch=false",
        "kubectl logs deploy/web",
        "kubectl exec web -- cat /etc/hosts",
        "kubectl -n shop rollout status deployment web",
        "kubectl wait --for=condition=Available deploy/web",
        "tail -n 5 file.txt",
        "echo 'kubectl get pods -w'",
        "kubectl port-forward svc/web 8080:80 &",
    ],
)
def test_commands_a_test_can_run_to_the_end(command: str) -> None:
    assert why_not_in_solution(command) is None
