"""The whole system on this machine: moto for AWS, worker processes for Lambda, an HTTP server for API
Gateway and pollers for the event source mappings, all read from template.yaml.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from chatbridge.local import moto_changes, moto_dynamodb, moto_instances, moto_server
from chatbridge.local.apigateway import Router
from chatbridge.local.http import ECHO_PATH, LocalApiServer
from chatbridge.local.moto_streams import BackendStreams
from chatbridge.local.pollers import Poller, QueuePoller, StreamPoller
from chatbridge.local.resources import create_all
from chatbridge.local.restore import restore, trim_stream
from chatbridge.local.runtime import FunctionError, FunctionRuntime
from chatbridge.local.state import STATE_FILE, load_state
from chatbridge.local.store import DurableStore, StoreError
from chatbridge.local.template import DEFAULT_STACK_NAME, LocalTemplate, load_template

log = logging.getLogger("chatbridge.local")

OUTBOUND_ALLOW_ENV = "CHATBRIDGE_OUTBOUND_ALLOW"

# What every handler process sees: moto instead of AWS, no credentials that could reach a real account.
_AWS_LOCAL_ENVIRONMENT = {
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


def default_workers() -> int:
    """Workers per function: one per CPU, at least two (so one slow invocation does not stall the rest).

    More did not help: the handlers' DynamoDB work all runs in the stack's one moto process, and each worker
    keeps its own warm memory of the chats it wrote, as each Lambda instance does, so with more workers a
    webhook more often lands on one whose memory of its chat is stale (another worker wrote it since) and
    costs a second transaction. On 2 CPUs, 4 ingest workers spent 1.7 transactions per webhook, 2 spent 1.5."""
    return max(2, os.cpu_count() or 1)


@dataclass
class StackOptions:
    template_path: Path
    host: str = "127.0.0.1"
    port: int = 3000
    region: str = "us-east-1"
    stack_name: str = DEFAULT_STACK_NAME
    json_logs: bool = False
    data_dir: Path | None = None
    max_workers: int = field(default_factory=default_workers)
    extra_environment: dict[str, str] = field(default_factory=dict)


class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (also on a context exit)."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.template: LocalTemplate | None = None
        self.resources: dict[str, dict[str, str]] = {}
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.pollers: list[Poller] = []
        self.api: LocalApiServer | None = None
        self._moto: Any = None
        self._undo_moto_patches: list[Callable[[], None]] = []
        self.store: DurableStore | None = None
        self._resume_streams: set[str] = set()  # tables whose stream kept records an earlier run had not finished
        self._serve_thread: threading.Thread | None = None
        self._parameters_found: set[str] = set()  # SSM parameters moto already held: not ours to delete
        self.endpoint_url = ""  # moto, where an answer to a write means it is on disk
        self.functions_endpoint_url = ""  # moto for the functions: their writes are made durable per invocation

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.api is not None, "start() first"
        return self.api.url

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.options.region,
                            aws_access_key_id="local", aws_secret_access_key="local",
                            config=Config(retries={"max_attempts": 2, "mode": "standard"}))

    def start(self) -> None:
        os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
        self._start_moto()
        self._parameters_found = {parameter["Name"] for page in self.client("ssm").get_paginator(
            "get_parameters_by_path").paginate(Path="/", Recursive=True) for parameter in page["Parameters"]}
        first = load_template(self.options.template_path, endpoint_url=self.endpoint_url, region=self.options.region,
                              stack_name=self.options.stack_name)
        self.resources = create_all(first, self.client("dynamodb"), self.client("sqs"), self.client("ssm"),
                                    self.client("s3"))
        # Re-resolve with what moto really assigned (stream ARNs), so handler environments are exact.
        self.template = load_template(self.options.template_path, endpoint_url=self.endpoint_url,
                                      region=self.options.region, stack_name=self.options.stack_name,
                                      attributes=self.resources)
        log.info("created %d tables, %d queues, %d parameters and %d buckets from %s", len(self.template.tables),
                 len(self.template.queues), len(self.template.parameters), len(self.template.buckets),
                 self.template.path)
        if self.options.data_dir:
            self._open_store(self.options.data_dir)
        self.api = LocalApiServer((self.options.host, self.options.port), router=Router(self.template.routes),
                                  invoke=self.invoke, stage=self.template.stage_name,
                                  binary_media_types=self.template.binary_media_types,
                                  sensitive_names=self._verification_names)
        self._serve_thread = threading.Thread(target=self.api.serve_forever, name="local-api", daemon=True)
        self._serve_thread.start()
        self._start_functions()
        self._start_pollers()
        self.api.ready.set()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Run one invocation; it ends (an API answer, a poller's checkpoint) only once every write made so far
        is on disk. The function's own DynamoDB requests did not wait for that (``MotoServer``'s functions
        port): one wait here, shared by whatever else was committed meanwhile, instead of one per write.
        Raises ``StoreError`` if the data folder could not be written: nothing of it may be acknowledged."""
        result = self.runtimes[logical_id].invoke(event)
        if self.store is not None:
            self.store.flush()
        return result

    def _invoke_for_poller(self, logical_id: str) -> Callable[[dict[str, Any]], Any]:
        """``invoke`` for an event source mapping: a store that cannot write fails the batch like a function
        error, so its records are retried and not checkpointed."""
        def invoke(event: dict[str, Any]) -> Any:
            try:
                return self.invoke(logical_id, event)
            except StoreError as exc:
                raise FunctionError(logical_id, "Runtime.StoreFailed", str(exc)) from exc

        return invoke

    def _open_store(self, directory: Path) -> None:
        """Load what the data folder holds into moto, then write every change through to it."""
        assert self.template is not None
        self.store = DurableStore(directory)
        counts, self._resume_streams = restore(self.store, self.template, self.resources,
                                               {"ssm": self.client("ssm"), "s3": self.client("s3")})
        moto_dynamodb.attach(self.store)
        moto_changes.attach(self.store)
        legacy = directory / STATE_FILE
        if legacy.exists() and not any(counts.values()):
            imported = load_state(directory, self.template, **self._state_clients())
            legacy.rename(legacy.with_name(legacy.name + ".imported"))
            log.info("data folder %s: imported %s from the earlier format (%s)", directory, imported, legacy.name)
        log.info("data folder %s: %d items, %d stream records, %d queue messages, %d parameters, %d objects",
                 directory, counts["items"], counts["stream"], counts["messages"], counts["parameters"],
                 counts["objects"])

    def stop(self) -> None:
        """Stop taking work, let handlers finish, close the data folder's store, stop moto. Safe to call twice.

        Nothing needs saving here: the store already holds every acknowledged change, queued, delayed and
        in-flight messages included."""
        if self.api is not None:
            self.api.drain()  # new requests get 503; those in flight finish while the functions still run
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(10)
        self.pollers = []
        if self.api is not None:
            self.api.shutdown()
            self.api.server_close()
            self.api = None
        for runtime in self.runtimes.values():
            runtime.stop()
        self.runtimes = {}
        if self.store is not None:
            moto_dynamodb.attach(None)
            moto_changes.attach(None)
            self.store.close()
            log.info("data folder %s: closed", self.store.directory)
            self.store = None
        if self._moto is not None:
            self._delete_resources()
            self._moto.stop()
            self._moto = None
            for undo in self._undo_moto_patches:
                undo()
            self._undo_moto_patches = []

    def _delete_resources(self) -> None:
        """moto keeps its state per process: leave it as found, so a restart in-process starts clean (and
        a secret after a restart can only have come from ``--data``)."""
        dynamodb, sqs = self.client("dynamodb"), self.client("sqs")
        s3, ssm = self.client("s3"), self.client("ssm")
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/", Recursive=True):
            for parameter in page["Parameters"]:
                if parameter["Name"] not in self._parameters_found:
                    ssm.delete_parameter(Name=parameter["Name"])
        for attributes in self.resources.values():
            if "QueueUrl" in attributes:
                sqs.delete_queue(QueueUrl=attributes["QueueUrl"])
            elif "Bucket" in attributes:
                bucket = s3.list_objects_v2(Bucket=attributes["Bucket"])
                for entry in bucket.get("Contents", []):
                    s3.delete_object(Bucket=attributes["Bucket"], Key=entry["Key"])
                s3.delete_bucket(Bucket=attributes["Bucket"])
            else:
                dynamodb.delete_table(TableName=attributes["Ref"])
        self.resources = {}

    def _start_moto(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto call drowns the real log
        # atomic requests, transactions that copy only what they touch, a stream that forgets what was read,
        # and every change reported to the data folder's store once one is attached; requests dispatched
        # without a scan of moto's package each; model objects freed once moto no longer uses them
        self._undo_moto_patches = [moto_dynamodb.install(), moto_changes.install(), moto_server.install(),
                                   moto_instances.install()]
        self._moto = moto_server.MotoServer("127.0.0.1", 0)  # keep-alive: no connection per moto request
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.functions_endpoint_url = f"http://{host}:{self._moto.get_functions_port()}"

    def function_environment(self, template_environment: dict[str, str]) -> dict[str, str]:
        """A function's template environment with the local overrides on top.

        The outbound allow-list keeps what the template and the user's own environment name, plus the
        local stack's host, where the echo endpoint stands in for third parties.
        """
        allowed = [item.strip() for source in (template_environment.get(OUTBOUND_ALLOW_ENV, ""),
                                               os.environ.get(OUTBOUND_ALLOW_ENV, ""))
                   for item in source.split(",") if item.strip()]
        allowed.append(urlsplit(self.url).hostname or "127.0.0.1")
        return {**template_environment, **_AWS_LOCAL_ENVIRONMENT, "AWS_ENDPOINT_URL": self.functions_endpoint_url,
                "POWERTOOLS_METRICS_DISABLED": "false" if self.options.json_logs else "true",
                OUTBOUND_ALLOW_ENV: ",".join(dict.fromkeys(allowed)),
                "CHATBRIDGE_LOCAL_URL": self.url, **self.options.extra_environment}

    def _start_functions(self) -> None:
        assert self.template is not None
        for fn in self.template.functions.values():
            self.runtimes[fn.logical_id] = FunctionRuntime(
                fn, environment=self.function_environment(fn.environment), region=self.options.region,
                json_logs=self.options.json_logs, max_workers=self.options.max_workers)
        with ThreadPoolExecutor(max_workers=max(1, len(self.runtimes))) as pool:
            for future in [pool.submit(runtime.start) for runtime in self.runtimes.values()]:
                future.result()
        log.info("functions ready: %s", ", ".join(self.runtimes))

    def _start_pollers(self) -> None:
        assert self.template is not None
        streams = BackendStreams(region=self.options.region, endpoint_url=self.endpoint_url)  # moto is here
        readers = {trigger.table_logical_id: 0 for fn in self.template.functions.values()
                   for trigger in fn.stream_triggers if trigger.enabled}
        for fn in self.template.functions.values():
            for trigger in fn.stream_triggers:
                if trigger.enabled:
                    readers[trigger.table_logical_id] += 1
        trims = {logical_id: trim_stream(self.template.tables[logical_id].name, count, self.store)
                 for logical_id, count in readers.items()}
        for fn in self.template.functions.values():
            invoke = self._invoke_for_poller(fn.logical_id)
            for trigger in fn.stream_triggers:
                if trigger.enabled:
                    self.pollers.append(StreamPoller(
                        function_name=fn.logical_id, trigger=trigger, streams=streams, invoke=invoke,
                        stream_arn=self.resources[trigger.table_logical_id]["StreamArn"], region=self.options.region,
                        resume=trigger.table_logical_id in self._resume_streams,
                        on_checkpoint=trims[trigger.table_logical_id]))
            for queue_trigger in fn.queue_triggers:
                if queue_trigger.enabled:
                    queue = self.resources[queue_trigger.queue_logical_id]
                    self.pollers.append(QueuePoller(
                        function_name=fn.logical_id, trigger=queue_trigger, queue_url=queue["QueueUrl"],
                        queue_arn=queue["Arn"], sqs=self.client("sqs"), invoke=invoke, region=self.options.region))
        for poller in self.pollers:
            poller.start()

    def _state_clients(self) -> dict[str, Any]:
        assert self.template is not None
        return {"dynamodb": self.client("dynamodb"), "sqs": self.client("sqs"), "ssm": self.client("ssm"),
                "queue_urls": {lid: self.resources[lid]["QueueUrl"] for lid in self.template.queues}}

    def _verification_names(self, path: str) -> frozenset[str]:
        """The query names a webhook spec's verification reads, for the request line to mask: a spec may call
        its query secret anything. Read from the config table at each logged webhook request with a query."""
        prefix = "/webhooks/incoming/"
        table = next((fn.environment.get("CONFIG_TABLE") for fn in (self.template.functions.values()
                      if self.template else []) if fn.environment.get("CONFIG_TABLE")), None)
        if not path.startswith(prefix) or not table:
            return frozenset()
        from chatbridge.repository.specs import SPEC
        from chatbridge.spec.redaction import verification_names
        from chatbridge.spec.verification import Verification

        item = boto3.resource("dynamodb", endpoint_url=self.endpoint_url, region_name=self.options.region,
                              aws_access_key_id="local", aws_secret_access_key="local").Table(table).get_item(
            Key={"pk": SPEC, "sk": path[len(prefix):].strip("/")}).get("Item") or {}
        verification = item.get("verification")
        return verification_names(Verification.model_validate(verification)) if verification else frozenset()

    @property
    def echo_url(self) -> str:
        return self.url + ECHO_PATH
