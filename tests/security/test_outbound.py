"""The outbound policy (lab.outbound) and the judges on it: a URL a visitor typed is called only over https, only when
every address its host resolves to is public, at the very address that was checked (a DNS answer that changes
afterwards reaches nothing), with each redirect checked again and a short connect timeout. An endpoint judge built
for an anonymous visitor tells them no remote status and no body. The owner (and a local user) may call anything."""
from __future__ import annotations

import socket

import httpx
import pytest

from lab import outbound, settings
from lab.access import ANONYMOUS, OWNER, VISITOR, Caller, local
from lab.data.judge import EndpointJudge
from lab.errors import LabError
from tests.security.data_support import attacker  # noqa: F401 (a fixture)

EVE = Caller(VISITOR, "eve", "s-eve")
ANON = Caller(ANONYMOUS, session="s-anon")
OWNER_CALLER = Caller(OWNER, "tester")
PUBLIC = "93.184.216.34"


@pytest.fixture
def on_space(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1",
                                "169.254.169.254", "fe80::1", "224.0.0.1", "239.255.255.250", "ff02::1", "0.0.0.0",
                                "::", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
                                "fd00::1", "255.255.255.255", "not-an-ip"])
def test_loopback_private_link_local_multicast_and_mapped_addresses_are_not_public(ip):
    assert not outbound.public_address(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_public(ip):
    assert outbound.public_address(ip)


def _dns(monkeypatch, answers: dict[str, list]):
    """getaddrinfo answering each host with its next list of addresses (the last one repeats): a rebinding DNS."""
    asked = []

    def fake(host, port, *args, **kwargs):
        asked.append(host)
        seq = answers.get(host)
        if seq is None:
            raise socket.gaierror(socket.EAI_NONAME, "unknown host")
        ips = seq.pop(0) if len(seq) > 1 else seq[0]
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in ips]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


class _Wire:
    """Stands in for the network under httpx's transport: records where each connection goes, answers by URL."""

    def __init__(self, monkeypatch, answer):
        self.sent: list[httpx.Request] = []

        def handle(transport, request):
            self.sent.append(request)
            return answer(request)

        monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)


def test_a_visitor_is_refused_http_credentials_and_any_non_public_answer(on_space, monkeypatch):
    _dns(monkeypatch, {"mixed.example": [[PUBLIC, "10.0.0.7"]], "inside.example": [["169.254.169.254"]],
                       "ok.example": [[PUBLIC]]})
    wire = _Wire(monkeypatch, lambda r: httpx.Response(200, json={}))
    for url in ("http://ok.example/v1", "https://user:pw@ok.example/v1", "https://mixed.example/v1",
                "https://inside.example/v1", "https://nowhere.example/v1", "https://127.0.0.1/v1",
                "https://[::ffff:7f00:1]/v1", "https://2130706433/v1", "ftp://ok.example/"):
        for caller in (EVE, ANON):
            with pytest.raises(LabError) as err:
                outbound.request("GET", url, caller, "judge.endpoint")
            assert err.value.field == "judge.endpoint"
    assert wire.sent == []
    assert outbound.request("GET", "https://ok.example/v1", EVE, "judge.endpoint").status_code == 200


def test_the_connection_goes_to_the_checked_address_whatever_dns_says_next(on_space, monkeypatch):
    asked = _dns(monkeypatch, {"judge.example": [[PUBLIC], ["127.0.0.1"]]})  # public once, then the server itself
    wire = _Wire(monkeypatch, lambda r: httpx.Response(200, json={"ok": 1}))
    outbound.request("POST", "https://judge.example/v1/chat/completions", EVE, "judge.endpoint", json={"a": 1})
    (sent,) = wire.sent
    assert sent.url.host == PUBLIC and sent.url.scheme == "https" and sent.url.path == "/v1/chat/completions"
    assert sent.headers["host"] == "judge.example" and sent.extensions["sni_hostname"] == "judge.example"
    assert sent.extensions["timeout"]["connect"] == outbound.CONNECT_TIMEOUT_S <= 5
    assert asked == ["judge.example"]  # resolved once, for the check; the connection did not ask again


def test_each_redirect_is_checked_again(on_space, monkeypatch):
    _dns(monkeypatch, {"judge.example": [[PUBLIC]], "inside.example": [["10.0.0.5"]]})
    targets = iter(["http://169.254.169.254/latest/meta-data/", "https://inside.example/x", "https://127.0.0.1/"])

    def answer(request):
        return httpx.Response(302, headers={"location": next(targets)})

    wire = _Wire(monkeypatch, answer)
    for _ in range(3):
        with pytest.raises(LabError, match="does not call that address"):
            outbound.request("GET", "https://judge.example/v1", EVE, "judge.endpoint")
    assert [r.url.host for r in wire.sent] == [PUBLIC] * 3  # the redirect's target was never connected to


def test_the_owner_and_a_local_user_may_call_their_own_network(on_space, attacker):
    for caller in (OWNER_CALLER, local()):
        assert outbound.request("POST", attacker.url + "/chat/completions", caller, "judge.endpoint",
                                json={}).status_code == 200
    with pytest.raises(LabError):
        outbound.request("POST", attacker.url + "/chat/completions", EVE, "judge.endpoint", json={})
    assert len(attacker.requests) == 2


def test_an_anonymous_visitor_is_told_no_remote_status_and_no_body(on_space, monkeypatch):
    import lab.data.judge as judge

    monkeypatch.setattr(judge, "RETRY_WAITS_S", (0.0,))
    _dns(monkeypatch, {"judge.example": [[PUBLIC]]})
    status = {"code": 500}
    _Wire(monkeypatch, lambda r: httpx.Response(status["code"], text="internal-detail-7731 at 10.0.0.3"))
    told = {}
    for name, caller in (("anonymous", ANON), ("visitor", EVE)):
        for code in (500, 401):
            status["code"] = code
            with pytest.raises(LabError) as err:
                EndpointJudge("https://judge.example/v1", "m", 8, "", caller)(["Rate this."])
            told[name, code] = str(err.value)
    assert not any("internal-detail" in t or "10.0.0.3" in t for t in told.values())
    assert "500" not in told["anonymous", 500] and "401" not in told["anonymous", 401]
    assert "HTTP 500" in told["visitor", 500] and "HTTP 401" in told["visitor", 401]  # signed in: the status only


def test_a_visitors_in_page_judge_is_bounded_in_time(on_space, monkeypatch):
    import time

    _dns(monkeypatch, {"judge.example": [[PUBLIC]]})
    wire = _Wire(monkeypatch, lambda r: httpx.Response(503, headers={"retry-after": "30"}))
    start = time.monotonic()
    with pytest.raises(LabError, match="took too long"):
        EndpointJudge("https://judge.example/v1", "m", 8, "", EVE, budget_s=1.5)(["Rate this."] * 50)
    assert time.monotonic() - start < 5 and 1 <= len(wire.sent) <= 5
