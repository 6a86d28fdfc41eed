"""Shell syntax: the lexer and parser of the POSIX shell subset the simulation runs.

A script parses to a tree of tuples (`Node`): ("seq", items), ("andor", first, [(op, pipeline)]),
("pipe", commands, negate), ("simple", assignments, words, redirections), ("while", condition, body, until,
redirections), ("for", name, words, body, redirections), ("if", branches, otherwise, redirections),
("group", body, redirections) and ("subshell", body, redirections). A word (`Word`) is a list of parts
(kind, text, quoted) with kind `lit`, `var`, `cmd` (command substitution) or `arith`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_RESERVED = frozenset({"if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "{", "}", "!"})
_WORD_START_OPERATORS = ("2>&1", "1>&2", "2>", "1>")
_OPERATORS = (">&2", "&&", "||", "&>", ">>", ">&", ";", "&", "|", "(", ")", "<", ">", "\n")
_REDIRECTIONS = frozenset({"2>&1", "1>&2", ">&2", ">&", "2>", "1>", "&>", ">>", ">", "<"})
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-]")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Word = list[tuple[str, str, bool]]
Node = tuple[Any, ...]
Token = tuple[str, Any]


class ShellSyntax(Exception):
    """A script that does not parse; the message is busybox's, without its `syntax error: ` prefix."""


def _lex(source: str) -> list[Token]:
    tokens: list[Token] = []
    parts: Word = []
    in_word = False
    index = 0

    def end_word() -> None:
        nonlocal parts, in_word
        if in_word:
            tokens.append(("word", parts))
        parts, in_word = [], False

    while index < len(source):
        char = source[index]
        if char in " \t\r":
            end_word()
            index += 1
            continue
        if char == "#" and not in_word:
            while index < len(source) and source[index] != "\n":
                index += 1
            continue
        if char == "\\":
            if source.startswith("\\\n", index):
                index += 2
                continue
            parts.append(("lit", source[index + 1 : index + 2], True))
            in_word = True
            index += 2
            continue
        operator_ = None
        if not in_word:
            operator_ = next((op for op in _WORD_START_OPERATORS if source.startswith(op, index)), None)
        operator_ = operator_ or next((op for op in _OPERATORS if source.startswith(op, index)), None)
        if operator_ is not None:
            end_word()
            tokens.append(("op", operator_))
            index += len(operator_)
            continue
        in_word = True
        if char == "'":
            end = source.find("'", index + 1)
            if end < 0:
                raise ShellSyntax("unterminated quoted string")
            parts.append(("lit", source[index + 1 : end], True))
            index = end + 1
        elif char == '"':
            index = _lex_double_quoted(source, index + 1, parts)
        elif char == "$":
            index = _lex_dollar(source, index, parts, quoted=False)
        elif char == "`":
            end = source.find("`", index + 1)
            if end < 0:
                raise ShellSyntax("unterminated quoted string")
            parts.append(("cmd", source[index + 1 : end], False))
            index = end + 1
        else:
            parts.append(("lit", char, False))
            index += 1
    end_word()
    return tokens


def _lex_double_quoted(source: str, index: int, parts: Word) -> int:
    buffer: list[str] = []
    parts.append(("lit", "", True))
    while index < len(source) and source[index] != '"':
        char = source[index]
        if char == "\\" and source[index + 1 : index + 2] in ('"', "\\", "$", "`", "\n"):
            if source[index + 1] != "\n":
                buffer.append(source[index + 1])
            index += 2
        elif char in "$`":
            if buffer:
                parts.append(("lit", "".join(buffer), True))
                buffer = []
            if char == "$":
                index = _lex_dollar(source, index, parts, quoted=True)
            else:
                end = source.find("`", index + 1)
                if end < 0:
                    raise ShellSyntax("unterminated quoted string")
                parts.append(("cmd", source[index + 1 : end], True))
                index = end + 1
        else:
            buffer.append(char)
            index += 1
    if index >= len(source):
        raise ShellSyntax("unterminated quoted string")
    if buffer:
        parts.append(("lit", "".join(buffer), True))
    return index + 1


def _matching_paren(source: str, index: int) -> int:
    """Index of the `)` closing the `(` at `index`."""
    depth = 0
    quote = ""
    while index < len(source):
        char = source[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ShellSyntax('unexpected end of file (expecting ")")')


def _lex_dollar(source: str, index: int, parts: Word, *, quoted: bool) -> int:
    following = source[index + 1 : index + 2]
    if source.startswith("$((", index):
        end = _matching_paren(source, index + 1)
        parts.append(("arith", source[index + 3 : end - 1], quoted))
        return end + 1
    if following == "(":
        end = _matching_paren(source, index + 1)
        parts.append(("cmd", source[index + 2 : end], quoted))
        return end + 1
    if following == "{":
        end = source.find("}", index + 2)
        if end < 0:
            raise ShellSyntax("bad substitution")
        parts.append(("var", source[index + 2 : end], quoted))
        return end + 1
    match = _PARAMETER_NAME.match(source, index + 1)
    if match is None:
        parts.append(("lit", "$", quoted))
        return index + 1
    parts.append(("var", match[0], quoted))
    return match.end()


def _literal(parts: Word) -> str | None:
    if all(kind == "lit" and not quoted for kind, _, quoted in parts):
        return "".join(value for _, value, _ in parts)
    return None


def _assignment(parts: Word) -> tuple[str, Word] | None:
    if not parts or parts[0][0] != "lit" or parts[0][2]:
        return None
    head = "".join(value for kind, value, quoted in _leading_literal(parts))
    name, equals, _ = head.partition("=")
    if not equals or not IDENTIFIER.fullmatch(name):
        return None
    consumed = len(name) + 1
    rest: Word = []
    for kind, value, quoted in parts:
        if consumed > 0 and kind == "lit" and not quoted:
            take = min(consumed, len(value))
            value, consumed = value[take:], consumed - take
            if not value:
                continue
        rest.append((kind, value, quoted))
    return name, rest or [("lit", "", True)]


def _leading_literal(parts: Word) -> Word:
    out: Word = []
    for part in parts:
        if part[0] != "lit" or part[2]:
            break
        out.append(part)
    return out


def _unexpected(token: Token | None) -> ShellSyntax:
    if token is None:
        return ShellSyntax("unexpected end of file")
    if token == ("op", "\n"):
        return ShellSyntax("unexpected newline")
    text = token[1] if token[0] == "op" else "".join(value for _, value, _ in token[1])
    return ShellSyntax(f'unexpected "{text}"')


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _is_word(self, *names: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and _literal(token[1]) in names

    def _is_op(self, *ops: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "op" and token[1] in ops

    def _skip(self, *ops: str) -> None:
        while self._is_op(*ops):
            self.pos += 1

    def _expect_word(self, name: str) -> None:
        if not self._is_word(name):
            if self._peek() is None:
                raise ShellSyntax(f'unexpected end of file (expecting "{name}")')
            raise _unexpected(self._peek())
        self.pos += 1

    def program(self) -> Node:
        node = self._list(())
        if self._peek() is not None:
            raise _unexpected(self._peek())
        return node

    def _list(self, stops: tuple[str, ...]) -> Node:
        items: list[Node] = []
        while True:
            self._skip("\n", ";")
            if self._peek() is None or self._is_word(*stops) or self._is_op(")"):
                return ("seq", items)
            items.append(self._and_or())
            if not self._is_op(";", "\n", "&"):
                return ("seq", items)
            self.pos += 1

    def _and_or(self) -> Node:
        first = self._pipeline()
        rest: list[tuple[str, Node]] = []
        while self._is_op("&&", "||"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            self._skip("\n")
            rest.append((op, self._pipeline()))
        return ("andor", first, rest) if rest else first

    def _pipeline(self) -> Node:
        negate = self._is_word("!")
        if negate:
            self.pos += 1
        commands = [self._command()]
        while self._is_op("|"):
            self.pos += 1
            self._skip("\n")
            commands.append(self._command())
        if len(commands) == 1 and not negate:
            return commands[0]
        return ("pipe", commands, negate)

    def _command(self) -> Node:
        token = self._peek()
        if token is None:
            raise _unexpected(None)
        if token == ("op", "("):
            self.pos += 1
            body = self._list(())
            if not self._is_op(")"):
                raise _unexpected(self._peek())
            self.pos += 1
            return ("subshell", body, self._redirections())
        word = _literal(token[1]) if token[0] == "word" else None
        if word in ("while", "until"):
            self.pos += 1
            condition = self._list(("do",))
            self._expect_word("do")
            body = self._list(("done",))
            self._expect_word("done")
            return ("while", condition, body, word == "until", self._redirections())
        if word == "for":
            return self._for()
        if word == "if":
            return self._if()
        if word == "{":
            self.pos += 1
            body = self._list(("}",))
            self._expect_word("}")
            return ("group", body, self._redirections())
        if word in _RESERVED:
            raise _unexpected(token)
        return self._simple()

    def _for(self) -> Node:
        self.pos += 1
        token = self._peek()
        name = _literal(token[1]) if token is not None and token[0] == "word" else None
        if name is None or not IDENTIFIER.fullmatch(name):
            raise ShellSyntax("bad for loop variable")
        self.pos += 1
        self._skip("\n")
        words: list[Word] | None = None
        if self._is_word("in"):
            self.pos += 1
            words = []
            while (token := self._peek()) is not None and token[0] == "word":
                words.append(token[1])
                self.pos += 1
        self._skip("\n", ";")
        self._expect_word("do")
        body = self._list(("done",))
        self._expect_word("done")
        return ("for", name, words, body, self._redirections())

    def _if(self) -> Node:
        self.pos += 1
        branches: list[tuple[Node, Node]] = []
        condition = self._list(("then",))
        self._expect_word("then")
        branches.append((condition, self._list(("elif", "else", "fi"))))
        while self._is_word("elif"):
            self.pos += 1
            condition = self._list(("then",))
            self._expect_word("then")
            branches.append((condition, self._list(("elif", "else", "fi"))))
        otherwise = None
        if self._is_word("else"):
            self.pos += 1
            otherwise = self._list(("fi",))
        self._expect_word("fi")
        return ("if", branches, otherwise, self._redirections())

    def _redirections(self) -> list[tuple[str, Word | None]]:
        redirections: list[tuple[str, Word | None]] = []
        while self._is_op(*_REDIRECTIONS):
            redirections.append(self._redirection())
        return redirections

    def _redirection(self) -> tuple[str, Word | None]:
        op = self.tokens[self.pos][1]
        self.pos += 1
        if op in ("2>&1", "1>&2", ">&2"):
            return op, None
        token = self._peek()
        if token is None or token[0] != "word":
            raise _unexpected(token)
        self.pos += 1
        return op, token[1]

    def _simple(self) -> Node:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirections: list[tuple[str, Word | None]] = []
        while (token := self._peek()) is not None:
            if token[0] == "op":
                if token[1] not in _REDIRECTIONS:
                    break
                redirections.append(self._redirection())
                continue
            assignment = _assignment(token[1]) if not words else None
            if assignment is not None:
                assigns.append(assignment)
            else:
                words.append(token[1])
            self.pos += 1
        if not (assigns or words or redirections):
            raise _unexpected(self._peek())
        return ("simple", assigns, words, redirections)


def parse_script(source: str) -> Node:
    """The tree of a script; raise `ShellSyntax` where busybox reports a syntax error."""
    return _Parser(_lex(source)).program()


def _simple_names(node: Any) -> Iterator[str]:
    """First words of every simple command in a tree (to spot `exit` or `break` inside a loop)."""
    if isinstance(node, tuple) and node and node[0] == "simple":
        if node[2]:
            literal = _literal(node[2][0])
            if literal is not None:
                yield literal
        return
    if isinstance(node, tuple | list):
        for child in node:
            yield from _simple_names(child)


def endless(condition: Node, body: Node, until: bool) -> bool:
    """A `while true` (or `until false`) loop whose body cannot leave it."""
    items = condition[1] if condition[0] == "seq" else [condition]
    if len(items) != 1 or items[0][0] != "simple" or len(items[0][2]) != 1:
        return False
    word = _literal(items[0][2][0])
    if word not in (("false",) if until else ("true", ":")):
        return False
    return not any(name in ("exit", "break", "return", "exec", "kill") for name in _simple_names(body))


def lex_word(text: str) -> Word:
    """The parts of a `${NAME:-word}` default, expanded like a double-quoted string."""
    parts: Word = []
    try:
        _lex_double_quoted(text + '"', 0, parts)
    except ShellSyntax:
        return [("lit", text, True)]
    return parts
