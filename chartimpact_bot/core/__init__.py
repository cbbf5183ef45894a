"""The pure analysis core: rendered documents → resources → normalize → diff → classify → signals
→ policy → report.

It does no I/O of its own (no processes, sockets, HTTP or temporary files: the architecture test
holds it to that) and knows nothing of GitHub, the web server or the job queue. The engine
(`chartimpact_bot.engine`) reads sources and renders charts, then hands the core plain values.
"""
