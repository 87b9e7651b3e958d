"""Whether a host can be reached: the one network probe behind every online path.

The online paths (``keras.applications`` ImageNet weights, the Kaggle download) ask this
first, so that offline they fail in seconds with a message that says what to do, not
after a long time-out deep inside another library. :func:`address` turns a service's
base URL into the ``(host, port)`` to probe.

Example:
    >>> from daylib.network import address, reachable
    >>> reachable("localhost", 1, timeout=0.5)
    False
    >>> reachable(*address("http://localhost:7777"), timeout=0.5)   # True while something serves there
    False
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

__all__ = ["address", "reachable"]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True when a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Example:
        >>> reachable("www.kaggle.com")      # False on an offline machine
    """
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def address(url: str) -> tuple[str, int]:
    """The ``(host, port)`` a URL connects to; without a port, 443 for https and 80 for http.

    Raises:
        ValueError: the URL names no host, or no port and a scheme other than http(s).

    Example:
        >>> address("https://api.kaggle.com")
        ('api.kaggle.com', 443)
        >>> address("http://localhost:7777/api/v1")
        ('localhost', 7777)
    """
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    if not parts.hostname or port is None:
        raise ValueError(f"{url!r} is not a URL with a host and a port (or an http/https scheme), "
                         "e.g. https://api.kaggle.com or http://localhost:7777.")
    return parts.hostname, port
