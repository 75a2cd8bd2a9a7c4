# One image definition for every Lambda function; the build argument FUNCTION picks which
# (webhook, worker or token_refresh), as template.yaml's DockerBuildArgs do.
#
# python:3.12-slim plus awslambdaric instead of the AWS Lambda base image, which alone would be
# larger than a whole image here. It builds offline from two mirrors, given as build arguments:
#   PYTHON_IMAGE   the base image (CI pins it by digest: python:3.12-slim@sha256:<digest>, or a
#                  registry mirror's copy of it)
#   PIP_INDEX_URL  a Python package index (a mirror, or a local one on loopback)
# Nothing else is fetched: no BuildKit frontend (no syntax directive), no other image.
ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: resolve, trim and precompile; nothing from this stage runs in Lambda ------------
FROM ${PYTHON_IMAGE} AS builder
ARG FUNCTION
# Unset: pip's own default index (or the builder's pip configuration).
ARG PIP_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
RUN test -n "${FUNCTION}" \
    || { echo "build with --build-arg FUNCTION=webhook|worker|token_refresh" >&2; exit 1; }
COPY scripts/image_trim.py image_trim.py
# Dependencies first: this layer only changes when the function's requirements do. Wheels only,
# so the image never needs a compiler. Then the trim: tests, scripts, API examples, and every
# botocore service model the function does not call (its requirements' "# aws-services:" line).
COPY functions/${FUNCTION}/requirements.txt requirements.txt
RUN python -m pip install ${PIP_INDEX_URL:+--index-url "${PIP_INDEX_URL}"} --no-compile --only-binary=:all: \
        --target /opt/deps -r requirements.txt \
    && python image_trim.py deps /opt/deps --requirements requirements.txt
COPY layers/lark_service/ /var/task/lark_service/
COPY functions/${FUNCTION}/ /var/task/
# Bytecode for the runtime's own Python (a cold start without .pyc imports about twice as slowly).
# unchecked-hash: Lambda's file system is read-only and the sources never change, so the
# interpreter should trust the .pyc without comparing timestamps that COPY does not preserve.
RUN rm -f /var/task/requirements.txt \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/deps /var/task

# --- base: the Python image without what Lambda never runs, its standard library precompiled ----
FROM ${PYTHON_IMAGE} AS base
COPY scripts/image_trim.py /tmp/image_trim.py
RUN python /tmp/image_trim.py base / \
    && rm /tmp/image_trim.py \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"

# --- runtime: the trimmed base as one layer (deleting in a later layer would free nothing), then
# the dependencies and the code. No USER: Lambda runs every image as its own non-root user
# whatever the image says, and SAM CLI's rebuild for `sam local invoke` (FROM this image, ADD the
# emulator, RUN mv/chmod) needs the image's last user to be root (aws/aws-sam-cli#3891).
FROM scratch
ARG FUNCTION
# hadolint ignore=DL3067
COPY --from=base / /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONPATH=/opt/deps \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LAMBDA_TASK_ROOT=/var/task \
    LARK_FUNCTION=${FUNCTION}
COPY --from=builder /opt/deps /opt/deps
COPY --from=builder /var/task /var/task
WORKDIR /var/task
# Lambda (and SAM's or the standalone runtime interface emulator) runs ENTRYPOINT + CMD.
ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]
CMD ["app.handler"]
