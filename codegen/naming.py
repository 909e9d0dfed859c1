"""Python names derived from spec names: stable, valid, and never shadowing what they must not."""

from __future__ import annotations

import builtins
import keyword
import re

from pydantic import BaseModel

# WHY: a field named like a builtin type breaks later annotations in the same class body,
# and one named like a BaseModel attribute makes pydantic warn (an error under pytest).
_RESERVED_FIELD_NAMES = frozenset(
    {name for name in dir(builtins) if not name.startswith("_")}
    | {name for name in dir(BaseModel) if not name.startswith("_")}
    | {"body", "headers", "path", "query", "header", "cookie"}
    # WHY: the generated modules import these types; a field of that name hides the type.
    | {"date", "datetime"}
)


def snake_case(name: str) -> str:
    """``createProject`` → ``create_project``; ``X-Request-ID`` → ``x_request_id``; a plural
    acronym is one word: ``ContactIDs`` → ``contact_ids``, ``IDs`` → ``ids``."""
    name = re.sub(r"([A-Z])([A-Z]+)s(?![a-z])", lambda m: m[1] + m[2].lower() + "s", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text)
    return text.strip("_").lower()


def pascal_case(name: str) -> str:
    """``createProject`` → ``CreateProject``; ``task-status`` → ``TaskStatus``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9a-zA-Z]+", name) if part)


def identifier(name: str) -> str:
    """A valid, non-keyword identifier: ``_`` suffix for keywords, ``n_`` prefix for digits."""
    if not name:
        name = "value"
    if name[0].isdigit():
        name = f"n_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_"
    return name


def function_name(name: str) -> str:
    """Python name of an operation: snake_case of its operationId."""
    return identifier(snake_case(name))


def field_name(name: str) -> str:
    """Python field name of a parameter or header; clashing names get a ``_`` suffix."""
    result = identifier(snake_case(name))
    if result in _RESERVED_FIELD_NAMES:
        result = f"{result}_"
    return result


def domain_name(tag: str) -> str:
    """Module name of a domain: the tag lowercased, non-identifier characters as ``_``."""
    return identifier(re.sub(r"[^0-9a-z_]", "_", tag.lower()))


def connexion_kwarg(name: str) -> str:
    """The keyword argument name Connexion (``pythonic_params=False``) passes a parameter as."""
    return re.sub("^[^a-zA-Z_]+", "", re.sub("[^0-9a-zA-Z_]", "", re.sub(r"\[(?!])", "_", name)))
