"""Text helpers every renderer shares: docstrings and joined lines."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from codegen.ir import Operation


def docstring(text: str, indent: str = "") -> str:
    """A triple-quoted docstring, wrapped to fit a 100-column line, safely escaped."""
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    width = max(40, 96 - len(indent))
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    wrapped = [textwrap.fill(p, width=width, break_long_words=False) for p in paragraphs]
    body = "\n\n".join(wrapped)
    lines = body.split("\n")
    if len(lines) == 1 and len(indent) + len(body) + 6 <= 100:
        return f'{indent}"""{body}"""'
    if len(lines) == 1:
        # WHY: one unbreakable word (a long path) fits the line limit only on a line of its own.
        return f'{indent}"""\n{indent}{body}\n{indent}"""'
    rest = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{rest}\n{indent}"""'


def operation_doc(operation: Operation) -> str:
    first = operation.summary or f"{operation.method} {operation.path}"
    if operation.deprecated:
        first = f"Deprecated. {first}"
    if operation.description:
        return f"{first}\n\n{operation.description}"
    return first


def join_lines(lines: Sequence[str]) -> str:
    return "\n".join(lines) + "\n"
