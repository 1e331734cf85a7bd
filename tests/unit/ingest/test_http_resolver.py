"""The ingest's own resolver (``ingest.http``) routes every request as Powertools' APIGatewayRestResolver did.

The ingest function dropped Powertools' event handler for its cold start; these tests hold the new resolver to
the old one's choices (which route, which identifier, 404) and answer shape, on paths a provider or a scanner
could send.
"""

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from chatbridge.ingest.http import Answer, Resolver

PATHS = ["/webhooks/incoming/abcd", "/webhooks/incoming/abcd/", "/webhooks/incoming/abcd//", "/webhooks/incoming/a",
         "/webhooks/incoming/", "/webhooks/incoming", "/webhooks/incoming/a/b", "/webhooks/incoming/ab%2Fcd",
         "/webhooks/incoming/ab cd", "/webhooks/incoming/ab\x00cd", "/webhooks/incoming/ab\ncd",
         "/webhooks/incoming/héllo", "/webhooks/incoming/a.b~c(d)!*'", "/webhooks/incoming/<x>{y}[z]|^",
         "/webhooks/incoming/a?b", "/webhooks/incoming/a#b", "/webhooks/incoming/a\\b", "/webhooks/incoming/a\"b",
         "/Prod/webhooks/incoming/abcd", "/WEBHOOKS/incoming/abcd", "/other", "/", ""]
METHODS = ["POST", "GET", "post", "Get", "PUT", "DELETE", "OPTIONS", "HEAD"]


def _powertools():
    app = APIGatewayRestResolver()

    @app.post("/webhooks/incoming/<identifier>")
    def post(identifier):
        return Response(200, "application/json", f"POST {identifier}")

    @app.get("/webhooks/incoming/<identifier>")
    def get(identifier):
        return Response(200, "text/plain", f"GET {identifier}")

    @app.not_found
    def missing(error):
        return Response(404, "application/json", "missing")
    return app


def _ours():
    resolver = Resolver()

    @resolver.route("POST", "/webhooks/incoming/<identifier>")
    def post(request, identifier):
        return Answer(200, f"POST {identifier}")

    @resolver.route("GET", "/webhooks/incoming/<identifier>")
    def get(request, identifier):
        return Answer(200, f"GET {identifier}", content_type="text/plain")

    @resolver.not_found
    def missing():
        return Answer(404, "missing")
    return resolver


@pytest.mark.parametrize("method", METHODS)
def test_every_path_takes_the_route_and_identifier_powertools_gave_it(method):
    theirs, ours = _powertools(), _ours()
    for path in PATHS:
        event = {"path": path, "httpMethod": method, "headers": {}, "requestContext": {"stage": "Prod", "path": path}}
        assert ours.resolve(event, None) == theirs.resolve(event, None), path


def test_what_a_route_raises_goes_to_the_error_handler_and_an_event_without_a_path_raises():
    resolver = Resolver()

    @resolver.route("POST", "/x/<name>")
    def broken(request, name):
        raise KeyError("deep inside")

    resolver.on_error(lambda error: Answer(422, type(error).__name__))
    assert resolver.resolve({"path": "/x/y", "httpMethod": "POST"}, None)["body"] == "KeyError"
    for event in ({"httpMethod": "POST"}, {"path": "/x/y"}, {"path": "/x/y", "httpMethod": None}):
        with pytest.raises((KeyError, AttributeError)):
            resolver.resolve(event, None)
