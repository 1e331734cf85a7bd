"""The one Lambda context every test hands a handler: the local stack's own (what Powertools reads)."""

from chatbridge.local.worker import LambdaContext


class Context(LambdaContext):
    def __init__(self) -> None:
        super().__init__(function_name="test", memory_size=512, timeout=60, region="us-east-1",
                         request_id="test-request")
