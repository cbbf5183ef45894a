"""A thin adapter over gidgethub: authentication, requests, reading charts, publishing results."""
