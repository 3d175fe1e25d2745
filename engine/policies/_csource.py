"""A small reader for the C that s2n-tls declares its tables in (used by ``_generate``).

Not a C compiler. It strips comments, follows object-like ``#define`` macros and the
``#if``/``#ifdef``/``#elif``/``#else``/``#endif`` conditions it can decide, and parses
unindented, initialised top-level definitions (``TYPE NAME[] = { ... };``) into nested
``Initializer`` values. A condition it cannot decide (it depends on the build) is not
guessed: what it guards is kept but marked, and using such a definition or macro is an
error. Only conditions given in ``assumed`` are decided up front.

>>> program = CProgram()
>>> program.read_text("t.c", "#define TWO 2\\nconst int list[] = { TWO, &x };\\n")
>>> program.definition("list").initializer.values()
['TWO', '& x']
>>> program.integer("TWO * 3")
6
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CProgram", "CSourceError", "Definition", "Initializer", "array_length_of", "reference", "string_literal"]


class CSourceError(ValueError):
    """The C source does not have the shape the reader expects."""


@dataclass(frozen=True)
class Initializer:
    """A brace initializer: items in order, each with its designator (``.field`` or ``[index]``) or None.

    A value is a scalar (its tokens joined by single spaces) or a nested ``Initializer``.
    """

    items: tuple[tuple[str | None, str | Initializer], ...]

    def field(self, name: str, default: str | Initializer | None = None) -> str | Initializer:
        """The value given for ``.name``; ``default`` (or an error) when it is not set."""
        for designator, value in self.items:
            if designator == "." + name:
                return value
        if default is None:
            raise CSourceError(f"initializer has no .{name}")
        return default

    def scalar(self, name: str, default: str | None = None) -> str:
        """The value of ``.name``, which must be a scalar."""
        value = self.field(name, default)
        if isinstance(value, Initializer):
            raise CSourceError(f".{name} is a brace list, not a scalar")
        return value

    def nested(self, name: str) -> Initializer:
        """The value of ``.name``, which must be a brace list."""
        value = self.field(name)
        if not isinstance(value, Initializer):
            raise CSourceError(f".{name} is a scalar, not a brace list")
        return value

    def values(self) -> list[str]:
        """The items of an array of scalars (``{ &a, &b }``), in order."""
        result: list[str] = []
        for designator, value in self.items:
            if designator is not None or isinstance(value, Initializer):
                raise CSourceError("expected a plain list of scalars")
            result.append(value)
        return result

    def designated(self) -> dict[str, str | Initializer]:
        """The designated items (``.field = value``, ``[INDEX] = value``) by designator."""
        return {designator: value for designator, value in self.items if designator is not None}


@dataclass(frozen=True)
class Definition:
    """One initialised top-level definition."""

    type_name: str
    name: str
    is_array: bool
    initializer: Initializer
    location: str
    undecided: bool


_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|\w+|[^\s\w]')
_DEFINITION = re.compile(
    r"^(?P<decl>(?:(?:static|const|struct)\s+)*\w+(?:\s*\*\s*|\s+)(?:const\s+)?)"
    r"(?P<name>\w+)\s*(?P<array>\[[^\]]*\])?\s*=\s*\{",
    re.MULTILINE,
)
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
_REFERENCE = re.compile(r"^&\s*(\w+)$")
_ARRAY_LEN = re.compile(r"^s2n_array_len\s*\(\s*(\w+)\s*\)$")
_INT_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")


def strip_comments(text: str) -> str:
    """Replace every comment by spaces (newlines kept), leaving string and char literals alone."""
    out: list[str] = []
    index, size = 0, len(text)
    while index < size:
        pair = text[index : index + 2]
        if pair == "/*":
            end = text.find("*/", index + 2)
            end = size if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[index:end]))
            index = end
        elif pair == "//":
            end = text.find("\n", index)
            end = size if end < 0 else end
            out.append(" " * (end - index))
            index = end
        elif text[index] in "\"'":
            match = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'').match(text, index)
            end = match.end() if match else index + 1
            out.append(text[index:end])
            index = end
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


@dataclass
class _Branch:
    """One ``#if`` group: the state of its current branch and whether an earlier one was taken."""

    current: bool | None
    taken: bool | None


@dataclass
class CProgram:
    """Macros and definitions gathered from the files read, in order.

    ``assumed`` fixes macros the build would define (their value wins over any definition
    in the sources); ``#if`` conditions that depend only on them are decided.
    """

    assumed: Mapping[str, str] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    undecided_macros: set[str] = field(default_factory=set)
    _definitions: dict[str, list[Definition]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.macros.update(self.assumed)

    # ---- reading ----

    def read(self, path: Path) -> None:
        """Read one C file (header or source)."""
        self.read_text(str(path), path.read_text(encoding="utf-8"))

    def read_text(self, location: str, text: str) -> None:
        """Read C source text; ``location`` names it in errors."""
        lines = _logical_lines(strip_comments(text))
        kept, undecided_lines = self._preprocess(location, lines)
        body = "\n".join(kept)
        for match in _DEFINITION.finditer(body):
            self._add_definition(location, body, match, undecided_lines)

    def _preprocess(self, location: str, lines: list[str]) -> tuple[list[str], set[int]]:
        stack: list[_Branch] = []
        kept: list[str] = []
        undecided_lines: set[int] = set()
        for number, line in enumerate(lines):
            state = _combined(stack)
            stripped = line.strip()
            if stripped.startswith("#"):
                self._directive(f"{location}:{number + 1}", stripped[1:].strip(), stack, state)
                kept.append("")
                continue
            kept.append(line if state is not False else "")
            if state is None:
                undecided_lines.add(number)
        if stack:
            raise CSourceError(f"{location}: unterminated #if")
        return kept, undecided_lines

    def _directive(self, where: str, directive: str, stack: list[_Branch], state: bool | None) -> None:
        keyword, _, rest = directive.partition(" ")
        rest = rest.strip()
        if keyword in ("if", "ifdef", "ifndef"):
            condition = self._condition(keyword, rest)
            stack.append(_Branch(condition, condition))
        elif keyword in ("elif", "else", "endif"):
            if not stack:
                raise CSourceError(f"{where}: #{keyword} without #if")
            branch = stack[-1]
            if keyword == "endif":
                stack.pop()
                return
            condition = self._condition("if", rest) if keyword == "elif" else True
            branch.current = _and(_not(branch.taken), condition)
            branch.taken = _or(branch.taken, condition)
        elif keyword == "define" and state is not False:
            self._define(rest, decided=state is True)
        elif keyword == "undef" and state is True and rest not in self.assumed:
            self.macros.pop(rest, None)

    def _define(self, rest: str, *, decided: bool) -> None:
        match = re.match(r"(\w+)(\(?)\s*(.*)$", rest)
        if match is None or match.group(2) or match.group(1) in self.assumed:
            return  # function-like macros are not followed; assumed ones are fixed
        name, value = match.group(1), match.group(3).strip()
        if decided:
            self.macros[name] = value
            self.undecided_macros.discard(name)
        else:
            self.undecided_macros.add(name)

    def _condition(self, keyword: str, expression: str) -> bool | None:
        if keyword == "ifdef":
            return self._defined(expression)
        if keyword == "ifndef":
            return _not(self._defined(expression))

        def replace_defined(match: re.Match[str]) -> str:
            known = self._defined(match.group(1))
            return "__UNDECIDED__" if known is None else str(int(known))

        expression = re.sub(r"\bdefined\s*\(?\s*(\w+)\s*\)?", replace_defined, expression)
        try:
            expanded = self.expand(expression)
        except CSourceError:
            return None
        if _IDENTIFIER.search(expanded):
            return None  # depends on something the build decides
        return bool(_evaluate(expanded))

    def _defined(self, name: str) -> bool | None:
        if name in self.macros:
            return True
        return None

    def _add_definition(self, location: str, body: str, match: re.Match[str], undecided_lines: set[int]) -> None:
        start_line = body.count("\n", 0, match.start())
        open_brace = match.end() - 1
        tokens, end = _tokens_until_close(body, open_brace)
        initializer, _ = _parse_initializer(tokens, 0)
        end_line = body.count("\n", 0, end)
        decl = match.group("decl")
        words = [word for word in re.findall(r"\w+", decl) if word not in ("static", "const", "struct")]
        definition = Definition(
            type_name=words[-1] if words else "",
            name=match.group("name"),
            is_array=match.group("array") is not None,
            initializer=initializer,
            location=f"{location}:{start_line + 1}",
            undecided=any(line in undecided_lines for line in range(start_line, end_line + 1)),
        )
        self._definitions.setdefault(definition.name, []).append(definition)

    # ---- querying ----

    def definition(self, name: str) -> Definition:
        """The one decided definition of ``name``."""
        found = self._definitions.get(name, [])
        if len(found) != 1:
            raise CSourceError(f"{name}: expected one definition, found {len(found)}")
        if found[0].undecided:
            raise CSourceError(f"{name} ({found[0].location}) depends on an #if the reader cannot decide")
        return found[0]

    def definitions_of(self, type_name: str, *, array: bool = False) -> Iterator[Definition]:
        """Every definition of that type (arrays or not), in reading order."""
        for found in self._definitions.values():
            for definition in found:
                if definition.type_name == type_name and definition.is_array == array:
                    yield self.definition(definition.name)

    def expand(self, text: str, depth: int = 0) -> str:
        """``text`` with object-like macros replaced, recursively."""
        if depth > 32:
            raise CSourceError(f"macro expansion too deep in {text!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(0)
            if name in self.macros:
                return "(" + self.expand(self.macros[name], depth + 1) + ")"
            if name in self.undecided_macros:
                raise CSourceError(f"macro {name} is defined under an #if the reader cannot decide")
            return name

        return _IDENTIFIER.sub(replace, text)

    def integer(self, text: str) -> int:
        """The value of an integer constant expression (macros expanded)."""
        expanded = self.expand(text)
        if _IDENTIFIER.search(expanded):
            raise CSourceError(f"not a constant: {text!r} -> {expanded!r}")
        return _evaluate(expanded)

    def integers(self, text: str) -> list[int]:
        """A comma-separated list of integer constants after macro expansion (e.g. ``0xC0, 0x2F``)."""
        expanded = self.expand(text).replace("(", " ").replace(")", " ")
        return [self.integer(part) for part in expanded.split(",") if part.strip()]


def reference(value: str | Initializer) -> str:
    """The name in ``&name``."""
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    if match is None:
        raise CSourceError(f"expected &name, found {value!r}")
    return match.group(1)


def array_length_of(value: str) -> str | None:
    """The array named in ``s2n_array_len(name)``, or None for anything else."""
    match = _ARRAY_LEN.match(value)
    return match.group(1) if match else None


def string_literal(value: str | Initializer) -> str:
    """The text of a string literal value."""
    if not isinstance(value, str) or not (value.startswith('"') and value.endswith('"')):
        raise CSourceError(f"expected a string literal, found {value!r}")
    return value[1:-1]


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined; blank lines keep the numbering."""
    lines: list[str] = []
    pending: list[str] = []
    for line in text.split("\n"):
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        lines.append(" ".join([*pending, line]))
        lines.extend([""] * len(pending))
        pending = []
    lines.extend(pending)
    return lines


def _tokens_until_close(body: str, open_brace: int) -> tuple[list[str], int]:
    depth = 0
    tokens: list[str] = []
    for match in _TOKEN.finditer(body, open_brace):
        token = match.group(0)
        tokens.append(token)
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth == 0:
            return tokens, match.end()
    raise CSourceError("unbalanced braces")


def _parse_initializer(tokens: list[str], index: int) -> tuple[Initializer, int]:
    """Parse ``{ ... }`` starting at ``tokens[index]``; return it and the index after ``}``."""
    if tokens[index] != "{":
        raise CSourceError(f"expected '{{', found {tokens[index]!r}")
    index += 1
    items: list[tuple[str | None, str | Initializer]] = []
    while tokens[index] != "}":
        designator: str | None = None
        if tokens[index] == "." and tokens[index + 2] == "=":
            designator, index = "." + tokens[index + 1], index + 3
        elif tokens[index] == "[":
            close = tokens.index("]", index)
            designator, index = "[" + " ".join(tokens[index + 1 : close]) + "]", close + 2
        value: str | Initializer
        if tokens[index] == "{":
            value, index = _parse_initializer(tokens, index)
        else:
            value, index = _scalar(tokens, index)
        items.append((designator, value))
        if tokens[index] == ",":
            index += 1
    return Initializer(tuple(items)), index + 1


def _scalar(tokens: list[str], index: int) -> tuple[str, int]:
    depth = 0
    start = index
    while depth > 0 or tokens[index] not in (",", "}"):
        depth += {"(": 1, ")": -1}.get(tokens[index], 0)
        index += 1
    return " ".join(tokens[start:index]), index


_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
    ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.LShift, ast.RShift, ast.BitOr, ast.BitAnd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Constant,
)  # fmt: skip


def _evaluate(expression: str) -> int:
    """Evaluate a C integer constant expression made of numbers and operators only."""
    python = _INT_SUFFIX.sub(r"\1", expression)
    python = python.replace("&&", " and ").replace("||", " or ").replace("/", "//")
    python = re.sub(r"!(?!=)", " not ", python)
    python = re.sub(r"\b0+(\d)", r"\1", python)  # C octal-looking zeros ("00") are plain here
    tree = ast.parse(python.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise CSourceError(f"unsupported constant expression {expression!r}")
    result = eval(compile(tree, "<c-constant>", "eval"), {"__builtins__": {}})  # noqa: S307 (checked AST)
    return int(result)


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _or(left: bool | None, right: bool | None) -> bool | None:
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _combined(stack: list[_Branch]) -> bool | None:
    states = [branch.current for branch in stack]
    if False in states:
        return False
    return None if None in states else True
