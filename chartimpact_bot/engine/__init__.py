"""The analysis engine: the part that does I/O. It reads chart sources (a directory, git, a
snapshot of GitHub blobs), fetches and unpacks dependencies, renders with the real Helm engine in
isolated processes, and runs the pure core (`chartimpact_bot.core`) over the results.

The command line, the App and the HTTP API all call `engine.pipeline`, so they run the very same
analysis.
"""
