"""Live benchmarks of the media agent on a real local livekit-server (not part of `make test`).

python -m bench.agent.live_cost   # agent CPU per speaker track, with a breakdown
python -m bench.agent.live_e2e    # turn start -> listener sees the spotlight, vs the SFU's own
"""
