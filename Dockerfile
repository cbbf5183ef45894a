# ChartImpact bot: the GitHub App server (`python app.py`), see docs/deployment.md.
#   docker build -t chartimpact-bot .
#   docker run -p 8080:8080 -v chartimpact-data:/app/data --env-file chartimpact.env chartimpact-bot

# --- builder: the runtime requirements in a virtualenv -------------------------------------
FROM python:3.11-slim AS builder
# Every pinned requirement ships a manylinux wheel for amd64 and arm64; the compilers are here
# only for a platform without one, and never reach the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
# helm-python-sdk carries the Helm engine as a shared library (libhelm_c.so, needs only glibc):
# no helm binary, git or kubectl is needed at run time.
RUN pip install -r /tmp/requirements.txt

# --- runtime -----------------------------------------------------------------------------
FROM python:3.11-slim
# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 chartimpact \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin chartimpact
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY app.py ./
COPY chartimpact_bot ./chartimpact_bot
# Byte-compiled now, as root: the root filesystem may be read-only at run time.
RUN python -m compileall -q /app/chartimpact_bot /app/app.py \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
# The job store (sqlite), stored credentials of setup mode and the dependency cache live here.
VOLUME /app/data
USER 10001:10001
EXPOSE 8080
# /readyz: job store reachable, credentials loaded and accepted, not shutting down (no curl here).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8080'), timeout=4)"]
CMD ["python", "app.py"]
