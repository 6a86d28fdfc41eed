"""Builtin commands of the shell simulation, modelled on busybox: each takes the process and its arguments,
writes its output and returns the exit status."""

from __future__ import annotations

import operator
import posixpath
import re
from collections.abc import Callable, Mapping

from ..clock import TIME_FORMATS, time_marker
from .process import Break, Continue, Process, ShellExit, ShellForever

Builtin = Callable[[Process, list[str]], int]


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "b": "\b", "r": "\r", "e": "\x1b", "v": "\v", "f": "\f"}
_SLEEP = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)")
_SLEEP_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _unescape(text: str) -> tuple[str, bool]:
    """Backslash escapes as `echo -e` and `printf` expand them, and whether `\\c` cut the text short."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following == "c":
                return "".join(out), True
            if following in _ESCAPES:
                out.append(_ESCAPES[following])
                index += 2
                continue
        out.append(char)
        index += 1
    return "".join(out), False


def _b_echo(shell: Process, args: list[str]) -> int:
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = "e" in args[0] or (escapes and "E" not in args[0])
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text, stop = _unescape(text)
        newline = newline and not stop
    shell.write(text + ("\n" if newline else ""))
    return 0


_PRINTF_SPEC = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)([sdiouxXfeEgGcb%])")


def _printf_conversion(flags: str, conversion: str, value: str) -> str:
    if conversion in "sb":
        return ("%" + flags + "s") % (_unescape(value)[0] if conversion == "b" else value)
    if conversion == "c":
        return value[:1]
    try:
        number: float = float(value or 0) if conversion in "feEgG" else int(value or 0, 0)
    except ValueError:
        number = 0
    return ("%" + flags + conversion.replace("i", "d").replace("u", "d")) % number


def _printf_once(fmt: str, values: list[str]) -> tuple[str, int]:
    """One pass of the format over the values: the text and how many values it used."""
    out: list[str] = []
    used = 0
    last = 0
    for match in _PRINTF_SPEC.finditer(fmt):
        out.append(fmt[last : match.start()])
        last = match.end()
        if match[2] == "%":
            out.append("%")
            continue
        out.append(_printf_conversion(match[1], match[2], values[used] if used < len(values) else ""))
        used += 1
    out.append(fmt[last:])
    return "".join(out), used


def _b_printf(shell: Process, args: list[str]) -> int:
    if not args:
        shell.write("printf: usage: printf FORMAT [ARGUMENT]...\n", err=True)
        return 1
    fmt, values = _unescape(args[0])[0], list(args[1:])
    out: list[str] = []
    while True:
        text, used = _printf_once(fmt, values)
        out.append(text)
        values = values[used:]
        if not values or used == 0:
            break
    shell.write("".join(out))
    return 0


def _b_cat(shell: Process, args: list[str]) -> int:
    names = [arg for arg in args if arg == "-" or not arg.startswith("-")]
    if not names:
        shell.write(shell.stdin)
        return 0
    status = 0
    for name in names:
        path = shell.path(name)
        if name == "-":
            shell.write(shell.stdin)
        elif path in shell.files:
            shell.write(shell.files[path])
        elif shell.is_dir(path):
            shell.write("cat: read error: Is a directory\n", err=True)
            status = 1
        else:
            shell.write(f"cat: can't open '{name}': No such file or directory\n", err=True)
            status = 1
    return status


def _b_env(shell: Process, args: list[str]) -> int:
    for name, value in shell.vars.items():
        if name in shell.exported:
            shell.write(f"{name}={value}\n")
    return 0


def _b_printenv(shell: Process, args: list[str]) -> int:
    if not args:
        return _b_env(shell, args)
    status = 0
    for name in args:
        if name in shell.exported and name in shell.vars:
            shell.write(shell.vars[name] + "\n")
        else:
            status = 1
    return status


def _b_date(shell: Process, args: list[str]) -> int:
    fmt = next((arg[1:] for arg in args if arg.startswith("+")), TIME_FORMATS["time.date"])
    shell.write(time_marker(fmt, shell.now) + "\n")
    return 0


def _b_touch(shell: Process, args: list[str]) -> int:
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        if path not in shell.files and not shell.is_dir(path):
            shell.set_file(path, "")
    return 0


def _b_rm(shell: Process, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
    status = 0
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        if path in shell.files:
            shell.remove_file(path)
        elif "r" in flags.lower() and shell.is_dir(path):
            for inner in shell.below(path):
                shell.remove_file(inner)
            shell.dirs.discard(path)
        elif shell.is_dir(path):
            shell.write(f"rm: '{name}' is a directory\n", err=True)
            status = 1
        elif "f" not in flags:
            shell.write(f"rm: can't remove '{name}': No such file or directory\n", err=True)
            status = 1
    return status


def _b_mkdir(shell: Process, args: list[str]) -> int:
    parents = any(arg.startswith("-") and "p" in arg for arg in args)
    status = 0
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        if (path in shell.files or shell.is_dir(path)) and not parents:
            shell.write(f"mkdir: can't create directory '{name}': File exists\n", err=True)
            status = 1
            continue
        while path not in ("/", ""):
            shell.dirs.add(path)
            path = posixpath.dirname(path)
    return status


def _b_ls(shell: Process, args: list[str]) -> int:
    names = [arg for arg in args if not arg.startswith("-")] or ["."]
    status = 0
    for name in names:
        path = shell.path(name)
        if path in shell.files:
            shell.write(name + "\n")
        elif shell.is_dir(path):
            if len(names) > 1:
                shell.write(f"{name}:\n")
            for child in shell.children(path):
                shell.write(child + "\n")
        else:
            shell.write(f"ls: {name}: No such file or directory\n", err=True)
            status = 1
    return status


def _copy(shell: Process, args: list[str], *, move: bool) -> int:
    names = [arg for arg in args if not arg.startswith("-")]
    command = "mv" if move else "cp"
    if len(names) != 2:
        shell.write(f"{command}: missing destination file operand\n", err=True)
        return 1
    source, target = shell.path(names[0]), shell.path(names[1])
    if source not in shell.files:
        shell.write(f"{command}: can't stat '{names[0]}': No such file or directory\n", err=True)
        return 1
    if shell.is_dir(target):
        target = posixpath.join(target, posixpath.basename(source))
    shell.set_file(target, shell.files[source])
    if move:
        shell.remove_file(source)
    return 0


def _test(shell: Process, args: list[str]) -> int:
    if args and args[0] == "!":
        result = _test(shell, args[1:])
        return result if result > 1 else 1 - result
    if not args:
        return 1
    if len(args) == 1:
        return 0 if args[0] else 1
    if len(args) == 2:
        op, operand = args
        path = shell.path(operand) if operand else ""
        checks = {
            "-z": not operand,
            "-n": bool(operand),
            "-f": path in shell.files,
            "-e": path in shell.files or shell.is_dir(path),
            "-d": path not in shell.files and shell.is_dir(path),
            "-s": bool(shell.files.get(path)),
            "-r": path in shell.files or shell.is_dir(path),
            "-w": path in shell.files or shell.is_dir(path),
            "-x": shell.is_dir(path),
        }
        if op not in checks:
            shell.write(f"sh: {op}: unknown operand\n", err=True)
            return 2
        return 0 if checks[op] else 1
    left, op, right = args[0], args[1], args[2]
    if op in ("=", "=="):
        return 0 if left == right else 1
    if op == "!=":
        return 0 if left != right else 1
    numeric = {
        "-eq": operator.eq,
        "-ne": operator.ne,
        "-lt": operator.lt,
        "-le": operator.le,
        "-gt": operator.gt,
        "-ge": operator.ge,
    }
    if op in numeric:
        try:
            return 0 if numeric[op](int(left), int(right)) else 1
        except ValueError:
            shell.write(f"sh: {left if not left.lstrip('-').isdigit() else right}: bad number\n", err=True)
            return 2
    shell.write(f"sh: {op}: unknown operand\n", err=True)
    return 2


def _b_bracket(shell: Process, args: list[str]) -> int:
    if not args or args[-1] != "]":
        shell.write("sh: missing ]\n", err=True)
        return 2
    return _test(shell, args[:-1])


def _b_seq(shell: Process, args: list[str]) -> int:
    try:
        numbers = [int(arg) for arg in args]
    except ValueError:
        shell.write(f"seq: invalid number '{next(a for a in args if not a.lstrip('-').isdigit())}'\n", err=True)
        return 1
    if len(numbers) == 1:
        first, step, last = 1, 1, numbers[0]
    elif len(numbers) == 2:
        first, step, last = numbers[0], 1, numbers[1]
    elif len(numbers) == 3:
        first, step, last = numbers
    else:
        shell.write("seq: usage: seq [FIRST [INC]] LAST\n", err=True)
        return 1
    if step == 0:
        return 1
    values = range(first, last + (1 if step > 0 else -1), step)
    shell.write("".join(f"{value}\n" for value in values[:100_000]))
    return 0


def _line_count(args: list[str], default: int = 10) -> tuple[int, list[str]]:
    count, rest = default, []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-n" and index + 1 < len(args):
            count = int(args[index + 1]) if args[index + 1].lstrip("+-").isdigit() else default
            index += 2
            continue
        if re.fullmatch(r"-\d+", arg):
            count = int(arg[1:])
        elif not arg.startswith("-"):
            rest.append(arg)
        index += 1
    return abs(count), rest


def _input_text(shell: Process, names: list[str], program: str) -> str | None:
    if not names:
        return shell.stdin
    texts = []
    for name in names:
        path = shell.path(name)
        if path not in shell.files:
            shell.write(f"{program}: can't open '{name}': No such file or directory\n", err=True)
            return None
        texts.append(shell.files[path])
    return "".join(texts)


def _b_head(shell: Process, args: list[str]) -> int:
    count, names = _line_count(args)
    text = _input_text(shell, names, "head")
    if text is None:
        return 1
    shell.write("".join(text.splitlines(keepends=True)[:count]))
    return 0


def _b_tail(shell: Process, args: list[str]) -> int:
    follow = any(arg.startswith("-") and "f" in arg for arg in args)
    count, names = _line_count([arg for arg in args if not (arg.startswith("-") and "f" in arg)])
    text = _input_text(shell, names, "tail")
    if text is None:
        return 1
    lines = text.splitlines(keepends=True)
    shell.write("".join(lines[-count:] if count else []))
    if follow:
        raise ShellForever
    return 0


def _b_grep(shell: Process, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-") and len(arg) > 1)
    rest = [arg for arg in args if not (arg.startswith("-") and len(arg) > 1)]
    if not rest:
        shell.write("grep: usage: grep [-qvic] PATTERN [FILE]...\n", err=True)
        return 2
    pattern, names = rest[0], rest[1:]
    text = _input_text(shell, names, "grep")
    if text is None:
        return 2
    try:
        regex = re.compile(pattern, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        regex = re.compile(re.escape(pattern), re.IGNORECASE if "i" in flags else 0)
    matched = [line for line in text.splitlines() if bool(regex.search(line)) != ("v" in flags)]
    if "c" in flags:
        shell.write(f"{len(matched)}\n")
    elif "q" not in flags:
        shell.write("".join(line + "\n" for line in matched))
    return 0 if matched else 1


def _b_wc(shell: Process, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
    text = _input_text(shell, [arg for arg in args if not arg.startswith("-")], "wc")
    if text is None:
        return 1
    counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
    chosen = [str(counts[flag]) for flag in "lwc" if flag in flags] or [str(counts[flag]) for flag in "lwc"]
    shell.write(" ".join(chosen) + "\n")
    return 0


def _b_tee(shell: Process, args: list[str]) -> int:
    append = any(arg.startswith("-") and "a" in arg for arg in args)
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        shell.set_file(path, (shell.files.get(path, "") if append else "") + shell.stdin)
    shell.write(shell.stdin)
    return 0


def _b_export(shell: Process, args: list[str]) -> int:
    for arg in args:
        name, equals, value = arg.partition("=")
        if equals:
            shell.vars[name] = value
        shell.exported.add(name)
    return 0


def _b_unset(shell: Process, args: list[str]) -> int:
    for name in args:
        shell.vars.pop(name, None)
        shell.exported.discard(name)
    return 0


def _b_set(shell: Process, args: list[str]) -> int:
    for index, arg in enumerate(args):
        if arg == "--":
            shell.args = list(args[index + 1 :])
            break
        if arg.startswith("-") and "e" in arg:
            shell.errexit = True
        elif arg.startswith("+") and "e" in arg:
            shell.errexit = False
    return 0


def _b_read(shell: Process, args: list[str]) -> int:
    if not shell.stdin:
        return 1
    line, _, shell.stdin = shell.stdin.partition("\n")
    names = [arg for arg in args if not arg.startswith("-")] or ["REPLY"]
    values = line.split(maxsplit=len(names) - 1)
    for index, name in enumerate(names):
        shell.vars[name] = values[index] if index < len(values) else ""
    return 0


def _b_exit(shell: Process, args: list[str]) -> int:
    if not args:
        raise ShellExit(shell.status)
    if not args[0].lstrip("-").isdigit():
        shell.write(f"sh: exit: Illegal number: {args[0]}\n", err=True)
        raise ShellExit(2)
    raise ShellExit(int(args[0]) & 0xFF)


def _b_shift(shell: Process, args: list[str]) -> int:
    count = int(args[0]) if args and args[0].isdigit() else 1
    if count > len(shell.args):
        return 1
    shell.args = shell.args[count:]
    return 0


def _b_break(shell: Process, args: list[str]) -> int:
    raise Break


def _b_continue(shell: Process, args: list[str]) -> int:
    raise Continue


def _b_uname(shell: Process, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
    if "a" in flags:
        shell.write(f"Linux {shell.hostname} 6.8.0-generic #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n")
    elif "r" in flags:
        shell.write("6.8.0-generic\n")
    else:
        shell.write("Linux\n")
    return 0


def _b_sleep(shell: Process, args: list[str]) -> int:
    """Advance the virtual clock; `sleep infinity` never returns."""
    if not args:
        shell.write("sleep: missing operand\n", err=True)
        return 1
    total = 0.0
    for arg in args:
        if arg in ("inf", "infinity"):
            raise ShellForever
        match = _SLEEP.fullmatch(arg)
        if match is None:
            shell.write(f"sleep: invalid number '{arg}'\n", err=True)
            return 1
        total += float(match[1]) * _SLEEP_UNITS[match[2]]
    shell.now += total
    return 0


def _b_hostname(shell: Process, args: list[str]) -> int:
    shell.write(shell.hostname + "\n")
    return 0


def _b_basename(shell: Process, args: list[str]) -> int:
    if not args:
        return 1
    name = posixpath.basename(args[0].rstrip("/")) or "/"
    if len(args) > 1 and name.endswith(args[1]) and name != args[1]:
        name = name[: -len(args[1])]
    shell.write(name + "\n")
    return 0


def _b_dirname(shell: Process, args: list[str]) -> int:
    if not args:
        return 1
    shell.write((posixpath.dirname(args[0].rstrip("/")) or ".") + "\n")
    return 0


def _b_cp(shell: Process, args: list[str]) -> int:
    return _copy(shell, args, move=False)


def _b_mv(shell: Process, args: list[str]) -> int:
    return _copy(shell, args, move=True)


def _constant(output: str | None = None, status: int = 0) -> Builtin:
    def builtin(shell: Process, args: list[str]) -> int:
        if output is not None:
            shell.write(output)
        return status

    return builtin


BUILTINS: Mapping[str, Builtin] = {
    "echo": _b_echo,
    "printf": _b_printf,
    "cat": _b_cat,
    "env": _b_env,
    "printenv": _b_printenv,
    "date": _b_date,
    "hostname": _b_hostname,
    "touch": _b_touch,
    "rm": _b_rm,
    "mkdir": _b_mkdir,
    "ls": _b_ls,
    "cp": _b_cp,
    "mv": _b_mv,
    "test": _test,
    "[": _b_bracket,
    "seq": _b_seq,
    "sleep": _b_sleep,
    "head": _b_head,
    "tail": _b_tail,
    "grep": _b_grep,
    "wc": _b_wc,
    "tee": _b_tee,
    "export": _b_export,
    "unset": _b_unset,
    "set": _b_set,
    "read": _b_read,
    "exit": _b_exit,
    "return": _b_exit,
    "shift": _b_shift,
    "break": _b_break,
    "continue": _b_continue,
    "uname": _b_uname,
    "basename": _b_basename,
    "dirname": _b_dirname,
    "true": _constant(),
    ":": _constant(),
    "false": _constant(status=1),
    "pwd": _constant("/\n"),
    "whoami": _constant("root\n"),
    "trap": _constant(),
    "wait": _constant(),
    "cd": _constant(),
    "umask": _constant(),
    "ulimit": _constant(),
    "chmod": _constant(),
    "chown": _constant(),
    "sync": _constant(),
    "kill": _constant(),
}
