# The one image of the LiveKit workers, built by `cdk deploy` from the repository root (build context:
# pyproject.toml, uv.lock, contract/, media_agent/, composer/ only; see agents.Dockerfile.dockerignore).
# Two ECS services run it with their own command (infrastructure/constructs/agent_service.py):
# `python -m media_agent start` (the stage agent) and `python -m composer start` (the broadcast
# composer, which shares the media agent's worker plumbing: dev-key refusal, load budget). No system
# FFmpeg: PyAV's wheels carry their own (libx264, aac).
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8
# The composer's font for names and titles (composer/render.py FONT_FILES): accented Latin, Greek,
# Cyrillic, Hebrew, Arabic.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first: the layer is reused until the lock file changes. Both workers run on the agent
# group (livekit-agents, numpy, PyAV) plus the project dependencies (boto3 for the composer's S3 sink).
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-default-groups --group agent --no-install-project

COPY contract/ contract/
COPY media_agent/ media_agent/
COPY composer/ composer/

# No root at runtime; neither worker needs privileges.
RUN useradd --system --uid 10001 --no-create-home agent
USER agent

# SIGTERM lets a worker drain (the composer closes its playlist); ECS escalates to SIGKILL after the
# task's stop timeout (120 s).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "media_agent", "start"]
