# The Arrears service: `arrears serve` behind your reverse proxy. Build: docker build -t arrears .
# Migrations run as a release step before the new version starts (compose.yaml's `migrate`
# service, or `docker run --rm --env-file … arrears arrears migrate`); see docs/DEPLOYMENT.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 arrears \
    && useradd --system --uid 10001 --gid arrears --home-dir /app --shell /usr/sbin/nologin arrears

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY authz ./authz
COPY domain ./domain
COPY jobs ./jobs
COPY migrations ./migrations
COPY store ./store
RUN pip install . && rm -rf /app/build

# Production by default: every command refuses to start without ARREARS_SECRET_KEY and
# ARREARS_AUDIT_SECRET (32+ characters each), which come from the environment, never the image.
ENV ARREARS_ENV=production
USER arrears
EXPOSE 8000
# uvicorn drains on SIGTERM (ARREARS_SHUTDOWN_TIMEOUT_SECONDS, 30 s): give the container longer
# than that before SIGKILL (docker stop -t 40, compose stop_grace_period, Kubernetes'
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["arrears", "serve", "--host", "0.0.0.0", "--workers", "2"]
