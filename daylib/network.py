"""Whether a host can be reached: the one network probe behind every online path.

The online paths (``keras.applications`` ImageNet weights, the Kaggle download) ask this
first, so that offline they fail in seconds with a message that says what to do, not
after a long time-out deep inside another library.

Example:
    >>> from daylib.network import reachable
    >>> reachable("localhost", 1, timeout=0.5)
    False
"""
from __future__ import annotations

import socket

__all__ = ["reachable"]


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
