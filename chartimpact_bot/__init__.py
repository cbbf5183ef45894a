"""ChartImpact bot: what a Helm chart change does to the Kubernetes resources it renders."""

__version__ = "0.1.0"
