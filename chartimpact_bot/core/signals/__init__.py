"""Signals: the changes that matter for availability, security and upgrade safety.

- One package per family, one module per type prefix: `security.context.*` is in
  security/context.py, `availability.probe.*` in availability/probes.py, `pattern.*` in pattern/.
  A module's detectors register themselves (registry.py) and the engine imports every family
  module, so a new type is a function in a module and a golden case (tests/golden/signals/).
- `engine.detect_signals` runs the detectors over a chart (`context.SignalContext`), merges their
  findings into signals and derives each changeType by the one rule (`registry.change_type`).
- `findings` and `common` keep detectors short, `traffic` says what the NetworkPolicies of each
  side let the chart's workloads receive and send; what they know of Kubernetes itself is in
  core/kubernetes/.
- `custom`, `rule_paths` and `rule_patterns` run a repository's own rules (`.chartimpact.yml`).
- `catalogue` generates docs/signals.md from the registry.
"""
