"""Run ``python -m codegen`` and datamodel-code-generator on a corpus of real OpenAPI documents.

``.venv/bin/python scripts/codegen_corpus.py [--lenient] [--only NAME ...] [--no-dmcg] [DIR]``

The corpus is ``../shared/specs`` beside the repository unless DIR (or ``CODEGEN_CORPUS``)
names another folder. Each document is judged in a fresh temporary project whose
``pyproject.toml`` carries this repository's own ruff and mypy configuration (rule set,
``mypy --strict`` with the pydantic plugin and its settings), for a package named ``gen``:
generate, import every module, ``ruff check``, ``mypy``, and regenerate with ``--check``. A
document passes when all of that succeeds, or when codegen exits 2 with located errors and no
traceback. datamodel-code-generator then runs on the same document, judged the same way.

Per document the table gives the verdict, the seconds generation took, the typed fields, the
fields left ``Any`` (or ``dict[str, Any]``, ``list[Any]``) although the spec gave their schema
properties, the numbered class names (``Type12``, ``Status2``: names no one chose; a
component the spec itself named ``ServiceError2`` is listed apart) and the component schemas
whose name is not a class of the output. Exits 1 if a document fails."""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("CODEGEN_CORPUS", ROOT.parent / "shared" / "specs"))
PYTHON = sys.executable
PACKAGE = "gen.api"
SUFFIXES = (".yaml", ".yml", ".json")
IMPORT_ALL = (
    f"import importlib, pkgutil, {PACKAGE}\n"
    f"for m in pkgutil.walk_packages({PACKAGE}.__path__, '{PACKAGE}.'):\n"
    "    importlib.import_module(m.name)\n"
)
# Shared by every document: a cold mypy spends ~40 s on pydantic and flask alone.
MYPY_CACHE = str(Path(tempfile.gettempdir()) / "codegen-corpus-mypy-cache")
_JUDGED_SECTIONS = ("tool.ruff", "tool.mypy", "tool.pydantic-mypy")


def project_config(pyproject: str) -> str:
    """The ``pyproject.toml`` of a scratch project: this repository's ruff and mypy sections,
    verbatim but for the package names, under a ``[tool.codegen]`` for ``gen.api``."""
    kept: list[str] = []
    keep = False
    for line in pyproject.splitlines():
        header = re.fullmatch(r"\[\[?([^\]]+)\]\]?\s*", line)
        if header:
            name = header[1].strip()
            keep = any(name == s or name.startswith(f"{s}.") for s in _JUDGED_SECTIONS)
        if not keep:
            continue
        if re.match(r"\s*packages\s*=", line):
            continue  # mypy gets `-p gen.api` instead
        if re.match(r"\s*known-first-party\s*=", line):
            # WHY: the repository's own packages; a team's are its package and the runtime.
            line = 'known-first-party = ["gen", "runtime"]'
        kept.append(line)
    codegen = f'[tool.codegen]\nspec = "openapi.yaml"\npackage = "{PACKAGE}"\n'
    # WHY: the runtime is this repository's code, judged by its own gates; only gen is judged.
    runtime = '\n[[tool.mypy.overrides]]\nmodule = ["runtime.*"]\nfollow_imports = "silent"\n'
    return codegen + "\n" + "\n".join(kept).strip() + "\n" + runtime


@dataclass
class Fields:
    """What the generated models make of the spec's schemas."""

    typed: int = 0
    untyped_with_properties: int = 0
    numbered: int = 0
    numbered_in_spec: int = 0
    renamed: int = 0
    examples: list[str] = field(default_factory=list)


_NUMBERED = re.compile(r"(?P<base>[A-Za-z_]*[A-Za-z_])(?P<number>\d+)")


def numbered(name: str, names: set[str], chosen: frozenset[str] = frozenset()) -> bool:
    """Whether a class name is a number stuck to a base no one chose (``Type12``) or to a name
    that was taken (``Status2`` beside ``Status``); ``GetThing404`` is a status, not a number,
    and a name in ``chosen`` (the spec's own ``ServiceError2``) was chosen by its authors."""
    match = _NUMBERED.fullmatch(name)
    if match is None or name in chosen:
        return False
    base, number = match["base"], match["number"]
    if len(number) == 3 and number[0] in "12345":
        return False
    return base in ("Type", "Model", "Field", "Item", "Schema") or base in names


def _object_schemas(node: Any) -> Iterator[tuple[frozenset[str], Mapping[str, Any]]]:
    """Every schema of the document that lists properties, with the set of their names."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict) and properties:
            yield frozenset(map(str, properties)), node
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from _object_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _object_schemas(value)


def _resolve(data: Mapping[str, Any], node: Any) -> Any:
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        seen.add(node["$ref"])
        target: Any = data
        for part in node["$ref"].lstrip("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node


def gives_properties(data: Mapping[str, Any], schema: Any, depth: int = 0) -> bool:
    """Whether a schema (or the items of an array, or a member of a composition) lists
    properties: a field of that schema typed ``Any`` lost them."""
    schema = _resolve(data, schema)
    if not isinstance(schema, dict) or depth > 8:
        return False
    if isinstance(schema.get("properties"), dict) and schema["properties"]:
        return True
    members: list[Any] = [schema.get("items"), schema.get("additionalProperties")]
    for key in ("allOf", "oneOf", "anyOf"):
        composed = schema.get(key)
        members += composed if isinstance(composed, list) else []
    return any(gives_properties(data, member, depth + 1) for member in members)


def _body_schemas(data: Mapping[str, Any]) -> dict[str, Any]:
    """codegen's request and response classes (``<Operation>Request``, ``<Operation><status>``)
    → the schema of the body they carry, so a whole body left untyped is counted too."""
    from codegen.document import operations
    from codegen.naming import pascal_case

    found: dict[str, Any] = {}
    for _, _, operation in operations(data):
        prefix = pascal_case(str(operation.get("operationId") or ""))
        if not prefix:
            continue
        body = _resolve(data, operation.get("requestBody"))
        found[f"{prefix}Request"] = _json_schema(data, body)
        responses = operation.get("responses")
        for status, response in (responses if isinstance(responses, dict) else {}).items():
            found[f"{prefix}{pascal_case(str(status))}"] = _json_schema(
                data, _resolve(data, response)
            )
    return {name: schema for name, schema in found.items() if schema is not None}


def _named_schemas(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Class name → the object schema it was made from, where the name says which: a component
    (``Client.Session`` → ``ClientSession``) or an operation's inline body
    (``<Operation>RequestBody``, ``<Operation><status>Body``). Other classes are matched by
    their fields' wire names."""
    from codegen.document import operations
    from codegen.naming import pascal_case
    from codegen.prepare import class_names

    found: dict[str, Any] = {}
    components = data.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    schemas = schemas if isinstance(schemas, dict) else {}
    for component, python in class_names([str(n) for n in schemas]).items():
        found[python] = schemas.get(component)
    for _, _, operation in operations(data):
        prefix = pascal_case(str(operation.get("operationId") or ""))
        if not prefix:
            continue
        found[f"{prefix}RequestBody"] = _json_schema(
            data, _resolve(data, operation.get("requestBody"))
        )
        responses = operation.get("responses")
        for status, response in (responses if isinstance(responses, dict) else {}).items():
            body = _json_schema(data, _resolve(data, response))
            found[f"{prefix}{pascal_case(str(status))}Body"] = body
    return {
        name: schema
        for name, schema in found.items()
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict)
    }


def _json_schema(data: Mapping[str, Any], holder: Any) -> Any:
    content = holder.get("content") if isinstance(holder, dict) else None
    if not isinstance(content, dict):
        return None
    for media, value in content.items():
        if "json" in str(media):
            media_object = _resolve(data, value)
            return media_object.get("schema") if isinstance(media_object, dict) else None
    return None


def _wire_name(statement: ast.AnnAssign) -> str | None:
    target = statement.target
    if not isinstance(target, ast.Name) or target.id == "model_config":
        return None
    calls = [statement.value] if isinstance(statement.value, ast.Call) else []
    calls += [n for n in ast.walk(statement.annotation) if isinstance(n, ast.Call)]
    for call in calls:
        for keyword in call.keywords:
            if keyword.arg == "alias" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return target.id


def _is_untyped(annotation: str) -> bool:
    return re.search(r"\bAny\b", annotation) is not None


def judge_models(sources: list[str], data: Mapping[str, Any]) -> Fields:
    """Count typed and silently untyped fields, numbered names and lost component names in
    generated modules. A class is matched to the schema its name says (a component, an inline
    body), else to the spec schemas whose property names are the fewest that include its
    fields' wire names (so a readOnly variant finds its schema); a field counts when every
    such schema gives it properties."""
    index: dict[frozenset[str], list[Mapping[str, Any]]] = {}
    for keys, found in _object_schemas(data):
        index.setdefault(keys, []).append(found)
    by_size = sorted(index, key=len)
    named = _named_schemas(data)
    classes: dict[str, list[tuple[str, str]]] = {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ClassDef):
                continue
            members = []
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign):
                    annotation = ast.unparse(statement.annotation)
                    wire = _wire_name(statement)
                    if wire is not None and not annotation.startswith("ClassVar"):
                        members.append((wire, annotation))
            classes[node.name] = members
    bodies = _body_schemas(data)
    result = Fields()
    names = set(classes)
    components = data.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    # WHY: a generator may only drop the characters a class name cannot hold
    # (`Client.Session-2` → `ClientSession2`); the digits are then the spec's, not ours.
    # Not prepare.class_names: it numbers its own clashes, which must still count.
    chosen = frozenset(re.sub(r"[^0-9A-Za-z_]", "", str(n)) for n in schemas or {})
    for name, members in classes.items():
        if numbered(name, names, chosen):
            result.numbered += 1
        elif numbered(name, names):
            result.numbered_in_spec += 1
        wires = frozenset(wire for wire, _ in members)
        matches = index.get(wires) or next((index[k] for k in by_size if wires <= k), [])
        if name in named and wires <= set(named[name]["properties"]):
            matches = [named[name]]
        if name in bodies:
            matches = [{"properties": {"body": bodies[name]}}]
        for wire, annotation in members:
            if not _is_untyped(annotation):
                result.typed += 1
            elif matches and all(
                gives_properties(data, match["properties"].get(wire)) for match in matches
            ):
                result.untyped_with_properties += 1
                if len(result.examples) < 3:
                    result.examples.append(f"{name}.{wire}")
    result.renamed = sum(1 for n in (schemas or {}) if str(n) not in names)
    return result


@dataclass(frozen=True)
class Outcome:
    document: str
    result: str
    seconds: float
    fields: Fields | None
    summary: str

    @property
    def passed(self) -> bool:
        return self.result in ("generated", "rejected")


def _run(command: list[str], cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": f"{cwd}:{ROOT}", "MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(  # noqa: S603  # nosec B603 - fixed commands of this environment
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def _first_error(text: str) -> str:
    # No machine paths in the table, and no Python warnings (a tool's advice, not its error).
    text = text.replace(f"{ROOT}/", "").replace(f"{sys.prefix}/", "")
    lines = [line for line in text.splitlines() if line.strip() and not line[0].isspace()]
    errors = [line for line in lines if not line.startswith("warning:") and "Warning:" not in line]
    # WHY: ruff's suggestion for a look-alike character is itself one, which breaks Markdown.
    errors = [re.sub(r" Did you mean .*?\?", "", line) for line in errors]
    summary = errors[-1] if errors else ""
    detail = errors[0] if errors else ""
    return f"{detail[:110]} … {summary[:60]}" if len(errors) > 1 else detail[:170]


def _load(spec: Path) -> Mapping[str, Any]:
    """The document with the operationIds codegen derives where the spec has none, so the
    classes of such an operation are judged by their bodies too."""
    from codegen.document import load
    from codegen.prepare import normalize

    return normalize(load(spec).data)[0]


def _judge(project: Path, target: list[str], checks: list[tuple[str, list[str]]]) -> str | None:
    """The first failed check as ``NAME FAILED: detail``, or ``None``."""
    mypy = [PYTHON, "-m", "mypy", "--cache-dir", MYPY_CACHE]
    for name, command in [
        *checks[:1],
        ("RUFF", [PYTHON, "-m", "ruff", "check", "--no-cache", *target]),
        ("MYPY", [*mypy, *(["-p", PACKAGE] if target == ["gen"] else target)]),
        *checks[1:],
    ]:
        result = _run(command, project)
        stale_only = name == "STALE" and result.returncode == 1 and "up to date" in result.stdout
        if result.returncode != 0 and not stale_only:
            return f"{name} FAILED: {_first_error(result.stdout + result.stderr)}"
    return None


def run_one(spec: Path, *, lenient: bool, deep: bool) -> Outcome:
    """codegen on one document in a fresh project."""
    with tempfile.TemporaryDirectory(prefix="codegen-corpus-") as scratch:
        project = Path(scratch)
        (project / "pyproject.toml").write_text(
            project_config((ROOT / "pyproject.toml").read_text())
        )
        (project / "openapi.yaml").write_bytes(spec.read_bytes())
        flags = ["--lenient"] if lenient else []
        start = time.perf_counter()
        generated = _run([PYTHON, "-m", "codegen", *flags], project)
        seconds = time.perf_counter() - start

        def done(result: str, summary: str = "") -> Outcome:
            package = project / "gen"
            sources = (
                [p.read_text() for p in sorted(package.rglob("*.py"))] if package.exists() else []
            )
            fields = judge_models(sources, _load(spec)) if sources else None
            return Outcome(spec.name, result, seconds, fields, summary)

        if "Traceback" in generated.stderr:
            return done("CRASH", _first_error(generated.stderr))
        if generated.returncode == 2:
            located = all(
                line.startswith(("#", "warning:", "codegen:"))
                for line in generated.stderr.splitlines()
                if line.strip()
            )
            return done("rejected" if located else "UNLOCATED", _first_error(generated.stderr))
        if generated.returncode != 0:
            return done(f"EXIT {generated.returncode}", _first_error(generated.stderr))
        if not deep:
            return done("generated", "not judged (--shallow)")
        failed = _judge(
            project,
            ["gen"],
            [
                ("IMPORT", [PYTHON, "-c", IMPORT_ALL]),
                ("STALE", [PYTHON, "-m", "codegen", "--check", *flags]),
            ],
        )
        if failed:
            verdict, _, detail = failed.partition(": ")
            return done(verdict, detail)
        return done("generated")


def run_dmcg(spec: Path, *, deep: bool) -> Outcome:
    """datamodel-code-generator on the same document (schemas, paths and parameters), judged
    by the same ruff and mypy configuration."""
    with tempfile.TemporaryDirectory(prefix="codegen-corpus-dmcg-") as scratch:
        project = Path(scratch)
        (project / "pyproject.toml").write_text(
            project_config((ROOT / "pyproject.toml").read_text())
        )
        (project / "openapi.yaml").write_bytes(spec.read_bytes())
        output = project / "models"
        command = [PYTHON, "-m", "datamodel_code_generator", "--input", "openapi.yaml"]
        command += ["--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel"]
        command += ["--target-python-version", "3.11", "--openapi-scopes", "schemas", "paths"]
        command += ["parameters", "--output", str(output)]
        start = time.perf_counter()
        generated = _run(command, project)
        seconds = time.perf_counter() - start
        files = sorted(output.rglob("*.py")) if output.is_dir() else []
        files = files or ([output] if output.is_file() else [])

        def done(result: str, summary: str = "") -> Outcome:
            sources = [p.read_text() for p in files]
            fields = judge_models(sources, _load(spec)) if sources else None
            return Outcome(spec.name, result, seconds, fields, summary)

        if generated.returncode != 0 or not files:
            return done("FAILED", _first_error(generated.stderr))
        if not deep:
            return done("generated", "not judged (--shallow)")
        if output.is_file():
            output.rename(project / "models.py")
            files = [project / "models.py"]
            target = ["models.py"]
        else:
            target = ["models"]
        failed = _judge(project, target, [])
        if failed:
            verdict, _, detail = failed.partition(": ")
            return done(verdict, detail)
        return done("generated")


def _cells(outcome: Outcome) -> str:
    f = outcome.fields
    counts = (
        f"{f.typed} | {f.untyped_with_properties} | {f.numbered} | {f.renamed}"
        if f
        else "- | - | - | -"
    )
    return f"{outcome.result} | {outcome.seconds:.1f} | {counts}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--lenient", action="store_true", help="pass --lenient to codegen")
    parser.add_argument("--only", nargs="*", default=None, help="document names to run")
    parser.add_argument("--shallow", action="store_true", help="skip import, ruff and mypy")
    parser.add_argument("--no-dmcg", action="store_true", help="skip datamodel-code-generator")
    args = parser.parse_args()
    if not args.directory.is_dir():
        parser.error(f"no corpus at {args.directory}; pass its folder or set CODEGEN_CORPUS")
    specs = sorted(p for p in args.directory.iterdir() if p.suffix in SUFFIXES)
    if args.only:
        specs = [p for p in specs if p.name in args.only or p.stem in args.only]
    mode = "lenient" if args.lenient else "strict"
    print(
        f"| document | codegen ({mode}) | s | typed | untyped (had properties) | numbered | "
        "components renamed | dmcg | s | typed | untyped (had properties) | numbered | "
        "components renamed | first error (codegen; dmcg) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    outcomes = []
    for spec in specs:
        outcome = run_one(spec, lenient=args.lenient, deep=not args.shallow)
        outcomes.append(outcome)
        theirs = None if args.no_dmcg else run_dmcg(spec, deep=not args.shallow)
        other = _cells(theirs) if theirs else "- | - | - | - | - | -"
        summary = outcome.summary
        if theirs is not None and theirs.summary:
            summary += f"{'; ' if summary else ''}dmcg: {theirs.summary}"
        summary = summary.replace("|", "\\|")
        examples = outcome.fields.examples if outcome.fields else []
        lost = f" (untyped e.g. {', '.join(examples)})" if examples else ""
        if outcome.fields and outcome.fields.numbered_in_spec:
            lost += f" (numbered by the spec itself: {outcome.fields.numbered_in_spec})"
        print(f"| {spec.stem} | {_cells(outcome)} | {other} | {summary}{lost} |", flush=True)
    failed = [o.document for o in outcomes if not o.passed]
    generated = sum(o.result == "generated" for o in outcomes)
    print(
        f"\ncodegen ({mode}): {generated} generated, "
        f"{sum(o.result == 'rejected' for o in outcomes)} rejected, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
