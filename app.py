"""Entry point of the GitHub App server (Procfile: `web: python app.py`)."""

from chartimpact_bot.web.serve import serve

if __name__ == "__main__":
    raise SystemExit(serve())
