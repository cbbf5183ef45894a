"""Remote chart dependencies: HTTP(S) Helm repositories and OCI registries.

| module | what it does |
|---|---|
| `errors.py` | `FetchError`, `FetchedChart` and the `DependencyFetcher` protocol materializing uses |
| `guard.py` | the one HTTP client: SSRF guard, pinned connections, size and time bounds, redirects |
| `http_repository.py` | `index.yaml` repositories |
| `oci.py` | OCI registries: tags, manifests, chart layers, token and basic authentication |
| `credentials.py` | the operator's credentials file, matched by URL prefix |
| `cache.py` | archives on disk by content digest, verified when read, bounded in size |
| `fetchers.py` | `RepositoryAccess` (the configuration) → the fetcher for every scheme |
"""

from .credentials import NO_CREDENTIALS, RepositoryCredentials, load_credentials
from .errors import DependencyFetcher, FetchedChart, FetchError
from .fetchers import RemoteFetcher, RepositoryAccess, build_fetcher
from .guard import GuardedClient
from .http_repository import HttpRepositoryFetcher
from .oci import OciRegistryFetcher

__all__ = [
    "NO_CREDENTIALS",
    "DependencyFetcher",
    "FetchError",
    "FetchedChart",
    "GuardedClient",
    "HttpRepositoryFetcher",
    "OciRegistryFetcher",
    "RemoteFetcher",
    "RepositoryAccess",
    "RepositoryCredentials",
    "build_fetcher",
    "load_credentials",
]
