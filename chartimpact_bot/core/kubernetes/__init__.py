"""What ChartImpact knows about Kubernetes objects, in one place, for classification and signals.

One module per subject: `bodies` (reading untrusted bodies), `paths` (field paths and how reports
write them), `workloads` (pod-bearing kinds and where their pod template lives, replicas),
`containers` (the three container lists, the effective security context), `quantities`,
`images`, `selectors`, `ports` (what a Service targets, named container ports, host ports),
`references` (the ConfigMaps, Secrets, claims and account a pod needs), `pod_security` (the Pod
Security Standards), `rbac` (role and binding kinds, grants), `networking` (exposure),
`network_policies` (what NetworkPolicies isolate and allow), `scopes` (which kinds are
cluster-scoped) and `apis` (removed API versions).

Everything here reads plain resource bodies and never raises on odd shapes: a chart can render
anything, and an analysis must not crash on it.
"""
