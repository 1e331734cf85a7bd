"""The template the tests read, and what CloudFormation is given after the SAM transform: one copy for every
template test file (module-scoped where each file uses them, so the transform runs once per file)."""

from __future__ import annotations

import copy

import pytest
from samtranslator.translator.transform import transform

from chatbridge.local.cfn import load_yaml
from support.paths import ROOT, TEMPLATE


class _PolicyLoader:
    """Managed-policy ARNs by name, offline (the real loader asks IAM)."""

    def load(self):
        return {}


@pytest.fixture(scope="module")
def template():
    return load_yaml(TEMPLATE)


@pytest.fixture(scope="module")
def transformed(template):
    """The template as `sam deploy` hands it to CloudFormation: code uploaded to S3, then transformed."""
    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                assert (ROOT / props[key]).is_dir(), f"{key} {props[key]} is not a folder"
                props[key] = f"s3://artifacts/{props[key].strip('/')}.zip"
    return transform(packaged, {}, _PolicyLoader())
