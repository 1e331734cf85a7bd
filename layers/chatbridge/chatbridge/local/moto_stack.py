"""The template's tables and queues inside an active moto mock, with one function's environment set.

What the tests' ``aws_stack`` fixture and the benchmarks both start from: resources made by the local
stack's own template reader and creator, so neither can drift from ``template.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ENDPOINT = "http://127.0.0.1:5000"  # only resolves names in the template; the active mock answers every call


def create_from_template(template_path: Path, *, setenv: Callable[[str, str], None],
                         unsetenv: Callable[[str], None], function: str = "IngestFunction") -> dict[str, Any]:
    """Create every table and queue; set every function's table and queue names, then ``function``'s whole
    environment (as Lambda would). Returns ``{"template", "resources"}``."""
    import boto3

    from chatbridge.local.resources import create_all
    from chatbridge.local.template import load_template
    from chatbridge.repository.caches import forget_all

    first = load_template(template_path, endpoint_url=ENDPOINT)
    created = create_all(first, boto3.client("dynamodb"), boto3.client("sqs"))
    template = load_template(template_path, endpoint_url=ENDPOINT, attributes=created)
    for fn in template.functions.values():
        for name, value in fn.environment.items():
            if name.isupper() and name.endswith(("_TABLE", "_URL")) and not name.startswith("AWS_"):
                setenv(name, value)
    for name, value in template.functions[function].environment.items():
        if name != "AWS_ENDPOINT_URL":
            setenv(name, value)
    unsetenv("AWS_ENDPOINT_URL")
    forget_all()
    return {"template": template, "resources": created}


def load_function(root: Path, function: str) -> Any:
    """``functions/<function>/app.py`` imported once under a unique module name (every handler module is
    called ``app``), as the tests and the benchmarks call the real handlers in-process."""
    import importlib.util
    import sys

    name = f"chatbridge_function_{function}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, root / "functions" / function / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class StreamTail:
    """The records a DynamoDB stream gets from now on (``LATEST``), shaped as Lambda hands them to a function:
    how tests and benchmarks feed the evaluator by hand, since moto runs no event-source mapping."""

    def __init__(self, stream_arn: str, region: str = "us-east-1") -> None:
        import boto3

        self.stream_arn, self.region = stream_arn, region
        self.streams = boto3.client("dynamodbstreams", region_name=region)
        self.iterators: dict[str, str] = {}
        for shard in self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
            self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        """New records since the last read."""
        from chatbridge.local.attributes import lambda_stream_record

        records = []
        for shard, iterator in list(self.iterators.items()):
            answer = self.streams.get_records(ShardIterator=iterator)
            self.iterators[shard] = answer["NextShardIterator"]
            records.extend(lambda_stream_record(record, self.stream_arn, self.region) for record in answer["Records"])
        return records
