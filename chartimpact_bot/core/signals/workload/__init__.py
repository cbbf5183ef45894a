"""Workload signals (`workload.*`, category other): images, pull policy and namespaces, worth a
reviewer's eye."""
