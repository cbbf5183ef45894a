"""Availability signals (`availability.*`): changes that can take pods out of service or stop a
rollout. One module per type prefix: `availability.probe.*` is in probes.py."""
