"""Where the kaggle client will find credentials, asked of the client's own configuration code.

It never imports ``kaggle``: importing it authenticates at once (printing help, going
online to check a token, exiting the process on failure). :mod:`daylib.data.kaggle`
uses this before it builds the client, and the environment report shows it.

Example:
    >>> from daylib.data.kaggle_credentials import find_kaggle_credentials
    >>> find_kaggle_credentials()
    '/home/me/.kaggle/kaggle.json'
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

__all__ = ["CREDENTIALS_HELP", "HOW_TO_GET_CREDENTIALS", "KaggleCredentialsError", "config_dir",
           "find_kaggle_credentials"]

HOW_TO_GET_CREDENTIALS = """To get them:
  1. Sign in at https://www.kaggle.com, open Settings (click your picture, then Settings).
  2. Under "API", click "Create New Token": your browser saves kaggle.json.
  3. Put it where the kaggle client looks, readable only by you:
       mkdir -p ~/.kaggle && mv ~/Downloads/kaggle.json ~/.kaggle/ && chmod 600 ~/.kaggle/kaggle.json
     or set the environment variables KAGGLE_USERNAME and KAGGLE_KEY (the two values inside kaggle.json),
     e.g. in Colab's "Secrets" panel. (A newer-style API token works too: KAGGLE_API_TOKEN.)
Without credentials, load("phantom") gives the synthetic chest X-rays instead."""

CREDENTIALS_HELP = ("No Kaggle credentials found, so the chest X-ray dataset cannot be downloaded.\n"
                    + HOW_TO_GET_CREDENTIALS)

_TOKEN_SOURCES = {
    "KAGGLE_API_TOKEN": "the KAGGLE_API_TOKEN environment variable",
    "access_token": "the access token file ~/.kaggle/access_token",
    "KAGGLE_API_V1_TOKEN": "the Kaggle notebook's API token (KAGGLE_API_V1_TOKEN)",
}
"""kagglesdk's names for where it found an access token, in words."""


class KaggleCredentialsError(RuntimeError):
    """No (or unusable) Kaggle API credentials; the message says how to get them."""


def find_kaggle_credentials() -> Optional[str]:
    """Say where the kaggle client will find credentials, or None if nowhere.

    Follows the order of the client's ``KaggleApi.authenticate`` and, where it can,
    calls the client's own code for each source. It does not import ``kaggle``:
    importing it authenticates at once (printing help, going online to check a
    token, exiting on failure). Nothing is sent over the network, so a token that
    Kaggle would reject still counts as found.

    1. An access token, found by ``kagglesdk.kaggle_env.get_access_token_from_env``:
       ``KAGGLE_API_TOKEN``, ``~/.kaggle/access_token``, a Kaggle notebook's token.
    2. A legacy API key: ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``, or ``kaggle.json`` in the
       client's configuration folder (see :func:`_legacy_api_key`).
    3. OAuth credentials, read by ``kagglesdk.KaggleCredentials.load``
       (``~/.kaggle/credentials.json`` with a refresh token).

    Without ``kagglesdk`` (kaggle before 1.7, or no kaggle at all) only step 2 is looked at:
    older clients read nothing else.

    Raises:
        KaggleCredentialsError: a ``kaggle.json`` exists but is not JSON or lacks username/key.

    Example:
        >>> find_kaggle_credentials()
        '/home/me/.kaggle/kaggle.json'
    """
    return _access_token() or _legacy_api_key() or _oauth_credentials()


def _access_token() -> Optional[str]:
    try:
        from kagglesdk.kaggle_env import get_access_token_from_env
    except ImportError:
        return None
    token, source = get_access_token_from_env()
    return _TOKEN_SOURCES.get(source, f"the kaggle client's {source}") if token else None


def _legacy_api_key() -> Optional[str]:
    """Where the client's legacy key (``username`` + ``key``) comes from, or None; a broken ``kaggle.json`` raises.

    The one hand-written part of the lookup. The client (``kaggle/api/kaggle_api_extended.py``)
    computes its configuration folder in the body of class ``KaggleApi``, which runs only
    when ``kaggle`` is imported, and importing it authenticates (and creates the folder):
    no function of the client gives the folder without that. So these lines follow that
    code: ``KAGGLE_CONFIG_DIR``, else ``~/.kaggle``, else (on Linux, when ``~/.kaggle``
    does not exist) ``$XDG_CONFIG_HOME/kaggle``, default ``~/.config/kaggle``. As in
    ``KaggleApi.read_config_environment``, ``KAGGLE_USERNAME`` / ``KAGGLE_KEY`` override
    the file's values.
    """
    from_env = {name: os.environ.get(f"KAGGLE_{name.upper()}") for name in ("username", "key")}
    if all(from_env.values()):
        return "the KAGGLE_USERNAME and KAGGLE_KEY environment variables"
    config_file = config_dir() / "kaggle.json"
    if not config_file.is_file():
        return None
    try:
        values = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise KaggleCredentialsError(f"{config_file} is not readable JSON ({error}). {CREDENTIALS_HELP}") from None
    if not isinstance(values, dict):
        values = {}
    values.update({name: value for name, value in from_env.items() if value})
    if not (values.get("username") and values.get("key")):
        raise KaggleCredentialsError(f'{config_file} must hold {{"username": ..., "key": ...}}. {CREDENTIALS_HELP}')
    return str(config_file)


def config_dir() -> Path:
    """The kaggle client's configuration folder, where it reads ``kaggle.json``.

    Example:
        >>> config_dir().name
        '.kaggle'
    """
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return Path(os.environ["KAGGLE_CONFIG_DIR"])
    home = Path(os.path.expanduser("~"))
    legacy = home / ".kaggle"
    if sys.platform.startswith("linux") and not legacy.exists():
        return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"
    return legacy


def _oauth_credentials() -> Optional[str]:
    try:
        from kagglesdk import KaggleCredentials
    except ImportError:
        return None
    if KaggleCredentials.load(client=None) is None:  # reads the file only; the client is used for refreshing
        return None
    return os.path.expanduser(KaggleCredentials.DEFAULT_CREDENTIALS_FILE)
