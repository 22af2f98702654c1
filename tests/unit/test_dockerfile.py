"""deploy/Dockerfile without Docker: what it copies exists and gets past its ignore file, it installs every package of
pyproject.toml, runs `streamkeep` as a non-root user, and is the image, user, ports and folders deploy/k8s expects."""

import fnmatch
import re

from tests.deploy_files import (
    DOCKERIGNORE,
    PYPROJECT,
    ROOT,
    containers,
    copy_sources,
    dockerfile_stages,
    env_names,
    exec_form,
    kustomization,
    objects,
)

# Python's own settings, and PATH: not ours to read.
INTERPRETER_SETTINGS = {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR"}
INTERPRETER_SETTINGS |= {"PIP_DISABLE_PIP_VERSION_CHECK"}


def test_it_builds_in_stages_from_python_311_slim() -> None:
    args, stages = dockerfile_stages()

    assert len(stages) >= 2 and stages[0].name == "build"
    assert {stage.base for stage in stages} == {"python:3.11-slim"}
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"


def test_every_path_it_copies_exists_and_is_not_left_out_of_the_build_context() -> None:
    admitted = _admitted_by_ignore_file()
    copied = []
    for stage in dockerfile_stages()[1]:
        for text in stage.all("COPY"):
            sources, _, flags = copy_sources(text)
            if "from" in flags:
                continue  # from another stage, not from the context
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
                assert admitted(source), f"COPY {source}: deploy/Dockerfile.dockerignore leaves it out"
                copied.append(source)

    packages = {pattern.rstrip("*") for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(copied), "every package pyproject.toml installs is copied before `pip install .`"
    assert {"pyproject.toml", "README.md", "schemas"} <= set(copied)
    assert not admitted(".venv") and not admitted("tests") and not admitted(".git")


def test_it_installs_the_project_from_pyproject_and_runs_its_console_script_as_a_non_root_user() -> None:
    build, runtime = dockerfile_stages()[1][0], dockerfile_stages()[1][-1]

    assert any("pip install --no-deps ." in run for run in build.all("RUN"))
    assert any("pyproject.toml" in run and "dependencies" in run for run in build.all("RUN"))
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert exec_form(entrypoint) == ["streamkeep"]
    assert PYPROJECT["project"]["scripts"]["streamkeep"] == "infra.cli.main:main"
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    for deployment in objects("Deployment"):
        pod = deployment["spec"]["template"]["spec"]["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid))


def test_the_image_named_by_the_manifests_is_this_one_at_pyproject_version() -> None:
    version = PYPROJECT["project"]["version"]
    (image,) = kustomization()["images"]

    assert (image["name"], image["newTag"]) == ("streamkeep", version)
    assert {c["image"] for d in objects("Deployment") for c in containers(d)} == {"streamkeep"}
    build_line = f"docker build -f deploy/Dockerfile -t streamkeep:{version} ."
    assert build_line in (ROOT / "deploy" / "Dockerfile").read_text()
    assert build_line in (ROOT / "README.md").read_text()


def test_its_folders_ports_and_settings_are_what_the_manifests_and_the_app_expect() -> None:
    runtime = dockerfile_stages()[1][-1]
    (workdir,) = runtime.all("WORKDIR")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(runtime.all("ENV"))))
    schemas_copied_to = [copy_sources(t)[1] for t in runtime.all("COPY") if copy_sources(t)[0] == ["schemas"]]

    assert env["STREAMKEEP_SCHEMAS_DIR"] in schemas_copied_to
    unknown = {n for t in runtime.all("ENV") for n in env_names(t)} - INTERPRETER_SETTINGS
    assert unknown == {"STREAMKEEP_SCHEMAS_DIR"}
    assert '"STREAMKEEP_SCHEMAS_DIR"' in (ROOT / "infra" / "settings.py").read_text()
    exposed = {int(port) for text in runtime.all("EXPOSE") for port in text.split()}
    for deployment in objects("Deployment"):
        for container in containers(deployment):
            assert {p["containerPort"] for p in container["ports"]} <= exposed
            assert workdir in {m["mountPath"] for m in container["volumeMounts"]}, "the working folder is writable"


def _admitted_by_ignore_file():  # type: ignore[no-untyped-def]
    """Whether a top-level path reaches the build context: the ignore file's last matching line decides."""
    rules = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and line[0] != "#"]

    def admitted(path: str) -> bool:
        verdict = True
        for rule in rules:
            negated, pattern = rule.startswith("!"), rule.lstrip("!")
            if fnmatch.fnmatch(path, pattern):
                verdict = negated
        return verdict

    return admitted
