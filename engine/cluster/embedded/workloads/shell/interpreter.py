"""The shell interpreter: runs a container's command on a `Process` with a virtual clock.

`sleep` advances the clock instead of waiting, so a whole run can be computed at once; a run that does not
end by itself (or takes too many steps) ends in a `forever` event."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from ..clock import resolve_time_markers
from ..events import Event
from .arithmetic import evaluate
from .builtins import BUILTINS
from .process import Break, Continue, Process, ShellBudget, ShellExit, ShellForever, ShellRuntime, Sink
from .syntax import IDENTIFIER, Node, ShellSyntax, Word, endless, lex_word, parse_script

SHELLS = frozenset({"sh", "ash", "bash", "dash"})
_NETWORK_PROGRAMS = frozenset({"wget", "curl", "nc", "nslookup", "ping", "dig", "telnet"})
# Programs the simulation knows; a container command starting with one runs through the shell.
SHELL_PROGRAMS = SHELLS | _NETWORK_PROGRAMS | frozenset(BUILTINS) | {"exec"}
_MAX_STEPS = 200_000
_DETECT_STEPS = 5_000
_PROBE_STEPS = 2_000
# Seconds an iteration of a loop that does not sleep takes, so endless loops still advance the clock.
_LOOP_TICK = 0.001


def traps_sigterm(argv: Sequence[str]) -> bool:
    """Whether PID 1 reacts to SIGTERM: a shell or `sleep` as PID 1 ignores it unless the script traps it."""
    if not argv or posixpath.basename(argv[0]) not in SHELLS:
        return posixpath.basename(argv[0]) not in {"sleep", "tail"} if argv else True
    return re.search(r"\btrap\b[^;\n]*\b(TERM|SIGTERM|15|EXIT|INT)\b", " ".join(argv)) is not None


class Shell(Process):
    """A small POSIX-shell interpreter. Output becomes log lines, and files written or removed are reported
    so exec probes can look at them later.

    `fallback` answers programs the simulation does not know (exec probes use it for the image's own tools);
    `detect_only` gives up early on endless loops, for working out whether and when a run exits."""

    def __init__(
        self,
        env: Mapping[str, str],
        files: Mapping[str, str],
        hostname: str,
        *,
        fallback: Callable[[list[str]], tuple[int, str]] | None = None,
        detect_only: bool = False,
    ) -> None:
        super().__init__(env, files, hostname)
        self.fallback = fallback
        self.detect_only = detect_only
        self.max_steps = _DETECT_STEPS if detect_only else _MAX_STEPS
        self.steps = 0
        self.conditions = 0

    # -- entry points ------------------------------------------------------------------------------------

    def run(self, argv: Sequence[str]) -> Iterator[Event]:
        """Run `argv` as PID 1: log lines and file changes, then `exit` (with the code) or `forever`."""
        code = 0
        try:
            yield from self._command(list(argv))
            code = self.status
        except ShellExit as done:
            code = done.code
        except (ShellForever, ShellBudget):
            yield from self.finish()
            yield Event(self.now, "forever")
            return
        except (Break, Continue):
            code = self.status
        yield from self.finish()
        yield Event(self.now, "exit", code=code & 0xFF)

    def run_to_end(self, argv: Sequence[str]) -> tuple[int, str]:
        """Run a short command (an exec probe): its exit code and output."""
        self.max_steps = _PROBE_STEPS
        lines: list[str] = []
        code = 1
        for event in self.run(argv):
            if event.kind == "line":
                lines.append(resolve_time_markers(event.text, datetime.now(UTC)))
            elif event.kind == "exit":
                code = event.code
            elif event.kind == "forever":
                return 1, f'command "{" ".join(argv)}" timed out'
        return code, "\n".join(lines)

    # -- execution ---------------------------------------------------------------------------------------

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise ShellBudget

    def _script(self, source: str, name: str, args: list[str], *, errexit: bool = False) -> Iterator[Event]:
        """Run a script as a child process: its variables do not leak, `exit` ends only the child."""
        try:
            tree = parse_script(source)
        except ShellSyntax as err:
            self.write(f"{name}: syntax error: {err}\n", err=True)
            self.status = 2
            return
        saved = (self.vars, self.exported, self.args, self.name, self.errexit)
        self.vars, self.exported = dict(self.vars), set(self.exported)
        self.args, self.name, self.errexit = list(args), name, errexit
        try:
            yield from self._exec(tree)
        except ShellExit as done:
            self.status = done.code
        except (Break, Continue):
            pass
        finally:
            self.vars, self.exported, self.args, self.name, self.errexit = saved

    def _exec(self, node: Node) -> Iterator[Event]:
        kind = node[0]
        if kind == "seq":
            for item in node[1]:
                yield from self._exec(item)
        elif kind == "andor":
            yield from self._and_or(node)
        elif kind == "pipe":
            yield from self._pipe(node)
        elif kind == "simple":
            yield from self._simple(node)
        elif kind == "while":
            yield from self._redirected(node[4], self._while(node))
        elif kind == "for":
            yield from self._redirected(node[4], self._for(node))
        elif kind == "if":
            yield from self._redirected(node[3], self._if(node))
        elif kind == "group":
            yield from self._redirected(node[2], self._exec(node[1]))
        elif kind == "subshell":
            yield from self._redirected(node[2], self._subshell(node[1]))

    def _guarded(self, node: Node) -> Iterator[Event]:
        """Run a command whose failure must not trigger `set -e` (conditions, left sides of && and ||)."""
        self.conditions += 1
        try:
            yield from self._exec(node)
        finally:
            self.conditions -= 1

    def _and_or(self, node: Node) -> Iterator[Event]:
        _, first, rest = node
        yield from self._guarded(first)
        for index, (op, pipeline) in enumerate(rest):
            if (self.status == 0) != (op == "&&"):
                continue
            yield from self._exec(pipeline) if index == len(rest) - 1 else self._guarded(pipeline)

    def _pipe(self, node: Node) -> Iterator[Event]:
        _, commands, negate = node
        saved_stdin = self.stdin
        try:
            for index, command in enumerate(commands):
                if index == len(commands) - 1:
                    yield from self._guarded(command) if negate else self._exec(command)
                    break
                captured: list[str] = []
                self.stdout.append(("capture", captured))
                try:
                    yield from self._guarded(command)
                finally:
                    self.stdout.pop()
                self.stdin = "".join(captured)
        finally:
            self.stdin = saved_stdin
        if negate:
            self.status = 0 if self.status else 1

    def _while(self, node: Node) -> Iterator[Event]:
        _, condition, body, until, _ = node
        if self.detect_only and endless(condition, body, until):
            raise ShellForever
        last = 0
        while True:
            started = self.now
            self._step()
            yield from self._guarded(condition)
            if (self.status == 0) == until:
                break
            try:
                yield from self._exec(body)
            except Break:
                break
            except Continue:
                pass
            last = self.status
            if self.now == started:
                self.now += _LOOP_TICK
        self.status = last

    def _for(self, node: Node) -> Iterator[Event]:
        _, name, words, body, _ = node
        items = list(self.args) if words is None else [item for word in words for item in self._expand_word(word)]
        last = 0
        for item in items:
            self._step()
            self.vars[name] = item
            try:
                yield from self._exec(body)
            except Break:
                break
            except Continue:
                continue
            last = self.status
        self.status = last

    def _if(self, node: Node) -> Iterator[Event]:
        _, branches, otherwise, _ = node
        for condition, body in branches:
            yield from self._guarded(condition)
            if self.status == 0:
                yield from self._exec(body)
                return
        if otherwise is not None:
            yield from self._exec(otherwise)
        else:
            self.status = 0

    def _subshell(self, body: Node) -> Iterator[Event]:
        saved = (dict(self.vars), set(self.exported))
        try:
            yield from self._exec(body)
        except ShellExit as done:
            self.status = done.code
        finally:
            self.vars, self.exported = saved

    def _simple(self, node: Node) -> Iterator[Event]:
        _, assigns, words, redirections = node
        self._step()
        try:
            argv = [item for word in words for item in self._expand_word(word)]
            values = [(name, self._expand_text(parts)) for name, parts in assigns]
        except ShellRuntime as err:
            self.write(f"sh: {err}\n", err=True)
            raise ShellExit(2) from None
        for name, value in values:
            self.vars[name] = value
        if not argv:
            self.status = 0
            yield from self._redirected(redirections, iter(()))
            yield from self.drain()
            return
        yield from self._redirected(redirections, self._command(argv))
        yield from self.drain()
        if self.status != 0 and self.errexit and self.conditions == 0:
            raise ShellExit(self.status)

    def _redirected(self, redirections: list[tuple[str, Word | None]], body: Iterator[Event]) -> Iterator[Event]:
        pushed: list[list[Sink]] = []
        saved_stdin = self.stdin
        try:
            for op, target in redirections:
                path = self.path(self._expand_text(target)) if target is not None else ""
                if op in (">", "1>", ">>", ">&"):
                    self.stdout.append(self._file_sink(path, append=op == ">>"))
                    pushed.append(self.stdout)
                elif op == "2>":
                    self.stderr.append(self._file_sink(path, append=False))
                    pushed.append(self.stderr)
                elif op == "&>":
                    sink = self._file_sink(path, append=False)
                    self.stdout.append(sink)
                    self.stderr.append(sink)
                    pushed.extend([self.stdout, self.stderr])
                elif op == "2>&1":
                    self.stderr.append(self.stdout[-1])
                    pushed.append(self.stderr)
                elif op in ("1>&2", ">&2"):
                    self.stdout.append(self.stderr[-1])
                    pushed.append(self.stdout)
                elif op == "<":
                    self.stdin = self.files.get(path, "")
            yield from body
        finally:
            for stack in reversed(pushed):
                stack.pop()
            self.stdin = saved_stdin

    def _file_sink(self, path: str, *, append: bool) -> Sink:
        if path == "/dev/null":
            return ("null",)
        if path == "/dev/stdout":
            return self.stdout[-1]
        if path == "/dev/stderr":
            return self.stderr[-1]
        if not append or path not in self.files:
            self.set_file(path, "")
        return ("file", path)

    # -- expansion ---------------------------------------------------------------------------------------

    def _expand(self, parts: Word) -> list[str]:
        fields: list[str] = []
        current, present = "", False
        for kind, value, quoted in parts:
            if kind == "lit":
                current, present = current + value, True
                continue
            if kind == "var" and value == "@" and quoted:
                if self.args:
                    fields.extend([current + self.args[0], *self.args[1:]][:-1])
                    current, present = self.args[-1] if len(self.args) > 1 else current + self.args[0], True
                continue
            text = self._evaluate(kind, value)
            if quoted:
                current, present = current + text, True
                continue
            pieces = text.split()
            if not pieces:
                continue
            if text[:1].isspace() and present:
                fields.append(current)
                current = ""
            current += pieces[0]
            for piece in pieces[1:]:
                fields.append(current)
                current = piece
            present = True
            if text[-1:].isspace():
                fields.append(current)
                current, present = "", False
        if present:
            fields.append(current)
        return fields

    def _expand_word(self, parts: Word) -> list[str]:
        """Fields of a word, with unquoted `*`, `?` and `[...]` matched against the container's files."""
        fields = self._expand(parts)
        if not any(kind == "lit" and not quoted and re.search(r"[*?\[]", value) for kind, value, quoted in parts):
            return fields
        expanded: list[str] = []
        for item in fields:
            expanded.extend(self._glob(item) or [item])
        return expanded

    def _glob(self, pattern: str) -> list[str]:
        absolute = self.path(pattern)
        depth = absolute.count("/")
        candidates = {*self.files, *self.dirs} | {
            posixpath.join(directory, child) for directory in self.dirs for child in self.children(directory)
        }
        matches = sorted(
            path for path in candidates if path.count("/") == depth and fnmatch.fnmatchcase(path, absolute)
        )
        return matches if pattern.startswith("/") else [path.lstrip("/") for path in matches]

    def _expand_text(self, parts: Word) -> str:
        return "".join(value if kind == "lit" else self._evaluate(kind, value) for kind, value, _ in parts)

    def _evaluate(self, kind: str, value: str) -> str:
        if kind == "var":
            return self._parameter(value)
        if kind == "cmd":
            return self._substitute(value)
        return str(self._arithmetic(value))

    def _variable(self, name: str) -> str:
        special = {
            "?": str(self.status),
            "$": "1",
            "#": str(len(self.args)),
            "@": " ".join(self.args),
            "*": " ".join(self.args),
            "0": self.name,
            "!": "",
            "-": "e" if self.errexit else "",
        }
        if name in special:
            return special[name]
        if name.isdigit():
            index = int(name)
            return self.args[index - 1] if 0 < index <= len(self.args) else ""
        if name == "RANDOM" and name not in self.vars:
            return str(self.random.randint(0, 32767))
        return self.vars.get(name, "")

    def _parameter(self, expression: str) -> str:
        if expression.startswith("#") and len(expression) > 1:
            return str(len(self._variable(expression[1:])))
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#@*!-])(?:(:?[-=+?])(.*))?", expression, re.S)
        if match is None:
            raise ShellRuntime(f"${{{expression}}}: bad substitution")
        name, op, word = match.groups()
        value = self._variable(name)
        if op is None:
            return value
        is_set = name in self.vars if IDENTIFIER.fullmatch(name) else True
        present = bool(value) if op.startswith(":") else is_set
        alternative = self._expand_text(lex_word(word))
        kind = op[-1]
        if kind == "-":
            return value if present else alternative
        if kind == "=":
            if not present:
                self.vars[name] = alternative
                return alternative
            return value
        if kind == "+":
            return alternative if present else ""
        if not present:
            raise ShellRuntime(f"{name}: {alternative or 'parameter not set'}")
        return value

    def _substitute(self, source: str) -> str:
        captured: list[str] = []
        self.stdout.append(("capture", captured))
        try:
            for event in self._script(source, self.name, self.args):
                self.events.append(event)
        finally:
            self.stdout.pop()
        return "".join(captured).rstrip("\n")

    def _arithmetic(self, expression: str) -> int:
        text = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9?#])\}?", lambda m: self._variable(m[1]) or "0", expression)
        text = re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: self.vars.get(m[0]) or "0", text)
        try:
            return evaluate(text)
        except ValueError as err:
            raise ShellRuntime(str(err)) from None

    # -- commands ----------------------------------------------------------------------------------------

    def _command(self, argv: list[str]) -> Iterator[Event]:
        program = posixpath.basename(argv[0])
        args = argv[1:]
        if program in SHELLS:
            yield from self._shell_program(args)
        elif program == "exec":
            if args:
                yield from self._command(args)
            else:
                self.status = 0
        elif program in BUILTINS:
            self.status = BUILTINS[program](self, args)
        elif self.path(argv[0]) in self.files and "/" in argv[0]:
            yield from self._script(self.files[self.path(argv[0])], argv[0], args)
        elif self.fallback is not None:
            code, output = self.fallback(argv)
            if output:
                self.write(output + "\n")
            self.status = code
        elif program in _NETWORK_PROGRAMS:
            self.write(
                f"{program}: network access from containers is not simulated in the embedded cluster "
                "(use the kind backend)\n",
                err=True,
            )
            self.status = 1
        else:
            self.write(f"sh: {argv[0]}: not found\n", err=True)
            self.status = 127

    def _shell_program(self, args: list[str]) -> Iterator[Event]:
        flags = ""
        index = 0
        while index < len(args) and args[index].startswith("-") and args[index] not in ("-", "--"):
            flags += args[index][1:]
            index += 1
            if "c" in flags:
                break
        if index < len(args) and args[index] == "--":
            index += 1
        if "c" in flags:
            if index >= len(args):
                self.write("sh: -c requires an argument\n", err=True)
                self.status = 2
                return
            name = args[index + 1] if index + 1 < len(args) else "sh"
            yield from self._script(args[index], name, args[index + 2 :], errexit="e" in flags)
        elif index < len(args):
            path = self.path(args[index])
            if path not in self.files:
                self.write(f"sh: can't open '{args[index]}': No such file or directory\n", err=True)
                self.status = 2
                return
            yield from self._script(self.files[path], args[index], args[index + 1 :], errexit="e" in flags)
        else:
            yield from self._script(self.stdin, "sh", [], errexit="e" in flags)
