"""Can a retry fix this failure? The one rule behind every 503.

A 503 tells a provider to send the same request again. That is right when the failure was about the moment
(throttling, a timeout, a service error, writers racing for one chat, a table or permission the deployment
lacks) and wrong when it was about the request
(DynamoDB refusing an item, a bad value, a bug the request triggers): the same payload then fails on every
retry, forever, and every good message in it is lost. So only the first kind answers 503; the second is a 4xx
with a reason (or, per message, a skip with a reason).
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from chatbridge.errors import ChatbridgeError

# AWS error codes that say "not now": throttling, service trouble, transaction races, timeouts.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "ThrottledException",
    "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "RequestThrottled",
    "InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "TransactionConflict", "TransactionConflictException", "TransactionInProgressException",
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
})
# The stack, not the request, is wrong (a table or bucket missing, access denied, credentials expired): the
# same request succeeds once the deployment is fixed, so the provider should keep it and retry.
DEPLOYMENT_CODES = frozenset({
    "ResourceNotFoundException", "NoSuchBucket", "AccessDeniedException", "AccessDenied",
    "UnrecognizedClientException", "ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId",
    "KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException",
})
# Cancellation reasons of a TransactionCanceledException that a retry can clear.
TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
                               "ConditionalCheckFailed", "None"})
_NETWORK = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError, ConnectionClosedError, HTTPClientError,
            NoCredentialsError)


def retry_can_fix(error: BaseException) -> bool:
    """True for throttling, timeouts, service errors, transaction conflicts and a broken deployment; False for
    everything that would fail the same way again (validation, item too large, bad values, bugs)."""
    if isinstance(error, ChatbridgeError):
        return bool(getattr(error, "transient", False))  # StorageConflict: writers kept racing
    if isinstance(error, _NETWORK):
        return True
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code == "TransactionCanceledException":
            reasons = {str(r.get("Code")) for r in error.response.get("CancellationReasons") or []}
            return reasons <= TRANSIENT_REASONS
        if code in TRANSIENT_CODES or code in DEPLOYMENT_CODES:
            return True
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500  # a server error whose code we do not know yet
    return False
