"""The fetcher of every kind of remote repository, built from what the operator configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .cache import DEFAULT_MAX_BYTES, ArchiveCache
from .credentials import NO_CREDENTIALS, RepositoryCredentials
from .errors import FetchedChart, FetchError
from .guard import GuardedClient
from .http_repository import HttpRepositoryFetcher
from .oci import OciRegistryFetcher


@dataclass(frozen=True, slots=True)
class RepositoryAccess:
    """How remote dependencies are fetched: picklable, so the App hands it to its workers.

    `allow_private_networks`: reach repositories on loopback and private addresses (refused by
    default: the URL comes from a pull request). `cache_dir`: where archives are kept by digest
    (None: nowhere), up to `cache_max_bytes`."""

    credentials: RepositoryCredentials = field(default=NO_CREDENTIALS, repr=False)
    allow_private_networks: bool = False
    cache_dir: str | None = None
    cache_max_bytes: int = DEFAULT_MAX_BYTES


class RemoteFetcher:
    """`http(s)://` repositories and `oci://` registries, through one guarded client."""

    def __init__(self, http: HttpRepositoryFetcher, oci: OciRegistryFetcher) -> None:
        self.http = http
        self.oci = oci

    def fetch(self, repository: str, name: str, version: str | None) -> FetchedChart:
        scheme = repository.partition("://")[0].lower()
        if scheme == "oci":
            return self.oci.fetch(repository, name, version)
        if scheme in ("http", "https"):
            return self.http.fetch(repository, name, version)
        raise FetchError(f"'{scheme}' repositories are not fetched")


def build_fetcher(access: RepositoryAccess, *, client: GuardedClient | None = None) -> RemoteFetcher:
    """`client`: the guarded client to use (tests point it at their own network)."""
    client = client or GuardedClient(allow_private_networks=access.allow_private_networks)
    cache = ArchiveCache(Path(access.cache_dir), max_bytes=access.cache_max_bytes) if access.cache_dir else None
    return RemoteFetcher(
        HttpRepositoryFetcher(client=client, cache=cache, credentials=access.credentials),
        OciRegistryFetcher(client, credentials=access.credentials, cache=cache),
    )
