"""template.yaml is valid SAM: aws-sam-translator transforms it, then cfn-lint checks the CloudFormation.

cfn-lint >= 1.54 no longer runs the SAM transform itself, so both steps are needed to catch SAM errors.
"""

import json

from support.paths import ROOT


def test_sam_translator_transforms_the_template(transformed):
    kinds = {resource["Type"] for resource in transformed["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::DynamoDB::Table",
            "AWS::Lambda::LayerVersion"} <= kinds


def test_cfn_lint_finds_no_errors_in_the_transformed_template(transformed, tmp_path):
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(transformed), config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches
              if m.rule.id.startswith("E")]
    assert errors == []


def test_chat_table_streams_both_images_and_every_table_is_on_demand_with_pitr(template):
    tables = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert {"ConfigTable", "ChatTable"} <= set(tables)
    assert tables["ChatTable"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    for props in tables.values():
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_webhook_routes_are_public_and_admin_routes_need_iam(transformed):
    paths = next(r for r in transformed["Resources"].values()
                 if r["Type"] == "AWS::ApiGateway::RestApi")["Properties"]["Body"]["paths"]
    assert set(paths["/webhooks/incoming/{identifier}"]) == {"post", "get"}
    for method in paths["/webhooks/incoming/{identifier}"].values():
        assert "security" not in method or method["security"] in ([], [{"NONE": []}])
    admin = [(p, m, op) for p, ops in paths.items() if p.startswith("/admin") for m, op in ops.items()]
    assert len(admin) >= 11
    for path, method, operation in admin:
        assert operation.get("security") == [{"AWS_IAM": []}], (path, method)


def test_every_admin_route_the_handler_serves_is_in_the_template(template):
    import re

    events = template["Resources"]["AdminFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    served = set()
    for source in sorted((ROOT / "layers/chatbridge/chatbridge/admin").glob("*_routes.py")):
        for method, path in re.findall(r'@router\.(get|put|post|delete)\("([^"]+)"\)', source.read_text()):
            # `<x>` is one path segment; secret_routes' `.+` is the greedy {name+} (SSM names hold slashes)
            served.add((method.upper(), re.sub(r"<(\w+)>", r"{\1}", path).replace("/.+", "/{name+}")))
    assert served == routes


def test_functions_share_the_layer_and_powertools_settings(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL", "CONFIG_TABLE",
            "CHAT_TABLE"} <= set(variables)
    layer = template["Resources"]["ChatbridgeLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert (ROOT / layer["Properties"]["ContentUri"] / "chatbridge" / "__init__.py").exists()
    for name in ("IngestFunction", "AdminFunction"):
        code = template["Resources"][name]["Properties"]["CodeUri"]
        assert (ROOT / code / "app.py").exists()


def test_admin_function_may_write_list_and_delete_secrets_only_under_chatbridge(template):
    statements = [statement for policy in template["Resources"]["AdminFunction"]["Properties"]["Policies"]
                  if isinstance(policy, dict) and "Statement" in policy for statement in policy["Statement"]]
    ssm = [s for s in statements if any(str(a).startswith("ssm:") for a in s["Action"])]
    assert [sorted(s["Action"]) for s in ssm] == [["ssm:DeleteParameter", "ssm:GetParametersByPath",
                                                   "ssm:PutParameter"]]
    resources = [r["Fn::Sub"] for r in ssm[0]["Resource"]]
    assert {r.split(":parameter/", 1)[1] for r in resources} == {"chatbridge", "chatbridge/*"}
