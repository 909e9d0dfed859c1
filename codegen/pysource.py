"""Make generated Python text pass the project's lint rules whatever the spec's text holds."""

from __future__ import annotations

import io
import re
import tokenize

# Typographic characters of descriptions, and what they read as in ASCII.
_PLAIN = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u00a0\u2002\u2003\u2007\u2008\u2009\u200a\u202f\u3000", " "),
        "\u2026": "...",
        "\u00d7": "x",
        "\u2022": "-",
        "\u200b": "",
        "\ufeff": "",
    }
)
_PREFIX = re.compile(r"^[rRbBuU]*")
# WHY: arrows look like no ASCII character, so ruff leaves them (the reference spec has them).
_KEPT = re.compile("[\u2190-\u21ff]")
_OTHER = re.compile("[^\x00-\x7f\u2190-\u21ff]")


def ascii_only(text: str) -> str:
    """The same module with only ASCII in its strings and comments (ruff's RUF001-RUF003).

    Docstrings and comments are documentation: typographic dashes, quotes and spaces become
    their ASCII look-alikes. Every other non-ASCII character of a string is written as a
    ``\\uXXXX`` escape, which keeps the value exact."""
    if not _OTHER.search(text):
        return text
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, int, int, str]] = []
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind, value = token.type, token.string
        if kind == tokenize.COMMENT and not value.isascii():
            edits.append((*token.start, *token.end, _escape(value.translate(_PLAIN), comment=True)))
        elif kind == tokenize.STRING and not value.isascii():
            prose = previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.NL)
            edits.append((*token.start, *token.end, _string(value, prose=prose)))
        if kind not in (tokenize.COMMENT, tokenize.NL):
            previous = kind
    for start_row, start_col, end_row, end_col, new in reversed(edits):
        head = lines[start_row - 1][:start_col]
        tail = lines[end_row - 1][end_col:]
        lines[start_row - 1 : end_row] = [head + new + tail]
    return "".join(lines)


def _string(token: str, *, prose: bool) -> str:
    prefix = _PREFIX.match(token)
    assert prefix is not None
    body = token[prefix.end() :]
    if prose:
        body = body.translate(_PLAIN)
    return token[: prefix.end()] + _escape(body, comment=False)


def _escape(text: str, *, comment: bool) -> str:
    if comment:
        return "".join(c if c.isascii() or _KEPT.match(c) else "?" for c in text)
    return "".join(c if c.isascii() or _KEPT.match(c) else _code(c) for c in text)


def _code(char: str) -> str:
    point = ord(char)
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


# WHY: ruff's own test for a credential-like name (S105), on assigned string literals.
_CREDENTIAL = re.compile(r"(^|_)(pas+wo?r?d|pass(phrase)?|pwd|token|secrete?)($|_)", re.I)
_ASSIGNED_STRING = re.compile(r"^\s+(\w+)\s*(?::[^=\n(]*)?=\s*[\"']", re.M)
_ONE_LETTER = re.compile(r"^\s+[lIO]\s*[:=]", re.M)


def noqa_header(text: str) -> str:
    """The per-file ``noqa`` line of a generated file, with the reason for each rule beyond E501
    (descriptions become long strings ruff cannot split)."""
    found = []
    if _ONE_LETTER.search(text):
        found.append(("E741", "names the spec chose (`l`, `I`, `O`)"))
    if any(_CREDENTIAL.search(m.group(1)) for m in _ASSIGNED_STRING.finditer(text)):
        found.append(
            ("S105", "values the spec names like credentials (`refresh_token`) are not secrets")
        )
    head = "# ruff: noqa: " + ", ".join(["E501", *(code for code, _ in found)]) + "\n"
    return head + "".join(f"# {code}: {why}.\n" for code, why in found)
