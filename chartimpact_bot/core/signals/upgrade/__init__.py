"""Upgrade-safety signals (`upgrade.*`): changes the API server rejects on `helm upgrade`, or that
lose data. One module per type prefix: `upgrade.immutable.*` is in immutable.py."""
