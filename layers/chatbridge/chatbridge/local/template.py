"""What the local stack needs to know from template.yaml: tables, queues, functions and their triggers.

Everything is read from the SAM template, so adding a table, a queue, a route or an event filter there is
all it takes for ``chatbridge local`` to run it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chatbridge.local.cfn import NO_VALUE, Evaluator, TemplateError, load_yaml

ACCOUNT_ID = "123456789012"
"""moto's default account; ARNs and queue URLs carry it."""

DEFAULT_STACK_NAME = "chatbridge-local"


@dataclass(frozen=True)
class TableDef:
    logical_id: str
    name: str
    properties: dict[str, Any]

    @property
    def stream_view_type(self) -> str | None:
        spec = self.properties.get("StreamSpecification") or {}
        return spec.get("StreamViewType")


@dataclass(frozen=True)
class QueueDef:
    logical_id: str
    name: str
    properties: dict[str, Any]
    dead_letter_logical_id: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class ApiRoute:
    path: str
    method: str  # upper case, or "ANY"
    event_name: str


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB stream event source, as Lambda would poll it."""

    table_logical_id: str
    batch_size: int = 100
    filters: tuple[dict[str, Any], ...] = ()
    report_batch_item_failures: bool = False
    starting_position: str = "LATEST"
    maximum_retry_attempts: int = -1
    bisect_on_error: bool = False
    enabled: bool = True
    on_failure_queue_url: str | None = None  # DestinationConfig.OnFailure, an SQS queue of the template


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source, as Lambda would poll it."""

    queue_logical_id: str
    batch_size: int = 10
    filters: tuple[dict[str, Any], ...] = ()
    report_batch_item_failures: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    timeout: int = 3
    memory_size: int = 128
    routes: tuple[ApiRoute, ...] = ()
    stream_triggers: tuple[StreamTrigger, ...] = ()
    queue_triggers: tuple[QueueTrigger, ...] = ()


@dataclass
class LocalTemplate:
    """The template's resources, resolved to their local names."""

    path: Path
    stack_name: str
    region: str
    tables: dict[str, TableDef] = field(default_factory=dict)
    queues: dict[str, QueueDef] = field(default_factory=dict)
    functions: dict[str, FunctionDef] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # SSM: logical id -> Name/Type/Value
    buckets: dict[str, str] = field(default_factory=dict)  # S3: logical id -> bucket name
    stage_name: str = "Prod"
    binary_media_types: tuple[str, ...] = ()

    @property
    def routes(self) -> list[tuple[ApiRoute, FunctionDef]]:
        return [(route, fn) for fn in self.functions.values() for route in fn.routes]


def merge_globals(global_props: dict[str, Any], local_props: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge, lists add up (globals first), scalars are overridden."""
    merged = dict(global_props)
    for key, value in local_props.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_globals(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = current + value
        else:
            merged[key] = value
    return merged


class _Resolver:
    """Knows what each resource's Ref and attributes are in the local stack."""

    def __init__(self, document: dict[str, Any], *, stack_name: str, region: str, endpoint_url: str,
                 parameters: dict[str, str], attributes: dict[str, dict[str, str]]) -> None:
        self.resources: dict[str, dict[str, Any]] = document["Resources"]
        self.parameters = {name: (parameters[name] if name in parameters else spec.get("Default"))
                           for name, spec in (document.get("Parameters") or {}).items()}
        self.stack_name = stack_name
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/")
        self.attributes = attributes
        self.evaluator = Evaluator(self.lookup, document.get("Conditions"))
        self._names: dict[str, str] = {}

    def lookup(self, logical_id: str, attribute: str | None) -> Any:
        pseudo = {
            "AWS::Region": self.region, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        if logical_id in self.parameters and attribute is None:
            return self.parameters[logical_id]
        known = self.attributes.get(logical_id, {})
        key = attribute or "Ref"
        if key in known:
            return known[key]
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"reference to unknown resource or parameter {logical_id!r}")
        return self._attribute(logical_id, resource.get("Type", ""), attribute)

    def _attribute(self, logical_id: str, kind: str, attribute: str | None) -> Any:
        arn_prefix = f"arn:aws:{{}}:{self.region}:{ACCOUNT_ID}"
        if kind == "AWS::DynamoDB::Table":
            name = self.name(logical_id)
            arn = f"{arn_prefix.format('dynamodb')}:table/{name}"
            return {None: name, "Arn": arn, "StreamArn": f"{arn}/stream/local"}.get(attribute, name)
        if kind == "AWS::SQS::Queue":
            name = self.name(logical_id)
            url = f"{self.endpoint_url}/{ACCOUNT_ID}/{name}"
            return {None: url, "Arn": f"{arn_prefix.format('sqs')}:{name}", "QueueName": name,
                    "QueueUrl": url}.get(attribute, url)
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            name = self.name(logical_id)
            return {None: name, "Arn": f"{arn_prefix.format('lambda')}:function:{name}"}.get(attribute, name)
        if kind == "AWS::SSM::Parameter":
            name = self.name(logical_id)
            return {None: name, "Type": "String", "Value": self.evaluator.evaluate(
                (self.resources[logical_id].get("Properties") or {}).get("Value"))}.get(attribute, name)
        if kind == "AWS::S3::Bucket":
            name = self.name(logical_id)
            return {None: name, "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}.get(
                attribute, name)
        if kind == "AWS::SNS::Topic":
            arn = f"{arn_prefix.format('sns')}:{self.stack_name}-{logical_id}"
            return {None: arn, "TopicArn": arn, "TopicName": f"{self.stack_name}-{logical_id}"}.get(attribute, arn)
        if kind == "AWS::Logs::LogGroup":
            name = f"/aws/lambda/{self.stack_name}-{logical_id}"
            return {None: name, "Arn": f"{arn_prefix.format('logs')}:log-group:{name}:*"}.get(attribute, name)
        # Everything else the local stack does not run (alarms, dashboards, IAM, Cognito...) still resolves, so a
        # template that references it loads: a name derived from the stack, as CloudFormation would make one.
        if attribute is None:
            return f"{self.stack_name}-{logical_id}"
        return f"{self.stack_name}-{logical_id}-{attribute}"

    def name(self, logical_id: str) -> str:
        """The physical name: the template's own name property, else CloudFormation-like stack-logical."""
        if logical_id not in self._names:
            resource = self.resources[logical_id]
            props = resource.get("Properties") or {}
            kind = resource.get("Type", "")
            explicit = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName",
                        "AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
                        "AWS::SSM::Parameter": "Name", "AWS::S3::Bucket": "BucketName"}.get(kind)
            name = self.evaluator.evaluate(props[explicit]) if explicit and explicit in props else None
            if not name or name is NO_VALUE:
                name = f"{self.stack_name}-{logical_id}"
                if kind == "AWS::SSM::Parameter":
                    name = f"/{self.stack_name}/{logical_id}"
                elif kind == "AWS::S3::Bucket":
                    name = name.lower()
                if kind == "AWS::SQS::Queue" and str(self.evaluator.evaluate(props.get("FifoQueue"))).lower() == "true":
                    name += ".fifo"
            self._names[logical_id] = str(name)
        return self._names[logical_id]

    def logical_id_for(self, value: Any) -> str | None:
        """Reverse lookup: which resource does an ARN, URL or name (as evaluated) point at?"""
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type")
            if kind not in ("AWS::DynamoDB::Table", "AWS::SQS::Queue"):
                continue
            candidates = {self.lookup(logical_id, attr) for attr in (None, "Arn")}
            if kind == "AWS::DynamoDB::Table":
                candidates.add(self.lookup(logical_id, "StreamArn"))
            if value in candidates:
                return logical_id
        return None


def load_template(path: Path | str, *, endpoint_url: str, region: str = "us-east-1",
                  stack_name: str = DEFAULT_STACK_NAME, parameters: dict[str, str] | None = None,
                  attributes: dict[str, dict[str, str]] | None = None) -> LocalTemplate:
    """Read a SAM template and resolve it for a local stack whose AWS endpoint is ``endpoint_url``.

    ``attributes`` overrides what a resource's Ref/GetAtt evaluates to once it exists (e.g. the real
    StreamArn moto assigned), so function environments get the values the handlers will really meet.
    """
    path = Path(path).resolve()
    document = load_yaml(path)
    resolver = _Resolver(document, stack_name=stack_name, region=region, endpoint_url=endpoint_url,
                         parameters=parameters or {}, attributes=attributes or {})
    result = LocalTemplate(path=path, stack_name=stack_name, region=region)
    globals_function = (document.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in resolver.resources.items():
        if "Condition" in resource and not resolver.evaluator.condition(resource["Condition"]):
            continue
        kind = resource.get("Type")
        if kind == "AWS::DynamoDB::Table":
            props = resolver.evaluator.evaluate(resource.get("Properties") or {})
            result.tables[logical_id] = TableDef(logical_id, resolver.name(logical_id), props)
        elif kind == "AWS::SQS::Queue":
            result.queues[logical_id] = _queue(logical_id, resource, resolver)
        elif kind == "AWS::SSM::Parameter":
            props = resolver.evaluator.evaluate(resource.get("Properties") or {})
            result.parameters[logical_id] = {"Name": resolver.name(logical_id), "Type": props.get("Type", "String"),
                                             "Value": str(props.get("Value", ""))}
        elif kind == "AWS::S3::Bucket":
            result.buckets[logical_id] = resolver.name(logical_id)
        elif kind == "AWS::Serverless::Api":
            props = resource.get("Properties") or {}
            result.stage_name = str(resolver.evaluator.evaluate(props.get("StageName", "Prod")))
            result.binary_media_types = tuple(resolver.evaluator.evaluate(props.get("BinaryMediaTypes") or []))
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") == "AWS::Serverless::Function" and (
                "Condition" not in resource or resolver.evaluator.condition(resource["Condition"])):
            props = merge_globals(globals_function, resource.get("Properties") or {})
            result.functions[logical_id] = _function(logical_id, props, resolver, path.parent)
    _add_event_source_mappings(result, resolver)
    return result


def _queue(logical_id: str, resource: dict[str, Any], resolver: _Resolver) -> QueueDef:
    props = resolver.evaluator.evaluate(resource.get("Properties") or {})
    redrive = props.get("RedrivePolicy")
    if isinstance(redrive, str):
        redrive = json.loads(redrive)
    dead_letter = max_receive = None
    if redrive:
        dead_letter = resolver.logical_id_for(redrive.get("deadLetterTargetArn"))
        if dead_letter is None:
            raise TemplateError(f"{logical_id}: RedrivePolicy points at a queue not in the template")
        max_receive = int(redrive.get("maxReceiveCount", 1))
    return QueueDef(logical_id, resolver.name(logical_id), props, dead_letter, max_receive)


def _layer_dirs(raw_layers: list[Any], resolver: _Resolver, base: Path) -> tuple[Path, ...]:
    """Layers defined in this template become import paths; public layer ARNs are left to the venv."""
    dirs = []
    for layer in raw_layers:
        if isinstance(layer, dict) and "Ref" in layer:
            resource = resolver.resources.get(layer["Ref"]) or {}
            if resource.get("Type") in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
                props = resource.get("Properties") or {}
                content = resolver.evaluator.evaluate(props.get("ContentUri") or props.get("Content"))
                if isinstance(content, str):
                    layer_dir = (base / content).resolve()
                    dirs.extend(d for d in (layer_dir / "python", layer_dir) if d.is_dir())
    return tuple(dirs)


def _filters(raw: Any) -> tuple[dict[str, Any], ...]:
    patterns = []
    for item in (raw or {}).get("Filters", []):
        pattern = item.get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
    return tuple(patterns)


def _function(logical_id: str, props: dict[str, Any], resolver: _Resolver, base: Path) -> FunctionDef:
    evaluate = resolver.evaluator.evaluate
    code_uri = evaluate(props.get("CodeUri", "."))
    handler = evaluate(props.get("Handler"))
    if not isinstance(code_uri, str) or not handler:
        raise TemplateError(f"{logical_id}: the local stack needs a local CodeUri and a Handler")
    environment = evaluate((props.get("Environment") or {}).get("Variables") or {})
    routes, streams, queues = [], [], []
    for event_name, event in (props.get("Events") or {}).items():
        kind = event.get("Type")
        event_props = evaluate(event.get("Properties") or {})
        if kind == "Api":
            routes.append(ApiRoute(event_props["Path"], str(event_props["Method"]).upper(), event_name))
        elif kind == "DynamoDB":
            streams.append(_stream_trigger(logical_id, event_props, resolver))
        elif kind == "SQS":
            queues.append(_queue_trigger(logical_id, event_props, resolver))
    return FunctionDef(
        logical_id=logical_id, name=resolver.name(logical_id), code_dir=(base / code_uri).resolve(),
        handler=str(handler), environment={k: _env_text(v) for k, v in environment.items()},
        layer_dirs=_layer_dirs(props.get("Layers") or [], resolver, base),
        timeout=int(evaluate(props.get("Timeout", 3))), memory_size=int(evaluate(props.get("MemorySize", 128))),
        routes=tuple(routes), stream_triggers=tuple(streams), queue_triggers=tuple(queues))


def _env_text(value: Any) -> str:
    if value is None:
        return ""  # a parameter without a default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _response_types(props: dict[str, Any]) -> bool:
    return "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])


def _enabled(props: dict[str, Any]) -> bool:
    return str(props.get("Enabled", True)).lower() != "false"


def _stream_trigger(logical_id: str, props: dict[str, Any], resolver: _Resolver) -> StreamTrigger:
    source = props.get("Stream") or props.get("EventSourceArn")
    table = resolver.logical_id_for(source)
    if table is None:
        raise TemplateError(f"{logical_id}: DynamoDB event source {source!r} is not a table of the template")
    return StreamTrigger(
        table_logical_id=table, batch_size=int(props.get("BatchSize", 100)),
        filters=_filters(props.get("FilterCriteria")), report_batch_item_failures=_response_types(props),
        starting_position=str(props.get("StartingPosition", "LATEST")),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        bisect_on_error=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
        enabled=_enabled(props), on_failure_queue_url=_on_failure_queue(logical_id, props, resolver))


def _on_failure_queue(logical_id: str, props: dict[str, Any], resolver: _Resolver) -> str | None:
    """Where Lambda sends a stream batch it gave up on: the URL of the template's queue named as on-failure
    destination. An SNS destination has no local stand-in: the poller then only logs, as without one."""
    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if not destination:
        return None
    queue = resolver.logical_id_for(destination)
    if queue is None or resolver.resources[queue].get("Type") != "AWS::SQS::Queue":
        if str(destination).startswith("arn:aws:sns:"):
            return None
        raise TemplateError(f"{logical_id}: on-failure destination {destination!r} is not a queue of the template")
    return str(resolver.lookup(queue, "QueueUrl"))


def _queue_trigger(logical_id: str, props: dict[str, Any], resolver: _Resolver) -> QueueTrigger:
    source = props.get("Queue") or props.get("EventSourceArn")
    queue = resolver.logical_id_for(source)
    if queue is None:
        raise TemplateError(f"{logical_id}: SQS event source {source!r} is not a queue of the template")
    return QueueTrigger(
        queue_logical_id=queue, batch_size=int(props.get("BatchSize", 10)),
        filters=_filters(props.get("FilterCriteria")), report_batch_item_failures=_response_types(props),
        enabled=_enabled(props))


def _add_event_source_mappings(result: LocalTemplate, resolver: _Resolver) -> None:
    """Plain AWS::Lambda::EventSourceMapping resources count as triggers too."""
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        raw = resource.get("Properties") or {}
        target = raw.get("FunctionName")
        function_id = target.get("Ref") if isinstance(target, dict) else None
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            function_id = target["Fn::GetAtt"][0]
        fn = result.functions.get(function_id or "")
        if fn is None:
            continue
        props = resolver.evaluator.evaluate(raw)
        source_id = resolver.logical_id_for(props.get("EventSourceArn"))
        if source_id in result.tables:
            fn = replace(fn, stream_triggers=fn.stream_triggers + (_stream_trigger(logical_id, props, resolver),))
        elif source_id in result.queues:
            fn = replace(fn, queue_triggers=fn.queue_triggers + (_queue_trigger(logical_id, props, resolver),))
        result.functions[fn.logical_id] = fn

