"""Render a kustomization offline: the subset of kustomize that deploy/kubernetes/ uses.

Usage: python scripts/kustomize.py DIR   (prints the YAML stream; `kubectl kustomize DIR` agrees)
Supports resources (files and kustomization directories), namespace, labels (metadata only),
images (newName/newTag/digest) and strategic-merge patches (lists of named items merge by name)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for these manifests."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in base + patch)
    ):
        by_name = {item["name"]: item for item in base}
        merged_list = [merge(by_name[i["name"]], i) if i["name"] in by_name else i for i in patch]
        patched = {item["name"] for item in patch}
        return [item for item in base if item["name"] not in patched] + merged_list
    return copy.deepcopy(patch)


def containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {})
    for path in (("template",), ("jobTemplate", "spec", "template")):
        node = spec
        for key in path:
            node = node.get(key, {})
        pod = node.get("spec", {})
        if pod:
            return [*pod.get("initContainers", []), *pod.get("containers", [])]
    return []


def set_images(docs: list[Doc], images: list[Doc]) -> None:
    for doc in docs:
        for container in containers(doc):
            name = container["image"].split("@")[0].rsplit(":", 1)[0]
            for image in images:
                if image["name"] == name:
                    new = image.get("newName", name)
                    if "digest" in image:
                        container["image"] = f"{new}@{image['digest']}"
                    else:
                        container["image"] = f"{new}:{image.get('newTag', 'latest')}"


def render(directory: Path) -> list[Doc]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for resource in spec.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            docs += render(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for entry in spec.get("labels", []):
        for doc in docs:
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])
    set_images(docs, spec.get("images", []))
    for patch in spec.get("patches", []):
        change = yaml.safe_load((directory / patch["path"]).read_text())
        targets = [
            i
            for i, doc in enumerate(docs)
            if doc["kind"] == change["kind"]
            and doc["metadata"]["name"] == change["metadata"]["name"]
        ]
        if not targets:
            raise SystemExit(f"{patch['path']}: no {change['kind']} {change['metadata']['name']}")
        for i in targets:
            docs[i] = merge(docs[i], change)
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(yaml.safe_dump_all(render(Path(argv[0])), sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
