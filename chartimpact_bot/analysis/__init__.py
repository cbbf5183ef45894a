"""The analysis library: sources → charts → render → manifests → normalize → diff → report.

It knows nothing of GitHub or of the web server, so the command line, the App and the HTTP API
run the very same pipeline.
"""
