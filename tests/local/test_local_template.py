"""The local stack reads everything it runs from the SAM template: these prove what it reads."""


import pytest

from chatbridge.local.cfn import Evaluator, TemplateError
from chatbridge.local.template import load_template, merge_globals
from support.paths import FIXTURES

FIXTURE = FIXTURES / "local_stack" / "template.yaml"
ENDPOINT = "http://127.0.0.1:5999"


@pytest.fixture(scope="module")
def template():
    return load_template(FIXTURE, endpoint_url=ENDPOINT)


def test_tables_keep_keys_indexes_ttl_and_stream(template):
    table = template.tables["ItemsTable"]
    assert table.name == "chatbridge-local-items"  # !Sub "${AWS::StackName}-items"
    assert table.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert table.properties["GlobalSecondaryIndexes"][0]["IndexName"] == "by-kind"
    assert table.properties["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert table.properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is False


def test_queue_redrive_policy_points_at_the_dead_letter_queue(template):
    queue = template.queues["JobsQueue"]
    assert queue.dead_letter_logical_id == "JobsDeadLetterQueue"
    assert queue.max_receive_count == 2
    assert template.queues["JobsDeadLetterQueue"].dead_letter_logical_id is None


def test_function_environment_resolves_refs_to_local_names_and_urls(template):
    stream_fn = template.functions["StreamFunction"]
    assert stream_fn.environment["ITEMS_TABLE"] == "chatbridge-local-items"
    assert stream_fn.environment["QUEUE_URL"] == f"{ENDPOINT}/123456789012/chatbridge-local-JobsQueue"
    assert stream_fn.environment["POWERTOOLS_SERVICE_NAME"] == "fixture"  # from Globals
    assert stream_fn.environment["STAGE"] == "test"  # parameter default


def test_globals_scalars_are_overridden_and_layers_become_import_paths(template):
    assert template.functions["ApiFunction"].timeout == 10
    assert template.functions["QueueFunction"].timeout == 5
    layer_dirs = template.functions["ApiFunction"].layer_dirs
    assert FIXTURE.parent / "layer" / "python" in layer_dirs


def test_api_events_become_routes(template):
    routes = {(route.method, route.path) for route, fn in template.routes}
    assert routes == {("POST", "/things/{id}"), ("GET", "/things/{id}"), ("ANY", "/files/{proxy+}"),
                      ("GET", "/slow")}


def test_stream_trigger_keeps_batch_size_filters_and_partial_failures(template):
    (trigger,) = template.functions["StreamFunction"].stream_triggers
    assert trigger.table_logical_id == "ItemsTable"
    assert trigger.batch_size == 10
    assert trigger.report_batch_item_failures
    assert trigger.maximum_retry_attempts == 3
    assert trigger.bisect_on_error
    assert trigger.filters == ({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["thing"]}}}},)


def test_queue_trigger_keeps_batch_size(template):
    (trigger,) = template.functions["QueueFunction"].queue_triggers
    assert trigger.queue_logical_id == "JobsQueue"
    assert trigger.batch_size == 5
    assert trigger.report_batch_item_failures


def test_real_attributes_override_the_guessed_ones():
    real_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/chatbridge-local-items/stream/2026-01-01T00:00:00"
    template = load_template(FIXTURE, endpoint_url=ENDPOINT, attributes={"ItemsTable": {"StreamArn": real_arn}})
    assert template.functions["StreamFunction"].stream_triggers[0].table_logical_id == "ItemsTable"


def test_parameters_and_conditions_can_be_overridden():
    template = load_template(FIXTURE, endpoint_url=ENDPOINT, parameters={"Stage": "prod"})
    assert template.functions["ApiFunction"].environment["STAGE"] == "prod"
    assert template.tables["ItemsTable"].properties["PointInTimeRecoverySpecification"][
        "PointInTimeRecoveryEnabled"] is True


def test_globals_merge_maps_add_lists_and_override_scalars():
    merged = merge_globals({"Timeout": 3, "Layers": ["a"], "Environment": {"Variables": {"A": "1", "B": "1"}}},
                           {"Timeout": 9, "Layers": ["b"], "Environment": {"Variables": {"B": "2"}}})
    assert merged == {"Timeout": 9, "Layers": ["a", "b"], "Environment": {"Variables": {"A": "1", "B": "2"}}}


def test_sub_join_select_split_evaluate_like_cloudformation():
    values = {("Table", None): "t", ("Table", "Arn"): "arn:t", ("AWS::Region", None): "eu-west-1"}
    evaluator = Evaluator(lambda name, attr: values[(name, attr)])
    assert evaluator.evaluate({"Fn::Sub": "${Table}/${Table.Arn}@${AWS::Region}${!Literal}"}) == \
        "t/arn:t@eu-west-1${Literal}"
    assert evaluator.evaluate({"Fn::Sub": ["${X}-${Table}", {"X": "x"}]}) == "x-t"
    assert evaluator.evaluate({"Fn::Join": ["-", ["a", {"Ref": "Table"}]]}) == "a-t"
    assert evaluator.evaluate({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert evaluator.evaluate({"K": {"Ref": "AWS::NoValue"}, "L": [1, {"Ref": "AWS::NoValue"}]}) == {"L": [1]}


def test_unknown_reference_is_a_clear_template_error(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                    "      CodeUri: .\n      Handler: app.handler\n"
                    "      Environment: {Variables: {X: !Ref Missing}}\n")
    with pytest.raises(TemplateError, match="Missing"):
        load_template(path, endpoint_url=ENDPOINT)


def test_a_file_without_resources_is_rejected(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("just: text\n")
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(path, endpoint_url=ENDPOINT)


def test_ssm_parameters_and_buckets_are_read_with_their_local_names(template):
    assert template.parameters["SettingsParameter"] == {
        "Name": "/chatbridge-local/settings", "Type": "String", "Value": '{"greeting": "hi"}'}
    assert template.buckets["UploadsBucket"] == "chatbridge-local-uploadsbucket"
    environment = template.functions["ApiFunction"].environment
    assert environment["SETTINGS_PARAMETER"] == "/chatbridge-local/settings"
    assert environment["UPLOADS_BUCKET"] == "chatbridge-local-uploadsbucket"
    assert environment["ITEMS_TABLE"] == "chatbridge-local-items"  # Globals variables merge with the function's


def test_the_real_template_loads_with_what_the_local_stack_does_not_run():
    """template.yaml declares log groups, alarms, an SNS topic, a dashboard, IAM and API Gateway account
    settings: the local stack skips them, yet every Ref and GetAtt to them resolves, and the evaluator's
    on-failure destination becomes the URL of the local failure queue."""
    from support.paths import TEMPLATE

    template = load_template(TEMPLATE, endpoint_url=ENDPOINT)
    from chatbridge.local.cfn import load_yaml

    kinds = {resource["Type"] for resource in load_yaml(TEMPLATE)["Resources"].values()}
    assert {"AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm", "AWS::SNS::Topic", "AWS::CloudWatch::Dashboard",
            "AWS::ApiGateway::Account"} <= kinds
    (trigger,) = template.functions["EvaluatorFunction"].stream_triggers
    failure_queue = f"{ENDPOINT}/123456789012/chatbridge-local-StreamFailureQueue"
    assert trigger.on_failure_queue_url == failure_queue
    assert "StreamFailureQueue" in template.queues
    assert template.functions["AdminFunction"].environment["STREAM_FAILURE_QUEUE_URL"] == failure_queue
    assert template.functions["IngestFunction"].timeout <= 29


def test_an_on_failure_destination_outside_the_template_is_a_clear_template_error(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Items:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
                    "      StreamSpecification: {StreamViewType: NEW_IMAGE}\n"
                    "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                    "      CodeUri: .\n      Handler: app.handler\n      Events:\n        S:\n          Type: DynamoDB\n"
                    "          Properties:\n            Stream: !GetAtt Items.StreamArn\n"
                    "            DestinationConfig: {OnFailure: {Type: SQS, Destination: arn:aws:sqs:x:1:elsewhere}}\n")
    with pytest.raises(TemplateError, match="on-failure destination"):
        load_template(path, endpoint_url=ENDPOINT)
