"""The operator routes' cross-site rules on their own: which Host and Origin a browser page could have sent."""

import pytest

from chatbridge.local.cross_site import CrossSiteGuard, is_json, is_operator_route

GUARD = CrossSiteGuard("127.0.0.1", 3000)


@pytest.mark.parametrize(("host", "own"), [
    (None, True),  # no Host: not a browser (HTTP/1.0 tools)
    ("127.0.0.1:3000", True), ("[::1]:3000", True), ("192.168.1.20:3000", True),  # addresses cannot be rebound
    ("localhost:3000", True), ("LocalHost", True), ("console.localhost:3000", True),
    ("evil.example:3000", False), ("127.0.0.1.nip.io:3000", False), ("localhost.evil.example", False),
    ("2130706433:3000", False),  # not an address Python reads: a name
    ("127.0.0.1:port", False), ("", False),
])
def test_a_host_is_own_when_it_is_an_address_or_a_name_of_this_machine(host, own):
    assert GUARD.is_own_host(host) is own


def test_the_bound_name_and_this_machines_name_are_own():
    import socket

    guard = CrossSiteGuard("chatbridge.lan", 3000)
    assert guard.is_own_host("chatbridge.lan:3000") and guard.is_own_host(f"{socket.gethostname()}:3000")


@pytest.mark.parametrize(("origin", "host", "own"), [
    ("http://127.0.0.1:3000", "127.0.0.1:3000", True),
    ("http://localhost:3000", "localhost:3000", True),
    ("http://localhost:3000", "127.0.0.1:3000", False),  # another origin, even if it is this machine
    ("http://127.0.0.1:8080", "127.0.0.1:3000", False),  # another local server's page
    ("https://127.0.0.1:3000", "127.0.0.1:3000", False),
    ("http://evil.example:3000", "evil.example:3000", False),  # rebinding: same origin, foreign name
    ("null", "127.0.0.1:3000", False),
    ("http://127.0.0.1:3000", None, False),
])
def test_an_origin_is_own_only_when_it_is_this_server_as_the_request_names_it(origin, host, own):
    assert GUARD.is_own_origin(origin, host) is own


def test_only_admin_writes_need_json_and_a_bodiless_write_needs_no_content_type():
    def refusal(method, path, headers, has_body=True):
        found = GUARD.refusal(method, path, {"Host": "127.0.0.1:3000", **headers}, has_body=has_body,
                              own_url="http://127.0.0.1:3000")
        return found and (found.status, found.code)

    assert refusal("POST", "/admin/chats/1/messages", {"Content-Type": "text/plain"}) == (415, "unsupported_media_type")
    assert refusal("PUT", "/admin/secrets/chatbridge/x", {}) == (415, "unsupported_media_type")
    assert refusal("POST", "/admin/chats/1/close", {"Content-Type": "multipart/form-data"}, has_body=False) == (
        415, "unsupported_media_type")
    assert refusal("POST", "/admin/chats/1/close", {}, has_body=False) is None
    assert refusal("GET", "/admin/chats", {"Content-Type": "text/plain"}) is None
    assert refusal("PUT", "/admin/rest-apis/x", {"Content-Type": "application/merge-patch+json"}) is None
    assert refusal("POST", "/_local/invoke/Admin", {"Content-Type": "application/x-www-form-urlencoded"}) is None
    assert refusal("POST", "/admin/chats", {"Origin": "https://evil.example", "Content-Type": "application/json"}) == (
        403, "cross_site")


def test_operator_routes_and_json_types():
    assert [is_operator_route(p) for p in ("/admin", "/admin/chats", "/_local/echo", "/webhooks/incoming/x",
                                           "/administrator", "/console/")] == [True, True, True, False, False, False]
    assert is_json("application/json; charset=utf-8") and is_json("Application/JSON")
    assert not is_json("text/json") and not is_json("text/plain") and not is_json("")
