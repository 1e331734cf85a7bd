"""template.yaml keeps media private: an encrypted bucket without public access, TLS only; ingest may only
write files, the media function only read them, and the link route is the one public read path."""

import copy

from samtranslator.translator.transform import transform

from chatbridge.local.cfn import load_yaml
from support.paths import ROOT

TEMPLATE = load_yaml(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]


def statements(function):
    return [s for policy in RESOURCES[function]["Properties"]["Policies"] if "Statement" in policy
            for s in policy["Statement"]]


def s3_actions(function):
    return sorted(action for s in statements(function) for action in ([s["Action"]] if isinstance(s["Action"], str)
                                                                         else s["Action"]) if action.startswith("s3:"))


def test_media_bucket_is_encrypted_private_and_tls_only():
    props = RESOURCES["MediaBucket"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == \
        {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    [deny] = RESOURCES["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_ingest_only_writes_media_and_the_media_function_only_reads_it():
    assert s3_actions("IngestFunction") == ["s3:PutObject"]
    assert s3_actions("MediaFunction") == ["s3:GetObject", "s3:ListBucket"]
    for function in ("IngestFunction", "MediaFunction"):
        assert RESOURCES[function]["Properties"]["Environment"]["Variables"]["MEDIA_BUCKET"] == {"Ref": "MediaBucket"}
    assert RESOURCES["IngestFunction"]["Properties"]["Environment"]["Variables"]["CHATBRIDGE_OUTBOUND_ALLOW"] == \
        {"Ref": "OutboundAllowList"}


def test_the_media_link_route_is_public_and_read_only():
    packaged = copy.deepcopy(TEMPLATE)
    for resource in packaged["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://artifacts/{props[key].strip('/')}.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    paths = next(r for r in transform(packaged, {}, NoManagedPolicies())["Resources"].values()
                 if r["Type"] == "AWS::ApiGateway::RestApi")["Properties"]["Body"]["paths"]
    assert set(paths["/media/{spec_id}/{name}"]) == {"get"}
    assert paths["/media/{spec_id}/{name}"]["get"].get("security") in (None, [], [{"NONE": []}])
