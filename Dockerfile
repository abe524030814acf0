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
# GPIO (the Blinkt! agent's drivers, led_agent/backends/drivers.py), on ARM builds only:
#   RPi.GPIO  Raspberry Pi <= 4 (/dev/gpiomem); also what the `blinkt` library imports
#   lgpio     the kernel GPIO character device (/dev/gpiochip*), Pi 5 included
#   gpiod     libgpiod v2 bindings, the same device (any board)
# Not rpi-lgpio: it installs its own `RPi.GPIO` module and cannot sit next to RPi.GPIO.
# None of them works off a Pi, so on amd64 `--device blinkt` fails with a DeviceError
# naming what is missing, while every other device and the watcher work.
# Versions are pinned here and in requirements.txt; tests/image checks hadolint and pins.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ARG RPI_GPIO_VERSION=0.7.1
ARG LGPIO_VERSION=0.2.2.0
ARG GPIOD_VERSION=2.5.0

# A compiler for the sdists without wheels on some platforms (RPi.GPIO and lgpio on
# every ARM, gpiod on 32-bit ARM, psutil on 32-bit ARM); swig for lgpio's binding. They
# stay in this stage. Versions of Debian 12 (bookworm), the base image's release.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libc6-dev=2.36-9+deb12u14 swig=4.1.0-0.2 \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY requirements.txt /tmp/requirements.txt
# blinkt declares RPi.GPIO as a dependency: install it without its dependencies, and the
# GPIO packages only where they can work (see the header). PYPI=1 builds lgpio with its
# C library linked in, so the runtime stage needs no liblgpio.
RUN set -eu; \
    grep -viE '^[[:space:]]*blinkt([<>=!~ ;[]|$)' /tmp/requirements.txt > /tmp/requirements-nogpio.txt; \
    grep -iE '^[[:space:]]*blinkt([<>=!~ ;[]|$)' /tmp/requirements.txt > /tmp/requirements-blinkt.txt || true; \
    pip install --requirement /tmp/requirements-nogpio.txt; \
    pip install --no-deps --requirement /tmp/requirements-blinkt.txt; \
    case "$(uname -m)" in \
      aarch64|arm64|armv7l|armv8l) \
        PYPI=1 pip install "RPi.GPIO==${RPI_GPIO_VERSION}" "lgpio==${LGPIO_VERSION}" "gpiod==${GPIOD_VERSION}" ;; \
      *) echo "no GPIO packages on $(uname -m): the blinkt device is unusable in this image" ;; \
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
