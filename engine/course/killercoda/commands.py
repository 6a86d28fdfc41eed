"""From clicked code blocks to solution commands: one complete shell command per entry, none that never ends.

A block of several lines is several commands, except where a line does not finish its command: a trailing
backslash, pipe or `&&`, an open quote, a here-document, or a compound command (`for ... done`) still open.
Commands that run until interrupted (`kubectl get -w`, `kubectl port-forward`) or wait for a person (an editor,
`kubectl edit`) cannot be part of a solution a test runs, so they are left out with the reason.
"""

from __future__ import annotations

import re
import shlex

_HEREDOC = re.compile(r"(?<!<)<<(?P<dash>-?)[ \t]*(?P<quote>['\"]?)(?P<word>[A-Za-z_][\w-]*)(?P=quote)")
_CONTINUES = ("\\", "|", "&&", "||")
_OPENERS = {"if", "for", "while", "until", "case", "select", "{", "("}
_CLOSERS = {"fi", "done", "esac", "}", ")"}
_ENDLESS_PROGRAMS = {
    "watch": "runs until interrupted",
    "top": "runs until interrupted",
    "htop": "runs until interrupted",
}
_INTERACTIVE_PROGRAMS = ("vi", "vim", "nvim", "nano", "emacs", "less", "more", "k9s", "mc")
_KUBECTL = ("kubectl", "k")
_KUBECTL_VALUE_FLAGS = {
    "-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server", "--token",
    "--as", "--as-group", "--request-timeout", "-v", "--v", "--cache-dir", "--certificate-authority",
}  # fmt: skip


def split_commands(block: str) -> list[str]:
    """The complete shell commands in a block of code, in order, without blank and comment-only lines."""
    commands: list[str] = []
    current: list[str] = []
    heredocs: list[tuple[str, bool]] = []
    for line in block.splitlines():
        if heredocs:
            current.append(line)
            word, dash = heredocs[0]
            if (line.lstrip("\t") if dash else line) == word:
                heredocs.pop(0)
            if not heredocs and _complete("\n".join(current)):
                commands.append("\n".join(current))
                current = []
            continue
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        heredocs.extend((match["word"], bool(match["dash"])) for match in _HEREDOC.finditer(line))
        if not heredocs and _complete("\n".join(current)):
            commands.append("\n".join(current).strip())
            current = []
    if current:
        commands.append("\n".join(current).strip())
    return [command for command in commands if command]


def _complete(text: str) -> bool:
    """Whether bash would run `text` as it is, rather than ask for the rest of the command."""
    stripped = text.rstrip()
    if stripped.endswith(_CONTINUES):
        return False
    tokens = _tokens(_without_heredoc_bodies(stripped))
    if tokens is None:
        return False
    depth = 0
    for token in tokens:
        if token in _OPENERS:
            depth += 1
        elif token in _CLOSERS:
            depth -= 1
    return depth <= 0


def _without_heredoc_bodies(text: str) -> str:
    """Only the command lines, so quotes inside a here-document body do not count as open quotes."""
    kept: list[str] = []
    waiting: list[tuple[str, bool]] = []
    for line in text.splitlines():
        if waiting:
            word, dash = waiting[0]
            if (line.lstrip("\t") if dash else line) == word:
                waiting.pop(0)
            continue
        kept.append(line)
        waiting.extend((match["word"], bool(match["dash"])) for match in _HEREDOC.finditer(line))
    return "\n".join(kept)


def _tokens(text: str) -> list[str] | None:
    """Shell words and operators; None while a quote or escape is still open."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return None


def why_not_in_solution(command: str) -> str | None:
    """Why a test could not run this command to its end (it never ends, or waits for a person), else None."""
    tokens = _tokens(command)
    if tokens is None:
        return None
    for words in _simple_commands(tokens):
        reason = _judge(words)
        if reason:
            return reason
    return None


def _simple_commands(tokens: list[str]) -> list[list[str]]:
    """Split at ; | & && || and parentheses; drop leading variable assignments and sudo, and commands sent to
    the background with `&` (the shell goes on at once)."""
    found: list[list[str]] = []
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token and set(token) <= set(";&|()"):
            if current and token != "&":
                found.append(current)
            current = []
        elif not current and (re.match(r"^[A-Za-z_]\w*=", token) or token == "sudo"):
            continue
        else:
            current.append(token)
    return found


def _judge(words: list[str]) -> str | None:
    program = words[0].rsplit("/", 1)[-1]
    args = words[1:]
    if program in _ENDLESS_PROGRAMS:
        return _ENDLESS_PROGRAMS[program]
    if program in _INTERACTIVE_PROGRAMS:
        return "it waits for someone at the keyboard"
    if program == "tail" and (_has_flag(args, "f", "follow", letters="fFqv") or _has_flag(args, "F", letters="fFqv")):
        return "it follows the file until interrupted"
    if program in _KUBECTL and args:
        return _judge_kubectl(args)
    return None


def _judge_kubectl(args: list[str]) -> str | None:
    verb = _verb(args)
    if verb in ("port-forward", "proxy", "attach"):
        return f"`kubectl {verb}` runs until interrupted"
    if verb == "edit":
        return "`kubectl edit` opens an editor; write the change as `kubectl patch` or `kubectl apply`"
    if verb in ("get", "events", "top") and _has_flag(args, "w", "watch", "watch-only"):
        return "it watches until interrupted"
    if verb == "logs" and _has_flag(args, "f", "follow"):
        return "it follows the logs until interrupted"
    if verb in ("exec", "run", "debug") and _interactive(args):
        return f"`kubectl {verb} -it` opens an interactive session"
    return None


def _verb(args: list[str]) -> str:
    """kubectl's subcommand: the first word that is neither a flag nor the value of a global flag (`-n shop`)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _KUBECTL_VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def _has_flag(args: list[str], short: str, *long: str, letters: str = "") -> bool:
    """Whether a flag is set: `-w`, `--watch` (not `--watch=false`), or a short one among combined `letters`."""
    for arg in args:
        if arg == "--":
            return False
        name, _, value = arg.partition("=")
        if name.startswith("--") and name[2:] in long and value.lower() != "false":
            return True
        if arg == f"-{short}" or (letters and re.fullmatch(f"-[{letters}]+", arg) and short in arg):
            return True
    return False


def _interactive(args: list[str]) -> bool:
    """Both a stdin and a terminal (-it, -ti, -i -t, --stdin --tty)."""
    return _has_flag(args, "i", "stdin", letters="it") and _has_flag(args, "t", "tty", letters="it")
