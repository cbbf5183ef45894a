"""GitOps deployments of charts (issue 13): Argo CD Applications and Flux HelmReleases as Helm would be run for them."""
