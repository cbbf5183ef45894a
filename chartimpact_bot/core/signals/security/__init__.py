"""Security signals (`security.*`): what a change lets pods, accounts or the network do that they
could not before. One module per type prefix: `security.context.*` is in context.py."""
