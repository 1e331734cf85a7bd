"""``make deploy-check`` (tools/deploy_check.py): skips with its reason where the SAM CLI is missing, and the
checks it runs on a build refuse what a deploy must not ship."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from support.paths import ROOT


@pytest.fixture(scope="module")
def deploy_check():
    spec = importlib.util.spec_from_file_location("deploy_check", ROOT / "tools" / "deploy_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_check"] = module
    spec.loader.exec_module(module)
    return module


def test_without_a_sam_cli_the_check_is_skipped_saying_how_to_get_one(deploy_check, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SAM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(deploy_check, "SAM_VENV", tmp_path / "no-venv")
    assert deploy_check.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deploy-check skipped: no SAM CLI") and "make sam-venv" in out


def test_the_host_build_changes_every_architecture_setting_and_nothing_else(deploy_check):
    source = (ROOT / "template.yaml").read_text()
    host = deploy_check.template_for("x86_64", source)
    assert "arm64" not in host.replace("arm64 (Graviton)", "")
    assert host.count("x86_64") == source.count("arm64") - source.count("arm64 (Graviton)")
    with pytest.raises(deploy_check.CheckFailed, match="no longer sets"):
        deploy_check.template_for("x86_64", source.replace("BuildArchitecture: arm64", ""))


def test_a_layer_with_development_packages_or_the_wrong_machine_fails(deploy_check, tmp_path):
    layer = tmp_path / "Layer"
    (layer / "python" / "chatbridge").mkdir(parents=True)
    (layer / "python" / "chatbridge" / "__init__.py").write_text("")
    native = next((ROOT / ".venv").rglob("_pydantic_core*.so"))  # this machine's build of pydantic-core
    (layer / "python" / native.name).write_bytes(native.read_bytes())
    machine = deploy_check.elf_machine(layer / "python" / native.name)
    other = "arm64" if machine == "x86_64" else "x86_64"
    with pytest.raises(deploy_check.CheckFailed, match="extensions for another machine"):
        deploy_check.check_layer(layer, other)
    deploy_check.check_layer(layer, "x86_64" if machine == "x86_64" else "arm64")
    (layer / "python" / "moto").mkdir()
    with pytest.raises(deploy_check.CheckFailed, match="development packages: moto"):
        deploy_check.check_layer(layer, "x86_64" if machine == "x86_64" else "arm64")
