"""A small kustomize renderer for the tests: CI has no kustomize binary (Debian's kubectl is too old for these
kustomizations), so the overlays use only what this implements, the same way kustomize does it:
``resources`` (files and directories with their own kustomization), ``patches`` (strategic merge by kind and
name: maps merge, lists of named items merge by name, other lists are replaced, ``null`` deletes a key),
``labels`` (metadata only), ``images`` (new name and tag) and ``namespace``. Anything else in a
kustomization.yaml fails the render, so an overlay cannot silently use more than the tests check.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
SUPPORTED = {"apiVersion", "kind", "resources", "patches", "labels", "images", "namespace"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}


def _docs(path: Path) -> list[Resource]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge of ``patch`` into ``base`` (a new value; neither argument changes)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    named = (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in [*base, *patch])
    )
    if named:
        merged_list = [copy.deepcopy(i) for i in base]
        for item in patch:
            index = next((n for n, old in enumerate(merged_list) if old["name"] == item["name"]), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _containers(resource: Resource) -> list[dict[str, Any]]:
    spec = resource.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    if resource["kind"] == "CronJob":
        pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("containers", []), *pod.get("initContainers", [])]


def build(directory: Path) -> list[Resource]:
    """Every resource the kustomization in ``directory`` renders."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED
    assert not unsupported, f"{directory}: this renderer does not implement {sorted(unsupported)}"
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources += build(path) if path.is_dir() else _docs(path)
    for patch_entry in kustomization.get("patches", []):
        assert set(patch_entry) == {"path"}, "only patches by file are implemented"
        for patch in _docs(directory / patch_entry["path"]):
            key = (patch["kind"], patch["metadata"]["name"])
            matches = [i for i, r in enumerate(resources) if (r["kind"], r["metadata"]["name"]) == key]
            assert len(matches) == 1, f"patch {key} matches {len(matches)} resources"
            resources[matches[0]] = merge(resources[matches[0]], patch)
    for label in kustomization.get("labels", []):
        assert set(label) == {"pairs"}, "labels: only metadata labels are implemented"
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in kustomization.get("images", []):
        for resource in resources:
            for container in _containers(resource):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources
