"""The SSRF guard: blocked spellings never reach a live canary; the allowlist is the only way through."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from plugin.nodes._services import Services, Settings
from plugin.nodes.base import PermanentError
from plugin.transport.net import (
    Allowlist,
    BlockedDestination,
    GuardedClient,
    check_host,
    guarded_client,
    is_allowed_ip,
)
from plugin.transport.wire import TLSError


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAS_IPV6 = _has_ipv6_loopback()


class Receiver:
    """A real local HTTP(S) server on one or more loopback addresses sharing one port.

    Records every request as ``(local address, path, Host header)`` and counts TCP connections.
    """

    def __init__(self, hosts=("127.0.0.1",), status=200, headers=None, ssl_context=None):
        self.hits: list[tuple[str, str, str]] = []
        self.authorization: list[str | None] = []
        self.connections = 0
        self.sni: list[str | None] = []
        self.status = status
        self.headers = headers or {}
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        if ssl_context is not None:
            ssl_context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self._serving = False
        self.port = self._bind_all(hosts, ssl_context)
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self._serving = True

    def _bind_all(self, hosts, ssl_context) -> int:
        for _ in range(20):  # the first bind picks a port; the others may find it taken
            port = 0
            try:
                for host in hosts:
                    server = self._server_class(host)((host, port), _Handler, bind_and_activate=True)
                    server.receiver = self
                    if ssl_context is not None:
                        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
                    self._servers.append(server)
                    port = server.server_address[1]
                return port
            except OSError:
                self.close()
        raise RuntimeError(f"no common free port on {hosts}")

    @staticmethod
    def _server_class(host: str) -> type[ThreadingHTTPServer]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return type("Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.hits.append((handler.connection.getsockname()[0], handler.path, handler.headers.get("Host")))
            self.authorization.append(handler.headers.get("Authorization"))

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def close(self) -> None:
        for server in self._servers:
            if self._serving:
                server.shutdown()
            server.server_close()
        self._servers.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def setup(self) -> None:
        super().setup()
        self.server.receiver.connected()

    def do_GET(self) -> None:
        receiver = self.server.receiver
        receiver.record(self)
        body = b"ok"
        self.send_response(receiver.status)
        for name, value in receiver.headers.items():
            self.send_header(name, value.format(port=receiver.port))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def receiver_factory():
    receivers: list[Receiver] = []

    def make(*args, **kwargs) -> Receiver:
        receivers.append(Receiver(*args, **kwargs))
        return receivers[-1]

    yield make
    for receiver in receivers:
        receiver.close()


CANARY_HOSTS = ("127.0.0.1", "127.0.0.2", "::1") if HAS_IPV6 else ("127.0.0.1", "127.0.0.2")


@pytest.fixture(scope="module")
def canary():
    """Listens on 127.0.0.1, 127.0.0.2 and ::1 (same port) and counts every hit."""
    receiver = Receiver(CANARY_HOSTS)
    yield receiver
    receiver.close()


def session(*allowlist: str) -> GuardedClient:
    return guarded_client(Settings(outbound_allowlist=allowlist, http_timeout=5))


LOOPBACK = "a loopback address"
METADATA = "a cloud metadata address"
PRIVATE = "a private address"
UNSPECIFIED = "unspecified"

# (host as written in the URL, the reason the guard must give)
BLOCKED_MATRIX = [
    ("127.0.0.1", LOOPBACK),
    ("127.0.0.2", LOOPBACK),
    ("127.255.255.254", LOOPBACK),
    ("127.1", LOOPBACK),  # shortened: a.d
    ("127.0.1", LOOPBACK),  # shortened: a.b.d
    ("2130706433", LOOPBACK),  # decimal integer
    ("017700000001", LOOPBACK),  # octal integer
    ("0x7f000001", LOOPBACK),  # hex integer
    ("0x7f.1", LOOPBACK),  # hex, shortened
    ("0X7F.0x0.0x0.0x1", LOOPBACK),  # hex per octet, mixed case
    ("0177.0.0.1", LOOPBACK),  # octal octet
    ("0177.1", LOOPBACK),  # octal, shortened
    ("localhost", "a loopback hostname"),
    ("LocalHost", "a loopback hostname"),
    ("app.localhost", "a loopback hostname"),
    ("0.0.0.0", UNSPECIFIED),
    ("0", UNSPECIFIED),  # inet_aton("0") == 0.0.0.0
    ("[::]", UNSPECIFIED),
    ("[::1]", LOOPBACK),
    ("[0:0:0:0:0:0:0:1]", LOOPBACK),
    ("[::ffff:127.0.0.1]", "IPv4-mapped address of 127.0.0.1, a loopback address"),
    ("[::ffff:7f00:1]", "IPv4-mapped address of 127.0.0.1, a loopback address"),
    ("[0:0:0:0:0:ffff:127.0.0.2]", "IPv4-mapped address of 127.0.0.2, a loopback address"),
    ("[::ffff:0:7f00:1]", "IPv4-translated address of 127.0.0.1, a loopback address"),
    ("[::127.0.0.1]", "IPv4-compatible address of 127.0.0.1, a loopback address"),
    ("[64:ff9b::7f00:1]", "NAT64 address of 127.0.0.1, a loopback address"),
    ("[64:ff9b::127.0.0.1]", "NAT64 address of 127.0.0.1, a loopback address"),
    ("[64:ff9b::a9fe:a9fe]", "NAT64 address of 169.254.169.254, a cloud metadata address"),
    ("[64:ff9b:1::a00:1]", "a local-use NAT64 address"),
    ("[2002:7f00:1::]", "6to4 address of 127.0.0.1, a loopback address"),
    ("[2002:a9fe:a9fe::1]", "6to4 address of 169.254.169.254, a cloud metadata address"),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "Teredo address of 127.0.0.1, a loopback address"),
    ("[fe80::1]", "a link-local address"),
    ("[fe80::1%25eth0]", "a link-local address"),
    ("[fc00::1]", "a private (unique local) address"),
    ("[fd12:3456::1]", "a private (unique local) address"),
    ("[fec0::1]", "a site-local address"),
    ("[ff02::1]", "a multicast address"),
    ("[fd00:ec2::254]", METADATA),
    ("[::ffff:169.254.169.254]", "IPv4-mapped address of 169.254.169.254, a cloud metadata address"),
    ("[::ffff:a9fe:a9fe]", "IPv4-mapped address of 169.254.169.254, a cloud metadata address"),
    ("[2001:db8::1]", "a documentation address"),
    ("169.254.169.254", METADATA),
    ("2852039166", METADATA),  # 169.254.169.254 as a decimal integer
    ("169.254.170.2", METADATA),
    ("100.100.100.200", METADATA),
    ("192.0.0.192", METADATA),
    ("metadata.google.internal", "a cloud metadata hostname"),
    ("METADATA.GOOGLE.INTERNAL.", "a cloud metadata hostname"),
    ("metadata", "a cloud metadata hostname"),
    ("169.254.1.1", "a link-local address"),
    ("100.64.0.1", "a carrier-grade NAT (CGNAT) address"),
    ("100.127.255.254", "a carrier-grade NAT (CGNAT) address"),
    ("10.0.0.1", PRIVATE),
    ("0xa.1", PRIVATE),  # 10.0.0.1
    ("172.16.0.1", PRIVATE),
    ("172.31.255.255", PRIVATE),
    ("192.168.1.1", PRIVATE),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "the broadcast address"),
    ("192.0.0.1", "an IETF protocol assignment address"),
    ("192.0.2.1", "a documentation address"),
    ("198.18.0.1", "a benchmarking address"),
    ("198.19.255.255", "a benchmarking address"),
    ("192.88.99.1", "a 6to4 relay anycast address"),
]


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(("host", "reason"), BLOCKED_MATRIX, ids=[h for h, _ in BLOCKED_MATRIX])
def test_blocked_spelling_is_refused_before_any_connection(canary, scheme, host, reason):
    url = f"{scheme}://user:hunter2@{host}:{canary.port}/secret-path?token=s3cr3t"

    with pytest.raises(BlockedDestination) as info:
        session().post(url, data=b"payload")

    message = str(info.value)
    assert reason in info.value.reason
    assert reason in message
    assert "AUTOMATION_OUTBOUND_ALLOWLIST" in message
    for secret in ("secret-path", "s3cr3t", "hunter2", "user:"):
        assert secret not in message
    assert canary.hits == []
    assert canary.connections == 0


def test_the_canary_does_count_these_spellings_without_the_guard(receiver_factory):
    """Control: the matrix above proves something only if the canary is reachable by those spellings."""
    canary = receiver_factory(CANARY_HOSTS)
    plain = requests.Session()
    plain.trust_env = False
    spellings = ["127.0.0.1", "127.0.0.2", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "0", "localhost"]
    spellings += ["[::1]", "[::ffff:127.0.0.1]"] if HAS_IPV6 else []

    for host in spellings:
        assert plain.get(f"http://{host}:{canary.port}/", timeout=5).status_code == 200

    assert len(canary.hits) == len(spellings)


def test_nothing_is_taken_from_the_environment(receiver_factory, tmp_path, monkeypatch):
    """~/.netrc credentials are never sent to a user-configured URL, and proxy variables are ignored."""
    target = receiver_factory(("127.0.0.1",))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login admin password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy there would refuse the connection
    plain = requests.Session()
    plain.proxies = {}
    monkeypatch.delenv("HTTP_PROXY")
    assert plain.get(f"http://127.0.0.1:{target.port}/control", timeout=5).status_code == 200
    assert target.authorization == ["Basic YWRtaW46aHVudGVyMg=="]  # control: requests reads NETRC
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")

    assert session("127.0.0.1").get(f"http://127.0.0.1:{target.port}/hook").status_code == 200
    assert target.authorization[1:] == [None]


def test_blocked_destination_is_a_permanent_failure_with_host_and_reason():
    with pytest.raises(BlockedDestination) as info:
        session().get("http://127.0.0.1:9/")

    assert isinstance(info.value, PermanentError)
    assert info.value.retryable is False
    assert info.value.host == "127.0.0.1"
    assert str(info.value) == (
        "127.0.0.1 is a loopback address; add it to AUTOMATION_OUTBOUND_ALLOWLIST to allow it"
    )


def test_message_for_a_resolved_name_names_the_host_and_the_address():
    with pytest.raises(BlockedDestination) as info:
        session().get("http://0x7f.1:9/")

    assert info.value.ip == "127.0.0.1"
    assert str(info.value) == (
        "0x7f.1 resolves to 127.0.0.1, a loopback address; "
        "add 0x7f.1 or 127.0.0.1 to AUTOMATION_OUTBOUND_ALLOWLIST to allow it"
    )


def test_services_http_is_the_guarded_session():
    http = Services(settings=Settings(outbound_allowlist=("127.0.0.1",))).http

    assert isinstance(http, GuardedClient)
    with pytest.raises(BlockedDestination):
        http.get("http://10.0.0.1/")


# --- the allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1"])
def test_allowlisted_ip_is_reached_in_any_spelling(receiver_factory, host):
    receiver = receiver_factory()

    response = session("127.0.0.1").get(f"http://{host}:{receiver.port}/hook")

    assert response.status_code == 200
    assert receiver.hits == [("127.0.0.1", "/hook", f"{host}:{receiver.port}")]


def test_allowlisted_cidr_is_reached(receiver_factory):
    receiver = receiver_factory(("127.0.0.2",))

    response = session("127.0.0.0/8").get(f"http://127.0.0.2:{receiver.port}/")

    assert response.status_code == 200
    assert [hit[0] for hit in receiver.hits] == ["127.0.0.2"]


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")
def test_allowlisted_ipv6_cidr_is_reached(receiver_factory):
    receiver = receiver_factory(("::1",))

    response = session("::1/128").get(f"http://[::1]:{receiver.port}/")

    assert response.status_code == 200
    assert [hit[0] for hit in receiver.hits] == ["::1"]


def test_allowlisted_hostname_is_reached_with_its_host_header(receiver_factory):
    receiver = receiver_factory()

    response = session("LOCALHOST").get(f"http://localhost:{receiver.port}/x")

    assert response.status_code == 200
    assert receiver.hits == [("127.0.0.1", "/x", f"localhost:{receiver.port}")]


def test_hostname_entry_does_not_allow_the_address_it_resolves_to(receiver_factory):
    receiver = receiver_factory()

    with pytest.raises(BlockedDestination):
        session("localhost").get(f"http://127.0.0.1:{receiver.port}/")

    assert receiver.hits == []


def test_allowlisted_address_does_not_open_its_neighbours(canary):
    with pytest.raises(BlockedDestination, match="127.0.0.2 is a loopback address"):
        session("127.0.0.1/32").get(f"http://127.0.0.2:{canary.port}/")

    assert canary.hits == []


@pytest.mark.parametrize("entry", ["127.0.0.1:8080", "*.example.com", "http://example.com", "a b"])
def test_unsupported_allowlist_entries_are_rejected_naming_the_entry(entry):
    with pytest.raises(ValueError, match="AUTOMATION_OUTBOUND_ALLOWLIST entry"):
        session(entry)


def test_allowlist_parses_hostnames_ips_and_networks():
    allowlist = Allowlist.parse(["Hooks.Example.COM.", "10.1.2.3", "fd00::/8", " ", "192.168.0.0/16"])

    assert allowlist.hostnames == frozenset({"hooks.example.com"})
    assert [str(n) for n in allowlist.networks] == ["10.1.2.3/32", "fd00::/8", "192.168.0.0/16"]


# --- is_allowed_ip and check_host --------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(ip):
    assert is_allowed_ip(ip) == (True, "a public address")


@pytest.mark.parametrize(("ip", "allowlist"), [("10.1.2.3", ["10.0.0.0/8"]), ("fd00::1", ["fd00::/8"])])
def test_allowlisted_networks_are_allowed(ip, allowlist):
    assert is_allowed_ip(ip, allowlist) == (True, "in AUTOMATION_OUTBOUND_ALLOWLIST")


def test_ipv4_allowlist_entry_covers_its_ipv4_mapped_form():
    assert is_allowed_ip("::ffff:127.0.0.1", ["127.0.0.1"])[0] is True


@pytest.mark.parametrize(("ip", "reason"), [("127.0.0.1", LOOPBACK), ("fd00:ec2::254", METADATA)])
def test_blocked_addresses_carry_their_reason(ip, reason):
    assert is_allowed_ip(ip) == (False, reason)


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f.1", "localhost", "metadata.google.internal", "[::1]"])
def test_check_host_blocks_non_http_destinations(host):
    with pytest.raises(BlockedDestination):
        check_host(host, 25, Settings())


def test_check_host_returns_the_checked_address_to_connect_to():
    assert check_host("127.1", 25, Settings(outbound_allowlist=("127.0.0.1",))) == "127.0.0.1"
    assert check_host("localhost", 25, Settings(outbound_allowlist=("localhost",))) in {"127.0.0.1", "::1"}


# --- redirects, DNS rebinding, TLS, keep-alive ---------------------------------------------------


@pytest.mark.parametrize("allow_redirects", [False, True])
def test_redirect_to_a_blocked_address_comes_back_unfollowed(receiver_factory, canary, allow_redirects):
    sender = receiver_factory(status=302, headers={"Location": f"http://127.0.0.2:{canary.port}/"})

    response = session("127.0.0.1/32").get(
        f"http://127.0.0.1:{sender.port}/", allow_redirects=allow_redirects
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"http://127.0.0.2:{canary.port}/"
    assert response.history == []
    assert len(sender.hits) == 1
    assert canary.hits == []


class _RebindingResolver:
    """Answers ``rebind.test`` with ``answers[n]`` on the n-th call; delegates every other name."""

    def __init__(self, answers, port):
        self.answers = answers
        self.port = port
        self.calls = 0
        self._real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host not in ("rebind.test", b"rebind.test"):  # the guard passes an ASCII name as bytes
            return self._real(host, port, *args, **kwargs)
        ips = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, self.port)) for ip in ips]


def test_an_ascii_host_is_resolved_as_bytes_and_a_unicode_one_as_text(monkeypatch):
    """As text, getaddrinfo encodes a name with the "idna" codec, which loads encodings.idna,
    stringprep and unicodedata (0.3 MB in a worker) to change nothing in an ASCII name."""
    seen = []

    def resolver(host, port, *args, **kwargs):
        seen.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    guard = session("127.0.0.1/32").guard
    guard.resolve("rebind.test", 80)
    guard.resolve("пример.test", 80)
    assert seen == [b"rebind.test", "пример.test"]


def test_dns_rebinding_connects_to_the_address_that_was_checked(receiver_factory, monkeypatch):
    target = receiver_factory(("127.0.0.1", "127.0.0.2"))
    resolver = _RebindingResolver([["127.0.0.1"], ["127.0.0.2"]], target.port)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = f"http://rebind.test:{target.port}/"

    first = session("127.0.0.1/32")
    assert first.get(url).status_code == 200
    assert resolver.calls == 1
    assert first.get(url).status_code == 200  # same pooled connection: nothing resolved again
    assert resolver.calls == 1
    assert target.hits == [("127.0.0.1", "/", f"rebind.test:{target.port}")] * 2

    with pytest.raises(BlockedDestination, match="rebind.test resolves to 127.0.0.2, a loopback address"):
        session("127.0.0.1/32").get(url)  # a new connection resolves once more, and is checked again
    assert resolver.calls == 2
    assert [hit[0] for hit in target.hits] == ["127.0.0.1", "127.0.0.1"]


@pytest.mark.parametrize("answer", [["127.0.0.1", "127.0.0.2"], ["127.0.0.2", "127.0.0.1"]])
def test_dns_rebinding_answer_with_any_blocked_address_is_refused(receiver_factory, monkeypatch, answer):
    target = receiver_factory(("127.0.0.1", "127.0.0.2"))
    monkeypatch.setattr(socket, "getaddrinfo", _RebindingResolver([answer], target.port))

    with pytest.raises(BlockedDestination, match="127.0.0.2, a loopback address"):
        session("127.0.0.1/32").get(f"http://rebind.test:{target.port}/")

    assert target.hits == []


def test_https_to_a_pinned_address_verifies_the_certificate_against_the_hostname(receiver_factory, tls):
    server_context, ca_file = tls
    receiver = receiver_factory(ssl_context=server_context)
    http = session("127.0.0.1", "::1")

    first = http.get(f"https://localhost:{receiver.port}/a", verify=ca_file)
    second = http.get(f"https://localhost:{receiver.port}/b", verify=ca_file)

    assert (first.status_code, second.status_code) == (200, 200)
    assert receiver.sni == ["localhost"]
    assert receiver.connections == 1
    assert [hit[2] for hit in receiver.hits] == [f"localhost:{receiver.port}"] * 2


def test_https_with_a_name_the_certificate_does_not_cover_fails_verification(receiver_factory, tls):
    server_context, ca_file = tls
    receiver = receiver_factory(ssl_context=server_context)

    with pytest.raises(TLSError, match="127.0.0.1"):
        session("127.0.0.1").get(f"https://127.0.0.1:{receiver.port}/", verify=ca_file)

    assert receiver.hits == []


def test_keep_alive_reuses_one_connection(receiver_factory):
    receiver = receiver_factory()
    http = session("127.0.0.1")

    for path in ("/one", "/two", "/three"):
        assert http.get(f"http://127.0.0.1:{receiver.port}{path}").status_code == 200

    assert receiver.connections == 1
    assert [hit[1] for hit in receiver.hits] == ["/one", "/two", "/three"]


def test_default_timeout_comes_from_settings(monkeypatch):
    seen = {}

    def fake_send(self, request, **kwargs):
        seen["timeout"] = kwargs["timeout"]
        raise RuntimeError("stop")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake_send)
    with pytest.raises(RuntimeError):
        guarded_client(Settings(http_timeout=7.5)).get("http://8.8.8.8/")

    assert seen == {"timeout": 7.5}
