"""Renderers of a Report: JSON (the contract), text (terminals) and Markdown (PR comments)."""
