"""The one network probe, tried for real on loopback (so it passes online and offline alike)."""
import socket

from daylib.network import reachable


def test_reachable_is_true_for_a_listening_port_and_false_once_it_closes():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert reachable("127.0.0.1", port, timeout=2.0) is True
    server.close()
    assert reachable("127.0.0.1", port, timeout=2.0) is False


def test_an_unknown_host_is_unreachable_not_an_error():
    assert reachable("no-such-host.invalid", 443, timeout=2.0) is False
