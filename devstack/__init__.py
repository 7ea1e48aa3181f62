"""Local processes for `make dev` and the integration tests: livekit-server, Redis, the API, the agent."""
