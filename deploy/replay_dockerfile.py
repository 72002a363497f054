"""Replay deploy/Dockerfile's build steps on this machine, without a Docker engine.

    .venv/bin/python deploy/replay_dockerfile.py [--keep DIR]

Copies what the Dockerfile COPYs into a scratch directory laid out as the image's /opt/sync/app,
then runs each RUN command there with /bin/sh, with the Dockerfile's ENV values re-rooted in the
scratch directory (VIRTUAL_ENV, PYTHONPATH, DAGSTER_HOME). The user-creation step is skipped: it
needs root inside a container's own /etc/passwd. Finally it loads the code location from the new
virtualenv as a container would. Needs the network to reach the package index; takes minutes.
Not part of `make test` (docs/deploy.md says what it shows and what it cannot).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), re.sub(r"\s+", " ", rest).strip()))
    return found


def _env_pairs(arguments: str) -> list[tuple[str, str]]:
    return [(k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', arguments)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temporary directory)")
    args = parser.parse_args(argv)
    root = (args.keep or Path(tempfile.mkdtemp(prefix="dockerfile-replay-"))).resolve()
    image_root = {
        "/opt/sync": root / "opt-sync",
        "/opt/dagster": root / "opt-dagster",
        "/data": root / "data",
    }

    def rerooted(value: str) -> str:
        for inside, outside in image_root.items():
            value = value.replace(inside, str(outside))
        return value

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root)}
    for variable in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_CONSTRAINT"):
        if variable in os.environ:
            env[variable] = os.environ[variable]
    workdir = root
    for word, arguments in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word == "FROM":
            print(
                f"[replay] base image {arguments}: using this machine's {sys.version.split()[0]}", flush=True
            )
        elif word == "ENV":
            for key, value in _env_pairs(arguments):
                env[key] = rerooted(re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), value))
        elif word == "WORKDIR":
            workdir = Path(rerooted(arguments))
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, target = arguments.split()
            destination = Path(rerooted(target)) if target.startswith("/") else workdir / target
            for source in sources:
                origin = REPO_ROOT / source
                out = (
                    destination
                    if len(sources) == 1 and not target.endswith("/")
                    else destination / origin.name
                )
                out.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, out, dirs_exist_ok=True)
                else:
                    shutil.copy(origin, out)
        elif word == "RUN":
            if "useradd" in arguments:
                print("[replay] skipped (needs root in the image): user creation", flush=True)
                for path in ("/data", "/opt/dagster/home"):
                    Path(rerooted(path)).mkdir(parents=True, exist_ok=True)
                continue
            command = rerooted(arguments)
            print(f"[replay] RUN {command}", flush=True)
            subprocess.run(["/bin/sh", "-ec", command], cwd=workdir, env=env, check=True)
        else:
            print(f"[replay] {word} {arguments}: metadata, nothing to run", flush=True)
    python = Path(env["VIRTUAL_ENV"]) / "bin" / "python"
    check = "from sync_pipeline.definitions import defs; import dagster as dg; dg.Definitions.validate_loadable(defs())"
    subprocess.run([str(python), "-c", check], cwd=workdir, env={**env, "SYNC_BRAND": "acme"}, check=True)
    print(f"[replay] the code location loads from the replayed image layout in {root}", flush=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
