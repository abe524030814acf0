# syntax=docker/dockerfile:1
#
# One image for every Python part of Shine a Light. The entrypoint is `python -m`, so the
# first argument names the part:
#
#   docker run IMAGE                                   -> python -m watcher --help
#   docker run IMAGE watcher --node n1 --broker URL    -> the per-node watcher
#   docker run IMAGE led_agent --node n1 --device terminal --broker URL
#
# The Helm chart (helm/shinealight) runs it with `args: [watcher, ...]` or
# `args: [led_agent, ...]` and leaves the entrypoint alone.
#
# Build:  docker build -t shinealight:dev .
#         docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 -t REG/shinealight:TAG --push .
#
# GPIO: the `blinkt` package needs RPi.GPIO, which only works on a Raspberry Pi and only
# builds from source. It is installed on ARM builds only; on other architectures blinkt
# is installed without it, so `--device blinkt` fails there with a clear ImportError
# while every other device and the watcher work. Raspberry Pi 5 boards need the
# drop-in replacement: `--build-arg GPIO_PACKAGE=rpi-lgpio`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ARG GPIO_PACKAGE=RPi.GPIO

# A compiler for the sdists without wheels on some platforms (RPi.GPIO everywhere,
# psutil on 32-bit ARM); it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY requirements.txt /tmp/requirements.txt
# blinkt declares RPi.GPIO as a dependency; install it without its dependencies and add
# the GPIO package only where it can work (see the header).
RUN set -eu; \
    grep -viE '^[[:space:]]*blinkt([<>=!~ ;[]|$)' /tmp/requirements.txt > /tmp/requirements-nogpio.txt; \
    pip install -r /tmp/requirements-nogpio.txt; \
    blinkt_req="$(grep -iE '^[[:space:]]*blinkt([<>=!~ ;[]|$)' /tmp/requirements.txt || true)"; \
    if [ -n "$blinkt_req" ]; then pip install --no-deps "$blinkt_req"; fi; \
    case "$(uname -m)" in \
      aarch64|arm64|armv6l|armv7l|armv8l) pip install "$GPIO_PACKAGE" ;; \
      *) echo "no GPIO package on $(uname -m): the blinkt device is unusable in this image" ;; \
    esac

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="shinealight" \
      org.opencontainers.image.description="Kubernetes pods as LEDs: watcher and LED agent"

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
RUN groupadd --system --gid 10001 shinealight \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin shinealight

COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
# .dockerignore is an allow-list: only the runtime packages reach the context (no tests,
# no virtualenvs), and a package folder that does not exist yet is simply absent.
COPY . /app/
# Compile once at build time: containers may run with a read-only root filesystem.
RUN python -m compileall -q bus broker watcher led_agent sim console

USER 10001:10001
ENTRYPOINT ["python", "-m"]
CMD ["watcher", "--help"]
