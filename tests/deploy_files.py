"""Reads deploy/: the Kubernetes manifests kustomization.yaml lists, and the Dockerfile's instructions by stage."""

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every object of every file kustomization.yaml lists, with its file's name."""
    found = []
    for name in kustomization()["resources"]:
        for document in yaml.safe_load_all((K8S / name).read_text()):
            if document is not None:
                found.append((name, document))
    return found


def objects(kind: str) -> list[dict[str, Any]]:
    return [obj for _, obj in manifests() if obj["kind"] == kind]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return deployment["spec"]["template"]["spec"]["containers"]


def option(args: list[str], name: str) -> str | None:
    """The value of `--name VALUE` in a container's args (None: not given)."""
    return args[args.index(name) + 1] if name in args else None


@dataclass
class Stage:
    """One FROM ... of the Dockerfile and its instructions, as (INSTRUCTION, arguments text)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [text for name, text in self.instructions if name == instruction]


def dockerfile_stages() -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults, and the stages in order (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            stages.append(Stage(base, words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        elif instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif stages:
            stages[-1].instructions.append((instruction, rest))
    return args, stages


def exec_form(text: str) -> list[str]:
    """ENTRYPOINT/CMD in exec form (a JSON array)."""
    value = json.loads(text)
    assert isinstance(value, list), f"{text} is not in exec form"
    return value


def copy_sources(text: str) -> tuple[list[str], str, dict[str, str]]:
    """COPY [--flag=value ...] SRC... DEST: the sources, the destination and the flags."""
    words = shlex.split(text)
    flags = dict(word[2:].split("=", 1) for word in words if word.startswith("--"))
    paths = [word for word in words if not word.startswith("--")]
    return paths[:-1], paths[-1], flags


def env_names(text: str) -> list[str]:
    """ENV NAME=value ... (the key=value form)."""
    return [word.split("=", 1)[0] for word in shlex.split(text)]
