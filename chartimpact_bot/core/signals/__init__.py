"""Signals: the changes that matter for availability, security and upgrade safety.

`engine.detect_signals` runs every registered detector (one module per family) over a chart's
diff; `registry` holds their metadata, which also generates docs/signals.md.
"""
