"""Cross-resource patterns (`pattern.*`), computed after every other detector over the signals
found; each names the signals it aggregates."""
