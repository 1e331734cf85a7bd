"""Outbound URL guard: internal addresses are refused unless allowed."""

import pytest

from chatbridge.url_guard import OutboundUrlRefused, check_url


def resolver(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/", "http://10.1.2.3/", "http://192.168.0.1/",
    "http://172.16.5.5/", "http://[::1]/", "http://[fd00::1]/", "http://[fe80::1]/", "http://0.0.0.0/",
    "http://224.0.0.1/", "http://[::ffff:127.0.0.1]/",
])
def test_internal_addresses_are_refused(url):
    with pytest.raises(OutboundUrlRefused, match="internal address"):
        check_url(url, allow="")


def test_a_name_resolving_to_any_internal_address_is_refused():
    with pytest.raises(OutboundUrlRefused, match="10.0.0.1"):
        check_url("https://api.example.com/x", allow="", resolver=resolver("93.184.216.34", "10.0.0.1"))


def test_public_addresses_pass():
    assert check_url("https://api.example.com/x", allow="", resolver=resolver("93.184.216.34")) == ["93.184.216.34"]


def test_allow_list_names_hosts_and_networks():
    assert check_url("http://127.0.0.1:9/", allow="127.0.0.0/8") == ["127.0.0.1"]
    assert check_url("http://wa.internal/", allow=" wa.internal ,10.0.0.0/8") == []
    assert check_url("http://x.internal/", allow="10.0.0.0/8", resolver=resolver("10.9.9.9")) == ["10.9.9.9"]
    with pytest.raises(OutboundUrlRefused):
        check_url("http://169.254.169.254/", allow="127.0.0.1")


def test_allow_list_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_OUTBOUND_ALLOW", "127.0.0.1")
    assert check_url("http://127.0.0.1/") == ["127.0.0.1"]
    monkeypatch.delenv("CHATBRIDGE_OUTBOUND_ALLOW")
    with pytest.raises(OutboundUrlRefused):
        check_url("http://127.0.0.1/")


def test_non_http_schemes_are_refused():
    with pytest.raises(OutboundUrlRefused, match="only http and https"):
        check_url("file:///etc/passwd", allow="")
