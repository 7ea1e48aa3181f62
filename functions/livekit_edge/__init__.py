"""The thin edge to LiveKit: join tokens, the server API (rooms, participants) and webhooks.

livekit-api (aiohttp + protobuf) is imported inside the functions that call the SFU, never at
module import: a token request, the most frequent call, does not need it (cold start, bench/).
"""
