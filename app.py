"""Entry point of the GitHub App server (Procfile: `web: python app.py`).

The server itself is built by the GitHub App work (issue #4); until then this reports that
clearly instead of pretending to serve.
"""

from chartimpact_bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve"]))
