# syntax=docker/dockerfile:1
# One image definition for every Lambda function; the build argument FUNCTION picks which
# (webhook, worker or token_refresh), as template.yaml's DockerBuildArgs do.
#
# python:3.12-slim plus awslambdaric instead of the AWS Lambda base image: that base alone would
# take most of the 500 MiB budget. CI pins the base by digest with
#   --build-arg PYTHON_IMAGE=python:3.12-slim@sha256:<digest>
# (see docs/deployment.md); the tag below is the default for local builds.
ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: resolve and precompile; nothing from this stage runs in Lambda -------------------
FROM ${PYTHON_IMAGE} AS builder
ARG FUNCTION
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
RUN test -n "${FUNCTION}" \
    || { echo "build with --build-arg FUNCTION=webhook|worker|token_refresh" >&2; exit 1; }
# Dependencies first: this layer only changes when the function's requirements do. Wheels only,
# so the image never needs a compiler. Console scripts never run in Lambda and botocore's API
# examples only feed documentation: both go (scripts/image_budget.py DEPENDENCY_TRIMS, offline).
COPY functions/${FUNCTION}/requirements.txt requirements.txt
RUN python -m pip install --no-compile --only-binary=:all: --target /opt/deps -r requirements.txt \
    && rm -rf /opt/deps/bin \
    && find /opt/deps/botocore/data -name examples-1.json -delete
COPY layers/lark_service/ /var/task/lark_service/
COPY functions/${FUNCTION}/ /var/task/
# Bytecode for the runtime's own Python (a cold start without .pyc imports about twice as slowly).
# unchecked-hash: Lambda's file system is read-only and the sources never change, so the
# interpreter should trust the .pyc without comparing timestamps that COPY does not preserve.
RUN rm -f /var/task/requirements.txt \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/deps /var/task

# --- runtime: the base, the dependencies, the code ---------------------------------------------
FROM ${PYTHON_IMAGE}
ARG FUNCTION
ENV PYTHONPATH=/opt/deps \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LAMBDA_TASK_ROOT=/var/task \
    LARK_FUNCTION=${FUNCTION}
RUN useradd --system --no-log-init --no-create-home --uid 10001 --shell /usr/sbin/nologin lambda
COPY --from=builder /opt/deps /opt/deps
COPY --from=builder /var/task /var/task
WORKDIR /var/task
USER 10001
# Lambda (and SAM's or the standalone runtime interface emulator) runs ENTRYPOINT + CMD.
ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]
CMD ["app.handler"]
