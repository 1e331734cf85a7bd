"""Outbound URL guard: internal addresses are refused unless allowed."""

import pytest

from chatbridge.errors import OutboundUrlRefused
from chatbridge.outbound.url_guard import check_url


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


@pytest.mark.parametrize("url", [
    "http://100.100.100.200/latest/meta-data/",  # a cloud metadata service inside carrier-grade NAT space
    "http://100.64.0.1/", "http://100.127.255.254/", "http://[::ffff:100.100.100.200]/",
])
def test_carrier_grade_nat_addresses_are_refused(url):
    with pytest.raises(OutboundUrlRefused, match=r"internal address \(carrier-grade NAT 100\.64\.0\.0/10"):
        check_url(url, allow="")


@pytest.mark.parametrize("url, embedded", [
    ("http://[2002:7f00:1::]/", "127.0.0.1"), ("http://[2002:a00:1::1]/", "10.0.0.1"),
    ("http://[2002:a9fe:a9fe::]/", "169.254.169.254"), ("http://[2002:6464:64c8::]/", "100.100.100.200"),
    ("http://[2002:c0a8:101:1::1]/", "192.168.1.1"),
])
def test_6to4_addresses_embedding_an_internal_ipv4_address_are_refused(url, embedded):
    with pytest.raises(OutboundUrlRefused, match=rf"internal address \(6to4 .*embeds {embedded}"):
        check_url(url, allow="")
    assert check_url("http://[2002:5db8:d822::1]/", allow="") == ["2002:5db8:d822::1"]  # a public one passes


@pytest.mark.parametrize("url", [
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # RFC 4380's example: public server, public client
    "http://[2001:0:5db8:d822:0:0:80ff:fffe]/", "http://[2001::1]/",
])
def test_teredo_addresses_are_refused_whatever_they_embed(url):
    with pytest.raises(OutboundUrlRefused, match=r"internal address \(Teredo 2001::/32"):
        check_url(url, allow="")


def test_a_name_resolving_to_a_carrier_grade_nat_6to4_or_teredo_address_is_refused():
    for address in ("100.100.100.200", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2"):
        with pytest.raises(OutboundUrlRefused, match="internal address"):
            check_url("https://api.example.com/x", allow="", resolver=resolver("93.184.216.34", address))


def test_the_allow_list_still_lets_an_explicitly_allowed_cgnat_6to4_or_teredo_address_through():
    for url in ("http://100.100.100.200/", "http://[2002:7f00:1::]/", "http://[2001::1]/"):
        with pytest.raises(OutboundUrlRefused):
            check_url(url, allow="10.0.0.0/8")  # refused unless its own network is allowed
    assert check_url("http://100.100.100.200/", allow="100.64.0.0/10") == ["100.100.100.200"]
    assert check_url("http://[2002:7f00:1::]/", allow="2002:7f00::/24") == ["2002:7f00:1::"]
    assert check_url("http://[2001::1]/", allow="2001::/32") == ["2001::1"]
    assert check_url("http://cgnat.internal/", allow="100.64.0.0/10", resolver=resolver("100.64.0.9")) == ["100.64.0.9"]
    assert check_url("http://cgnat.internal/", allow="cgnat.internal") == []


@pytest.mark.parametrize("url, reason", [
    ("http://[::1/x", "Invalid IPv6 URL"), ("http://127.0.0.1:99999/x", "Port out of range"),
    ("http://example.com:abc/", "Port could not be cast"), ("http://example.com:-1/", "Port could not be cast"),
    ("http://[zz]/", "does not appear to be an IPv4 or IPv6 address"), ("http://example.com:0/", "port 0"),
    ("http://\u2100.com/", "invalid characters under NFKC"),
])
def test_an_unparseable_url_or_bad_port_is_refused_as_permanent_not_a_value_error(url, reason):
    with pytest.raises(OutboundUrlRefused, match="cannot be called") as raised:
        check_url(url, allow="127.0.0.1")
    assert reason in str(raised.value)


def test_a_host_name_dns_cannot_encode_is_refused_as_permanent_but_an_unknown_one_stays_retryable():
    for host in ("a" * 64 + ".example.com", "a..example.com"):
        with pytest.raises(OutboundUrlRefused, match="not a valid host name"):
            check_url(f"https://{host}/x", allow="")

    def unknown(host, port):
        raise OSError(f"cannot resolve {host}")

    with pytest.raises(OSError, match="cannot resolve") as raised:  # DNS can recover: the dispatcher retries
        check_url("https://nowhere.example/x", allow="", resolver=unknown)
    assert not isinstance(raised.value, OutboundUrlRefused)
