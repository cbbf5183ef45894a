"""What ChartImpact knows about Kubernetes objects, in one place, for classification and signals.

One module per subject: `bodies` (reading untrusted bodies), `workloads` (pod-bearing kinds and
where their pod template lives), `containers` (the three container lists, effective security
context), `quantities`, `images`, `selectors`, `ports`, `references` (ConfigMaps, Secrets, claims
and accounts a pod uses), `pod_security` (the Pod Security Standards) and `rbac`.

Everything here reads plain resource bodies and never raises on odd shapes: a chart can render
anything, and an analysis must not crash on it.
"""
