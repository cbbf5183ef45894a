"""Will the cluster accept it: every rendered resource checked against the schemas of each target
Kubernetes release (schemas.py) and against the chart's own CRDs (crds.py); problems.py says
what is wrong, where, in words that show no value."""
