# syntax=docker/dockerfile:1
# The API image: the same Gunicorn command as `scripts/serve`, as a non-root user.
# Build stage: wheels and the virtualenv; the final stage gets the venv without pip or a compiler.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
# WHY: the dependencies get a layer of their own, built from pyproject.toml alone (with empty
# packages standing in for the code), so a change to the code does not download them again.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade "pip>=25.1" \
    && mkdir codegen runtime app \
    && touch README.md codegen/__init__.py runtime/__init__.py app/__init__.py \
    && /opt/venv/bin/pip wheel --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-index --find-links /wheels contract-first-flask \
    && rm -rf README.md codegen runtime app build ./*.egg-info
COPY README.md ./
COPY codegen ./codegen
COPY runtime ./runtime
COPY app ./app
# WHY: pip and setuptools leave with the build: the final stage cannot install anything.
RUN /opt/venv/bin/pip install --no-deps --force-reinstall . \
    && /opt/venv/bin/pip uninstall --yes setuptools pip \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
    && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib

FROM python:3.11-slim-bookworm
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG MIGRATION_HEAD=unknown
LABEL org.opencontainers.image.title="contract-first-flask" \
      org.opencontainers.image.description="Contract-first Flask API on Connexion 3 and Gunicorn" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/contract-first-flask/contract-first-flask" \
      org.opencontainers.image.licenses="MIT" \
      io.contract-first-flask.migration-head="${MIGRATION_HEAD}"
# WHY: the image is run with a read-only root file system: nothing is written at run time but
# the multiprocess metrics directory and /tmp, both tmpfs mounts given by the runtime.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    BIND=0.0.0.0:8000 \
    OPENAPI_SPEC=/srv/openapi.yaml \
    PROMETHEUS_MULTIPROC_DIR=/run/metrics \
    GUNICORN_CONTROL_SOCKET=/tmp/gunicorn.ctl \
    APP_RELEASE_VERSION=${VERSION} \
    APP_MIGRATION_HEAD=${MIGRATION_HEAD}
RUN useradd --uid 10001 --no-create-home --home-dir /srv --shell /usr/sbin/nologin api \
    && mkdir -p /run/metrics && chown 10001 /run/metrics
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY openapi.yaml ./openapi.yaml
COPY docker/gunicorn.conf.py ./docker/gunicorn.conf.py
USER 10001
EXPOSE 8000
# WHY: exec form, so Gunicorn is PID 1 and receives SIGTERM itself (graceful drain); the
# health check needs no curl in the image and follows BIND's port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request as u; p=os.environ.get('BIND','0.0.0.0:8000').rsplit(':',1)[1]; sys.exit(u.urlopen(f'http://127.0.0.1:{p}/api/v1/livez',timeout=2).status!=200)"]
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "docker/gunicorn.conf.py"]
