"""ChartImpact where people already work with charts: the GitHub Action (`action.yml`), the Helm
plugin (`plugin.yaml`) and the pre-commit hook (`.pre-commit-hooks.yaml`) run the command line;
what they need beyond it lives here."""
