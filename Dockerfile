# syntax=docker/dockerfile:1
# The API image: the same Gunicorn command as `scripts/serve`, as a non-root user.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY codegen ./codegen
COPY runtime ./runtime
COPY app ./app
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade "pip>=25.1" \
    && /opt/venv/bin/pip install .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    BIND=0.0.0.0:8000 \
    OPENAPI_SPEC=/srv/openapi.yaml
RUN useradd --system --uid 10001 --home-dir /srv api
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY openapi.yaml ./openapi.yaml
COPY docker/gunicorn.conf.py ./docker/gunicorn.conf.py
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/livez', timeout=2).status != 200)"]
CMD ["gunicorn", "-c", "docker/gunicorn.conf.py"]
