"""The Kaggle chest X-ray dataset: credentials, the download and its verified install.

The real data is Kaggle's ``paultimothymooney/chest-xray-pneumonia`` (Kermany et
al., Cell 2018): ``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``, train
5,216 images (1,341 normal / 3,875 pneumonia), val 16, test 624 (234 / 390).

- :func:`find_kaggle_credentials` (from :mod:`daylib.data.kaggle_credentials`) says
  where the ``kaggle`` client will find credentials.
- :func:`download` fetches the zip with the client (credentials and network
  checked first, with a clear message when either is missing), extracts it into
  a temporary folder, checks the per-class file counts (:func:`count_problems`)
  and only then moves it into place, so an interrupted run never leaves a copy
  that looks complete. Every way the client can fail (credentials Kaggle
  rejects, dataset rules not accepted, rate limits, server errors, a transfer
  cut short) ends in a :class:`KaggleCredentialsError` or :class:`DownloadError`
  that says what to do.
- :func:`api_endpoint` is where the client's calls go: kagglesdk's endpoint for
  ``KAGGLE_API_ENVIRONMENT`` (production ``https://api.kaggle.com`` when unset;
  ``TEST`` is ``http://localhost:7777``, which the tests serve). The network
  check, the messages and the client all follow it.

Reading the copy is :func:`daylib.data.folders.load_folder`'s job; choosing it
over the phantoms and re-splitting it by patient is :func:`daylib.data.pneumonia.load`'s.

Example:
    >>> from daylib.data import kaggle
    >>> kaggle.find_kaggle_credentials()
    '/home/me/.kaggle/kaggle.json'
    >>> kaggle.download()                  # about 1.2 GB into data/chest_xray
    PosixPath('.../data/chest_xray')
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional, Union

from daylib import config
from daylib.data.folders import LAYOUT, is_image_name, layout_hint
from daylib.data.kaggle_credentials import (
    CREDENTIALS_HELP,
    HOW_TO_GET_CREDENTIALS,
    KaggleCredentialsError,
    config_dir,
    find_kaggle_credentials,
)
from daylib.data.splits import SPLITS
from daylib.network import address, reachable

if TYPE_CHECKING:  # the client is imported only when a download needs it
    from kaggle.api.kaggle_api_extended import KaggleApi
    from kagglesdk.kaggle_env import KaggleEnv

KAGGLE_DATASET = "paultimothymooney/chest-xray-pneumonia"
EXPECTED_COUNTS = {
    "train": {"NORMAL": 1341, "PNEUMONIA": 3875},
    "val": {"NORMAL": 8, "PNEUMONIA": 8},
    "test": {"NORMAL": 234, "PNEUMONIA": 390},
}
"""Image files per split and class in a complete Kaggle copy."""

Counts = Mapping[str, Mapping[str, int]]
"""Image files per split and class, shaped like :data:`EXPECTED_COUNTS`."""

class DownloadError(RuntimeError):
    """The Kaggle download could not run or did not produce a complete copy."""


def default_root() -> Path:
    """Where the Kaggle copy lives: ``config.DATA_DIR / "chest_xray"``.

    Example:
        >>> default_root().name
        'chest_xray'
    """
    return config.DATA_DIR / "chest_xray"


def download(dest: Union[str, Path, None] = None, force: bool = False, quiet: bool = False,
             expected_counts: Optional[Counts] = None) -> Path:
    """Download and unpack the Kaggle chest X-ray dataset into ``dest``; return ``dest``.

    A complete copy already at ``dest`` (all per-class file counts as in
    ``expected_counts``) is kept and nothing is downloaded. Otherwise the
    zip (about 1.2 GB) goes to ``<dest>.download/`` (an interrupted download
    resumes there), is extracted into a temporary folder beside ``dest``, checked,
    and only then moved to ``dest``; the zip is deleted once installed. A
    download that fails installs nothing: ``dest`` is left as it was, and
    ``<dest>.download/`` is kept only when it holds part of the zip to resume from.

    Args:
        dest: target folder (default ``config.DATA_DIR / "chest_xray"``); it will
            hold ``train``, ``val`` and ``test`` directly.
        force: download again even when a complete copy exists, replacing it.
        quiet: hide the progress bars.
        expected_counts: image files per split and class in a complete copy;
            default :data:`EXPECTED_COUNTS`, the real archive's.

    Raises:
        KaggleCredentialsError: no credentials (the message says how to make them),
            or credentials Kaggle rejects (HTTP 401).
        DownloadError: Kaggle unreachable, the dataset's rules not accepted (HTTP 403),
            rate limited (429), a server error (5xx), a transfer cut short, a broken
            zip, or unexpected counts. The message says which, and what to do.
        FileExistsError: ``dest`` holds something that is not a complete copy.

    Example:
        >>> download()                      # needs ~/.kaggle/kaggle.json
        PosixPath('.../data/chest_xray')
    """
    dest = Path(dest) if dest is not None else default_root()
    if not force and not count_problems(dest, expected_counts):
        if not quiet:
            print(f"Kaggle chest X-rays already complete at {dest}.")
        return dest
    if dest.exists() and any(dest.iterdir()) and not force:
        problems = "; ".join(count_problems(dest, expected_counts)[:3])
        raise FileExistsError(
            f"{dest} exists but is not a complete copy of {KAGGLE_DATASET} ({problems}). "
            + (layout_hint(dest, argument="dest") or "Delete the folder, or call download(force=True) to replace it.")
        )
    credentials = find_kaggle_credentials()
    if credentials is None:
        raise KaggleCredentialsError(CREDENTIALS_HELP)
    check_network()
    api = _kaggle_api(credentials)
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # left by a killed extraction
        shutil.rmtree(stale, ignore_errors=True)
    cache = dest.parent / f"{dest.name}.download"
    cache.mkdir(parents=True, exist_ok=True)
    try:
        api.dataset_download_files(KAGGLE_DATASET, path=str(cache), quiet=quiet, unzip=False)
    except Exception as error:  # requests' HTTP and connection errors, urllib3's, OSError, ValueError
        if not any(path.stat().st_size for path in cache.glob("*.zip")):
            shutil.rmtree(cache, ignore_errors=True)  # nothing to resume from
        raise _client_failure(error, credentials, cache) from error
    zips = sorted(cache.glob("*.zip"))
    if not zips:
        raise DownloadError(f"The kaggle client finished but left no zip file in {cache}.")
    try:
        _install_from_zip(zips[0], dest, quiet, expected_counts)
    except DownloadError:  # a broken or incomplete zip is not worth keeping
        shutil.rmtree(cache, ignore_errors=True)
        raise
    shutil.rmtree(cache, ignore_errors=True)
    return dest


def count_problems(root: Union[str, Path], expected_counts: Optional[Counts] = None) -> list[str]:
    """Differences between ``root`` and a complete Kaggle copy (``expected_counts``, default
    :data:`EXPECTED_COUNTS`); empty when complete.

    Example:
        >>> count_problems("data/chest_xray")
        ['train/NORMAL: 0 images, expected 1341', ...]
    """
    root = Path(root)
    problems = []
    for split, classes in _expected(expected_counts).items():
        for class_name, expected in classes.items():
            folder = root / split / class_name
            found = sum(1 for f in folder.iterdir() if is_image_name(f)) if folder.is_dir() else 0
            if found != expected:
                problems.append(f"{split}/{class_name}: {found} images, expected {expected}")
    return problems


def check_network(timeout: float = 5.0) -> None:
    """Return when the Kaggle API answers; raise :class:`DownloadError` at once when it does not.

    Dials the host and port of :func:`api_endpoint`, where the client's calls go, with
    the one network probe, :func:`daylib.network.reachable`, so an offline machine
    fails in seconds with a message instead of deep inside the kaggle client.

    Example:
        >>> check_network()     # offline: DownloadError: Cannot reach the Kaggle API at https://api.kaggle.com ...
    """
    url = api_endpoint()
    host, port = address(url)
    if not reachable(host, port, timeout):
        raise DownloadError(
            f"Cannot reach the Kaggle API at {url}{_environment_note()} ({host}:{port} does not answer): "
            "this machine looks offline. Connect and retry, or use load('phantom') for the synthetic chest X-rays."
        )


def api_endpoint() -> str:
    """The base URL of the Kaggle API: kagglesdk's endpoint for ``KAGGLE_API_ENVIRONMENT``.

    Unset (or ``PROD``) it is production, ``https://api.kaggle.com``. kagglesdk's
    other environments move every call: ``TEST`` is ``http://localhost:7777``,
    the loopback server the tests run. :func:`download` sends the client there
    too (the client itself reads only ``LOCALHOST`` from the variable).

    Raises:
        DownloadError: no kagglesdk (kaggle older than 1.7, or none), or a name kagglesdk does not know.

    Example:
        >>> api_endpoint()
        'https://api.kaggle.com'
    """
    environment = _kaggle_environment()
    from kagglesdk.kaggle_env import get_endpoint

    return get_endpoint(environment)


def dataset_page() -> str:
    """The dataset's web page (where its rules are accepted), under kagglesdk's web endpoint.

    Example:
        >>> dataset_page()
        'https://kaggle.com/datasets/paultimothymooney/chest-xray-pneumonia'
    """
    environment = _kaggle_environment()
    from kagglesdk.kaggle_env import get_web_endpoint

    return f"{get_web_endpoint(environment)}/datasets/{KAGGLE_DATASET}"


def _kaggle_environment() -> KaggleEnv:
    """kagglesdk's ``KaggleEnv`` for ``KAGGLE_API_ENVIRONMENT``, as a :class:`DownloadError` when it has none."""
    try:
        from kagglesdk.kaggle_env import get_env
    except ImportError as error:
        raise DownloadError(_MISSING_CLIENT) from error
    try:
        return get_env()
    except Exception as error:  # kagglesdk raises a bare Exception for a name it does not know
        raise DownloadError(f"{error}. Unset KAGGLE_API_ENVIRONMENT to download from kaggle.com "
                            "(TEST sends the client to a local test server on port 7777).") from None


def _environment_note() -> str:
    name = os.environ.get("KAGGLE_API_ENVIRONMENT")
    return f" (KAGGLE_API_ENVIRONMENT={name})" if name and name != "PROD" else ""


def _expected(expected_counts: Optional[Counts]) -> Counts:
    return EXPECTED_COUNTS if expected_counts is None else expected_counts


def _install_from_zip(zip_path: Path, dest: Path, quiet: bool, expected_counts: Optional[Counts] = None) -> None:
    """Extract the dataset's split folders into a temporary folder, check counts, move to ``dest``."""
    from tqdm.auto import tqdm

    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{zip_path} is not a valid zip ({error}); it is deleted, run download() again.") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        with archive:
            prefix = _dataset_prefix(archive.namelist(), expected_counts)
            members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()
                       and m.filename[len(prefix):].split("/")[0] in SPLITS]
            for member in tqdm(members, desc="Extracting", unit="file", disable=quiet):
                relative = Path(member.filename[len(prefix):])
                if ".." in relative.parts or relative.name.startswith("."):
                    continue
                target = tmp / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
        problems = count_problems(tmp, expected_counts)
        if problems:
            raise DownloadError(f"The extracted dataset does not match {KAGGLE_DATASET}: {'; '.join(problems)}.")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dataset_prefix(names: list[str], expected_counts: Optional[Counts] = None) -> str:
    """The zip folder holding the splits: the shortest one with the expected counts, else the fullest.

    Kaggle's zip nests a second copy (``chest_xray/chest_xray/``) and macOS
    metadata (``__MACOSX``) beside the real folders.
    """
    marker = "train/NORMAL/"
    prefixes = sorted({name[: name.index(marker)] for name in names if marker in name and "__MACOSX" not in name},
                      key=len)
    if not prefixes:
        raise DownloadError(f"The zip has no train/NORMAL folder; expected the layout {LAYOUT}.")
    counts = {prefix: Counter(_split_and_class(name[len(prefix):]) for name in names if name.startswith(prefix))
              for prefix in prefixes}
    expected = {(split, c): n for split, classes in _expected(expected_counts).items() for c, n in classes.items()}
    complete = [prefix for prefix in prefixes if all(counts[prefix][key] == n for key, n in expected.items())]
    return complete[0] if complete else max(prefixes, key=lambda prefix: sum(counts[prefix].values()))


def _split_and_class(relative: str) -> Optional[tuple[str, str]]:
    parts = relative.split("/")
    if len(parts) != 3 or not is_image_name(Path(parts[2]), on_disk=False):
        return None
    return parts[0], parts[1]


def _kaggle_api(credentials: str) -> KaggleApi:
    """The authenticated kaggle client, imported only now (importing it authenticates at once).

    Two settings are made to agree with this module, which the client does not do by itself:

    - Its calls go to :func:`api_endpoint`. ``KaggleApi.build_kaggle_client`` passes kagglesdk
      the production environment unless the command line says ``--local``, ``--staging``
      or ``--admin``, so ``KAGGLE_API_ENVIRONMENT`` (other than ``LOCALHOST``) never reaches it.
    - It reads ``kaggle.json`` from :func:`daylib.data.kaggle_credentials.config_dir` as it is now, where
      :func:`find_kaggle_credentials` looked. ``KaggleApi`` fixes that folder once, in its
      class body, when ``kaggle`` is first imported: a ``kaggle.json`` put in place after
      that (or a ``HOME`` / ``KAGGLE_CONFIG_DIR`` changed since) would be missed.
    """
    environment = _kaggle_environment()
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
        from kagglesdk import KaggleClient
    except ImportError as error:
        raise DownloadError(_MISSING_CLIENT) from error

    class EndpointKaggleApi(KaggleApi):
        def build_kaggle_client(self) -> KaggleClient:
            return KaggleClient(env=environment, verbose="--verbose" in self.args,
                                username=self.config_values.get(self.CONFIG_NAME_USER),
                                password=self.config_values.get(self.CONFIG_NAME_KEY),
                                api_token=self.config_values.get(self.CONFIG_NAME_TOKEN),
                                response_processor=self.get_response_processor())

    api = EndpointKaggleApi()
    api.config_dir = str(config_dir())
    api.config = os.path.join(api.config_dir, api.config_file)
    try:
        api.authenticate()
    except SystemExit:  # the client prints its own help, then calls exit(1), when nothing it found works
        raise KaggleCredentialsError(
            f"The kaggle client could not use the credentials from {credentials}: Kaggle reports them "
            f"invalid or expired, and it found no others.\n{HOW_TO_GET_CREDENTIALS}") from None
    except Exception as error:  # checking an access token is a call to Kaggle, and can fail as one
        raise _client_failure(error, credentials) from error
    return api


_MISSING_CLIENT = ("The kaggle package is missing, or older than 1.7 (it has no kagglesdk): "
                   "pip install -U 'kaggle>=2.2,<3' (the range daylib is tested with).")


def _client_failure(error: Exception, credentials: str, cache: Optional[Path] = None) -> Exception:
    """The daylib error for an exception from the kaggle client: by HTTP status, else a cut connection.

    The client raises ``requests.HTTPError`` for an error answer (with Kaggle's JSON
    ``message``, or requests' "401 Client Error: ..." text), and once its retries
    (five, with back-off) run out, the connection or protocol error of the last try.
    """
    import requests
    import urllib3

    response = error.response if isinstance(error, requests.HTTPError) else None
    status = response.status_code if response is not None else None
    said = f"HTTP {status}: {error}" if status else f"{type(error).__name__}: {error}"
    if status == 401:
        return KaggleCredentialsError(
            f"Kaggle rejected the credentials from {credentials} ({said}): the key is mistyped, or was "
            "replaced by a newer one (each \"Create New Token\" ends the last). Make a new token and put it in place.\n"
            + HOW_TO_GET_CREDENTIALS)
    if status == 403:
        return DownloadError(
            f"Kaggle refused the download ({said}). Open {dataset_page()} signed in with the account of these "
            f"credentials ({credentials}), accept the dataset's rules or terms if the page asks, "
            "then run download() again.")
    if status == 404:
        return DownloadError(f"Kaggle has no dataset {KAGGLE_DATASET} at {api_endpoint()}{_environment_note()} "
                             f"({said}). Check {dataset_page()} in a browser.")
    if status == 429:
        wait = response.headers.get("Retry-After")
        return DownloadError(f"Kaggle is limiting how often this account downloads ({said}). Wait "
                             f"{f'{wait} seconds' if wait else 'a few minutes'}, then run download() again.")
    if status is not None and status >= 500:
        return DownloadError(f"Kaggle's server failed ({said}): a problem on Kaggle's side, not in your setup. "
                             "Run download() again in a few minutes.")
    if status is not None:
        return DownloadError(f"Kaggle answered with an error ({said}).")
    if isinstance(error, (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError)):
        # connection refused or reset, a body cut short (ValueError: the client's own size check)
        partial = cache is not None and any(path.stat().st_size for path in cache.glob("*.zip"))
        kept = (f"; the part downloaded so far is kept in {cache}, and the next download() resumes from it"
                if partial else "")
        return DownloadError(f"The connection to Kaggle broke off ({said}), and the kaggle client's retries did "
                             f"not get it back. Nothing was installed{kept}. Check the connection and run "
                             "download() again.")
    return DownloadError(f"The kaggle client failed ({said}).")
