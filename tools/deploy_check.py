"""``make deploy-check``: build with the real SAM CLI and import every built handler as Lambda would.

The template tests prove what CloudFormation is given; this proves what ``sam build`` makes of the code: that
it builds (BuildMethod python3.12, so python3.12 must be on PATH), that the layer holds aarch64 wheels for the
arm64 functions and no development package, and that each built handler imports with only its own folder,
the built layer and boto3 (which the Lambda runtime provides) on the path. A module that works in the repository
only because the venv has something the layer lacks fails here, not on the first request in production.

Lambda runs arm64; a build host of another architecture cannot load aarch64 extensions, so the import check
runs on a second build of the same template for the host's architecture (same code, same requirements).

The SAM CLI (about 315 MB, its own pinned boto3) is never in the project's requirements: it is taken from
``$SAM``, else ``build/sam-venv`` (``make sam-venv`` makes it), else ``sam`` on PATH. Without it, or without
python3.12, the check is skipped with the reason, exit 0. Exit 1 when anything it checks fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "deploy-check"
SAM_VENV = ROOT / "build" / "sam-venv"
RUNTIME = "python3.12"
ELF_MACHINES = {183: "aarch64", 62: "x86_64"}  # e_machine of an ELF header
HOST_ARCHITECTURE = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
DEV_PACKAGES = ("moto", "pytest", "hypothesis", "samtranslator", "cfnlint", "playwright", "boto3", "botocore",
                "wcwidth", "ruff", "yaml", "werkzeug")
LAYER_LIMIT_BYTES = 250 * 1024 * 1024  # Lambda's unzipped limit for function + layers


class Skip(Exception):
    """What this machine lacks to run the check."""


class CheckFailed(Exception):
    """What the build got wrong."""


def find_sam() -> Path:
    for candidate in (os.environ.get("SAM"), SAM_VENV / "bin" / "sam", shutil.which("sam")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise Skip("no SAM CLI: `make sam-venv` installs it in build/sam-venv (its own venv, never the project's "
               "requirements), or set SAM=/path/to/sam")


def find_runtime_python() -> Path:
    """A python3.12 that runs (a pyenv shim for a version that is not selected does not)."""
    candidates = [shutil.which(RUNTIME), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    for candidate in candidates:
        if candidate and subprocess.run([str(candidate), "--version"], capture_output=True).returncode == 0:
            return Path(candidate)
    raise Skip("sam build needs python3.12 on PATH (the functions' runtime, BuildMethod python3.12); "
               "install it (e.g. `pyenv install 3.12`) and run again")


def template_for(architecture: str, source: str) -> str:
    """template.yaml with every architecture setting set to ``architecture``."""
    changed, count = re.subn(r"(Architectures: \[)arm64(\])", rf"\g<1>{architecture}\2", source)
    changed, more = re.subn(r"(BuildArchitecture: )arm64", rf"\g<1>{architecture}", changed)
    if count < 2 or more != 1:
        raise CheckFailed("template.yaml no longer sets Architectures/CompatibleArchitectures/BuildArchitecture "
                          "to arm64 where this check expects them")
    return changed


def sam_build(sam: Path, runtime: Path, template: Path, build_dir: Path) -> None:
    environment = {**os.environ, "PATH": f"{runtime.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   "SAM_CLI_TELEMETRY": "0"}
    command = [str(sam), "build", "--template-file", str(template), "--base-dir", str(ROOT),
               "--build-dir", str(build_dir), "--no-cached"]
    print(f"$ {' '.join(command)}", flush=True)
    if subprocess.run(command, cwd=ROOT, env=environ_without_venv(environment)).returncode != 0:
        raise CheckFailed(f"sam build failed for {template.name}")


def environ_without_venv(environment: dict[str, str]) -> dict[str, str]:
    """The SAM CLI must not see the project's venv (its pip would install into it)."""
    cleaned = {k: v for k, v in environment.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv_bin = str(ROOT / ".venv" / "bin")
    cleaned["PATH"] = os.pathsep.join(p for p in cleaned.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return cleaned


def elf_machine(path: Path) -> str | None:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return None
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), f"machine {int.from_bytes(header[18:20], 'little')}")


def check_layer(layer: Path, architecture: str) -> None:
    """aarch64 (or x86_64) extensions only, no development package, within Lambda's size limit."""
    python = layer / "python"
    if not (python / "chatbridge" / "__init__.py").is_file():
        raise CheckFailed(f"the built layer {layer} has no python/chatbridge package")
    wanted = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    wrong = [f"{so.relative_to(python)} ({machine})" for so in python.rglob("*.so")
             if (machine := elf_machine(so)) and machine != wanted]
    if wrong:
        raise CheckFailed(f"the {architecture} layer holds extensions for another machine: {', '.join(wrong[:5])}")
    extensions = sum(1 for _ in python.rglob("*.so"))
    present = [name for name in DEV_PACKAGES if (python / name).exists()]
    if present:
        raise CheckFailed(f"the layer holds development packages: {', '.join(present)}")
    size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    if size > LAYER_LIMIT_BYTES:
        raise CheckFailed(f"the layer is {size / 2**20:.0f} MB, over Lambda's 250 MB")
    print(f"ok: {architecture} layer {size / 2**20:.1f} MB, {extensions} {wanted} extensions, no development packages")


def boto3_only(runtime: Path) -> Path:
    """boto3 and botocore (the runtime's own, pinned as requirements-dev.txt pins them) in a folder of their own."""
    pins = [line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
            if line.strip().startswith(("boto3==", "botocore=="))]
    target = WORK / "boto3"
    stamp = target / ".pins"
    if not stamp.is_file() or stamp.read_text() != "\n".join(pins):
        shutil.rmtree(target, ignore_errors=True)
        command = [str(runtime), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                   str(target), *pins]
        if subprocess.run(command, env=environ_without_venv(dict(os.environ))).returncode != 0:
            raise CheckFailed("could not install boto3 for the import check")
        stamp.write_text("\n".join(pins))
    return target


IMPORT = """
import importlib, sys
sys.path[:0] = sys.argv[1:4]
module = importlib.import_module("app")
assert callable(getattr(module, "lambda_handler", None)), "no lambda_handler"
"""


def import_handlers(build_dir: Path, runtime: Path, boto3_dir: Path) -> None:
    """Each built function's app.py imported by python3.12 with -I -S: no site-packages, no PYTHONPATH."""
    layer = build_dir / "ChatbridgeLayer" / "python"
    functions = sorted(p.parent for p in build_dir.glob("*/app.py"))
    if not functions:
        raise CheckFailed(f"sam build made no function with an app.py under {build_dir}")
    failed = []
    environment = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                   "PYDANTIC_DISABLE_PLUGINS": "__all__", "POWERTOOLS_SERVICE_NAME": "deploy-check",
                   "POWERTOOLS_METRICS_NAMESPACE": "chatbridge"}
    for function in functions:
        result = subprocess.run([str(runtime), "-I", "-S", "-c", IMPORT, str(function), str(layer), str(boto3_dir)],
                                capture_output=True, text=True, env=environment, cwd=function)
        if result.returncode != 0:
            failed.append(f"{function.name}: {' '.join(result.stderr.strip().splitlines()[-1:])}")
        else:
            print(f"ok: {function.name} imports with its layer and boto3 only")
    if failed:
        raise CheckFailed("built handlers that do not import:\n  " + "\n  ".join(failed))
    # what the handlers import lazily (media fetches, admin routes, the stream redrive...) must be there too
    result = subprocess.run([str(runtime), "-I", "-S", "-c", LAYER_IMPORT, str(layer), str(boto3_dir)],
                            capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise CheckFailed(f"layer modules that do not import with the layer and boto3 only:\n{result.stdout}{result.stderr}")
    print(f"ok: {result.stdout.strip()}")


LAYER_IMPORT = r"""
import importlib, pkgutil, sys
sys.path[:0] = sys.argv[1:3]
import chatbridge
# the CLI and the local stack run on an operator's machine (wcwidth, yaml, moto): not in Lambda
modules = [m.name for m in pkgutil.walk_packages(chatbridge.__path__, "chatbridge.")
           if not m.name.startswith(("chatbridge.cli", "chatbridge.local"))]
broken = []
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as error:
        broken.append(f"{name}: {type(error).__name__}: {error}")
print(chr(10).join(broken) if broken else f"{len(modules)} layer modules import with the layer and boto3 only")
sys.exit(1 if broken else 0)
"""


def run(keep: bool) -> int:
    try:
        sam, runtime = find_sam(), find_runtime_python()
    except Skip as reason:
        print(f"deploy-check skipped: {reason}")
        return 0
    try:
        source = (ROOT / "template.yaml").read_text()
        if not keep:
            shutil.rmtree(WORK / "arm64", ignore_errors=True)
            shutil.rmtree(WORK / "host", ignore_errors=True)
        WORK.mkdir(parents=True, exist_ok=True)
        sam_build(sam, runtime, ROOT / "template.yaml", WORK / "arm64")
        check_layer(WORK / "arm64" / "ChatbridgeLayer", "arm64")
        host = HOST_ARCHITECTURE.get(os.uname().machine, "x86_64")
        build_dir = WORK / "arm64"
        if host != "arm64":
            host_template = WORK / "template-host.yaml"
            host_template.write_text(template_for(host, source))
            build_dir = WORK / "host"
            sam_build(sam, runtime, host_template, build_dir)
            check_layer(build_dir / "ChatbridgeLayer", host)
        import_handlers(build_dir, runtime, boto3_only(runtime))
    except CheckFailed as failure:
        print(f"deploy-check failed: {failure}", file=sys.stderr)
        return 1
    print("deploy-check passed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep earlier builds under build/deploy-check")
    return run(parser.parse_args(argv).keep)


if __name__ == "__main__":
    sys.exit(main())
