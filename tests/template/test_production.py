"""What a careful operator needs before running template.yaml in production (issue 16), asserted on the SAM
translator's output, i.e. what CloudFormation is really given: nothing dropped silently, bounded cost under a
flood, visible when it breaks, and no more permission than the code uses."""

from __future__ import annotations

import json
import re

import pytest

from support.paths import ROOT

LAYER = ROOT / "layers/chatbridge/chatbridge"


@pytest.fixture(scope="module")
def resources(transformed):
    return transformed["Resources"]


def of_type(resources, kind):
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def functions(resources):
    return of_type(resources, "AWS::Lambda::Function")


def statements(resources, function):
    role = resources[f"{function}Role"]["Properties"]
    return [statement for policy in role.get("Policies", []) for statement in policy["PolicyDocument"]["Statement"]]


def actions_on(resources, function, target):
    """Every action the function's role allows on resource ``target`` (a logical id, or ``id.attribute``)."""
    name, _, attribute = target.partition(".")
    forms = [f'["{name}", "{attribute}"]', f"${{{name}.{attribute}}}"] if attribute else \
        [f'{{"Ref": "{name}"}}', f'["{name}", "Arn"]', f"${{{name}.Arn}}"]  # SAM's policy templates use Ref
    found = set()
    for statement in statements(resources, function):
        resources_text = json.dumps(statement.get("Resource"))
        if any(form in resources_text for form in forms) and statement["Effect"] == "Allow":
            found |= set([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return found


def mapping(resources, function):
    return next(r["Properties"] for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
                if r["Properties"]["FunctionName"] == {"Ref": function})


def stage(resources):
    [(_, only)] = of_type(resources, "AWS::ApiGateway::Stage").items()
    return only["Properties"]


# -- 1. stream on-failure destination, its alarm, and the redrive it feeds ---------------------------------

def test_1_the_evaluators_stream_trigger_sends_given_up_batches_to_a_queue_in_time_to_redrive_them(resources):
    trigger = mapping(resources, "EvaluatorFunction")
    assert trigger["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}}}
    assert 0 < trigger["MaximumRetryAttempts"] and 0 < trigger["MaximumRecordAgeInSeconds"] <= 12 * 3600  # stream: 24 h
    assert "sqs:SendMessage" in actions_on(resources, "EvaluatorFunction", "StreamFailureQueue")
    # the admin function replays them: reads the failure queue and the chat stream, queues the jobs again
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions_on(resources, "AdminFunction", "StreamFailureQueue")
    assert actions_on(resources, "AdminFunction", "ChatTable.StreamArn") == {
        "dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"}
    variables = functions(resources)["AdminFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["STREAM_FAILURE_QUEUE_URL"] == {"Ref": "StreamFailureQueue"}
    alarm = resources["StreamFailureAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Dimensions"]) == (
        "ApproximateNumberOfMessagesVisible", [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["StreamFailureQueue",
                                                                                               "QueueName"]}}])


# -- 2. throttling, access logs, tracing ------------------------------------------------------------------

def test_2_the_stage_throttles_every_route_and_the_webhook_route_can_be_held_tighter(resources, template):
    settings = stage(resources)["MethodSettings"]
    every = next(s for s in settings if s["ResourcePath"] == "/*")
    assert (every["HttpMethod"], every["ThrottlingRateLimit"], every["ThrottlingBurstLimit"]) == (
        "*", {"Ref": "ApiThrottlingRateLimit"}, {"Ref": "ApiThrottlingBurstLimit"})
    webhook = next(s for s in settings if s["ResourcePath"] == "/~1webhooks~1incoming~1{identifier}")
    assert webhook["HttpMethod"] == "POST" and webhook["MetricsEnabled"] is True
    assert webhook["ThrottlingRateLimit"] == {"Fn::If": ["TightWebhookRate", {"Ref": "WebhookThrottlingRateLimit"},
                                                         {"Ref": "ApiThrottlingRateLimit"}]}
    parameters = template["Parameters"]
    assert int(parameters["ApiThrottlingRateLimit"]["Default"]) > 0 and int(parameters["ApiThrottlingBurstLimit"]["Default"]) > 0
    assert parameters["WebhookThrottlingRateLimit"]["Default"] == 0  # 0 = the stage's limit


def test_2_access_logs_are_json_lines_with_request_id_identity_status_and_latency(resources):
    setting = stage(resources)["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])
    for field, variable in {"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                            "caller": "$context.identity.caller", "userArn": "$context.identity.userArn",
                            "status": "$context.status", "responseLatency": "$context.responseLatency",
                            "httpMethod": "$context.httpMethod", "resourcePath": "$context.resourcePath"}.items():
        assert line[field] == variable
    assert not any("querystring" in value.lower() for value in line.values())  # webhook secrets travel there
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}
    assert resources["ChatbridgeApi"]["DependsOn"] == "ApiGatewayAccount"  # logging needs the account role first


def test_2_tracing_is_a_parameter_for_the_stage_and_every_function(resources, template):
    assert template["Parameters"]["Tracing"]["AllowedValues"] == ["PassThrough", "Active"]
    assert stage(resources)["TracingEnabled"] == {"Fn::If": ["TracingActive", True, False]}
    for name, function in functions(resources).items():
        assert function["Properties"]["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}, name


# -- 3. concurrency bounds --------------------------------------------------------------------------------

def test_3_the_dispatcher_runs_at_most_a_parameters_worth_at_once_and_ingest_can_be_reserved(resources, template):
    assert mapping(resources, "DispatcherFunction")["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "DispatcherMaxConcurrency"}}
    assert template["Parameters"]["DispatcherMaxConcurrency"]["MinValue"] == 2  # SQS's own minimum
    ingest = functions(resources)["IngestFunction"]["Properties"]
    assert ingest["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveIngestConcurrency", {"Ref": "IngestReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["IngestReservedConcurrency"]["Default"] == 0


# -- 4. data survives `sam delete` and replacements ------------------------------------------------------

def test_4_tables_queues_and_the_media_bucket_are_retained(resources):
    kept = {name: r for name, r in resources.items()
            if r["Type"] in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket")}
    assert {"ConfigTable", "ChatTable", "DeliveryTable", "DispatchQueue", "DispatchDLQ", "StreamFailureQueue",
            "MediaBucket"} <= set(kept)
    for name, resource in kept.items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


# -- 5. log groups with retention -------------------------------------------------------------------------

def test_5_every_function_logs_to_its_own_log_group_with_the_retention_parameter(resources):
    groups = of_type(resources, "AWS::Logs::LogGroup")
    used = set()
    for name, function in functions(resources).items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        used.add(group)
    assert len(used) == len(functions(resources)) == 6  # one each
    assert groups["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# -- 6. alarms, notifications, dashboard ------------------------------------------------------------------

ALARMS = {  # what issue 16 asks to watch -> (namespace, metric)
    "DispatchDeadLetterAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    "StreamFailureAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    "StreamIteratorAgeAlarm": ("AWS/Lambda", "IteratorAge"),
    "Ingest5xxRateAlarm": ("AWS/ApiGateway", "5XXError"),
    "Ingest503Alarm": ("chatbridge", "IngestUnavailable"),
    "DispatcherErrorsAlarm": ("AWS/Lambda", "Errors"),
    "FileFetchFailuresAlarm": ("chatbridge", "FileFetchFailures"),
}


def test_6_each_failure_an_operator_must_hear_of_has_an_alarm_that_notifies_the_topic(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert set(ALARMS) <= set(alarms)
    for name, (namespace, metric) in ALARMS.items():
        props = alarms[name]["Properties"]
        watched = [(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
                   for m in props.get("Metrics", []) if "MetricStat" in m] or [(props["Namespace"], props["MetricName"])]
        assert (namespace, metric) in watched, name
        assert props["TreatMissingData"] == "notBreaching", name
        actions = json.dumps(props["AlarmActions"])
        assert '{"Ref": "AlarmTopic"}' in actions and '{"Ref": "AlarmTopicArn"}' in actions, name
    assert alarms["DispatchDeadLetterAlarm"]["Properties"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["DispatchDLQ", "QueueName"]}
    rate = {m["Id"]: m for m in alarms["Ingest5xxRateAlarm"]["Properties"]["Metrics"]}
    for metric in (rate["errors"], rate["requests"]):
        dimensions = {d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}
        assert (dimensions["Resource"], dimensions["Method"]) == ("/webhooks/incoming/{identifier}", "POST")
    assert rate["rate"]["Expression"] == "IF(requests >= 20, errors / requests, 0)"  # no rate of three requests
    assert resources["AlarmEmailSubscription"]["Condition"] == "NotifyEmail"


def test_6_custom_metric_alarms_name_a_metric_the_code_publishes_under_its_service(resources, template):
    published = set(re.findall(r'add_metric\(name="(\w+)"', "\n".join(
        p.read_text() for p in [*LAYER.rglob("*.py"), *(ROOT / "functions").rglob("*.py")])))
    loop = re.search(r'for name, value in \(\((.*?)\):', (LAYER / "ingest/routes.py").read_text(), re.S)
    published |= set(re.findall(r'\("(\w+)", len', loop.group(1)))
    service = template["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == "chatbridge":
            assert props["MetricName"] in published
            assert props["Dimensions"] == [{"Name": "service", "Value": service}]
    body = json.dumps(resources["Dashboard"]["Properties"]["DashboardBody"])
    assert all(f'\\"{metric}\\"' in body for metric in published), published


# -- 7. nothing behind API Gateway works past its 29 s ---------------------------------------------------

def test_7_functions_behind_the_api_stop_within_29_s_and_ingest_answers_before(resources, template):
    api_functions = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
                     and any(e["Type"] == "Api" for e in (r["Properties"].get("Events") or {}).values())}
    assert {"IngestFunction", "AdminFunction", "MediaFunction", "ConsoleFunction"} <= api_functions
    for name in api_functions:
        assert functions(resources)[name]["Properties"]["Timeout"] <= 29, name
    ingest = functions(resources)["IngestFunction"]["Properties"]
    variables = ingest["Environment"]["Variables"]
    assert float(variables["MEDIA_FETCH_BUDGET_SECONDS"]) < float(variables["INGEST_BUDGET_SECONDS"]) < ingest["Timeout"]


# -- 8. narrowed permissions ------------------------------------------------------------------------------

def test_8_admin_never_deletes_scans_or_batch_writes_chats(resources):
    allowed = actions_on(resources, "AdminFunction", "ChatTable")
    assert allowed == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_8_evaluator_and_dispatcher_scan_nothing_and_the_dispatcher_does_not_look_up_queue_urls(resources):
    for function in ("EvaluatorFunction", "DispatcherFunction"):
        every = {action for s in statements(resources, function)
                 for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not {a for a in every if a.endswith(("Scan", "BatchWriteItem", "DeleteItem", "PartiQLSelect"))}, function
        assert "sqs:GetQueueUrl" not in every and "dynamodb:*" not in every, function


def test_8_the_media_function_lists_only_the_media_prefix(resources):
    [listing] = [s for s in statements(resources, "MediaFunction") if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "media/*"}}


# -- 9. one stage, old layers deleted ---------------------------------------------------------------------

def test_9_one_stage_and_old_layer_versions_are_deleted(resources, template):
    assert [r["Properties"]["StageName"] for r in of_type(resources, "AWS::ApiGateway::Stage").values()] == ["Prod"]
    assert template["Globals"]["Api"]["OpenApiVersion"].startswith("3.")
    [layer] = of_type(resources, "AWS::Lambda::LayerVersion").values()
    assert layer["DeletionPolicy"] == "Delete"


# -- 11. arm64 --------------------------------------------------------------------------------------------

def test_11_functions_run_on_arm64_and_the_layer_is_built_for_it(resources, template):
    for name, function in functions(resources).items():
        assert function["Properties"]["Architectures"] == ["arm64"], name
    [layer] = of_type(resources, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert template["Resources"]["ChatbridgeLayer"]["Metadata"]["BuildArchitecture"] == "arm64"


def test_cfn_lint_finds_no_warnings_either_in_the_transformed_template(transformed):
    """Errors are checked in test_template; warnings (unused conditions or parameters, a Sub without a variable,
    deprecated settings) are kept at zero too, so the next one stands out."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(transformed), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []
