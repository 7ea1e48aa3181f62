"""One module of shared names: env vars, agent name, participant attributes, CDK output keys.

Imported by the control plane, the media agent, the CDK app and the tests so that a rename
is one edit, not a hunt.
"""

from typing import Final

LIVEKIT_VERSION: Final = "v1.13.5"
# The control plane Lambda's Python (a managed runtime with SnapStart: 3.12 or later). The CDK
# construct deploys it and `make test-lambda-python` runs the control plane's tests on it.
LAMBDA_PYTHON: Final = "3.13"

# The agent the control plane dispatches explicitly into every live Space.
AGENT_NAME: Final = "spaces-stage"
# The broadcast composer: its own agent (own process), dispatched with the stage agent.
COMPOSER_AGENT_NAME: Final = "spaces-composer"
# livekit-agents puts the dispatching agent name into this attribute of every agent participant;
# the control plane reads it (webhooks, ListParticipants) to tell which agent left a room.
AGENT_NAME_ATTRIBUTE: Final = "lk.agent.name"

# A broadcast's files under <broadcast base>/<space_id>/ (schema/broadcast.schema.json).
# Every segment from the start (an EVENT playlist): the recording once it ends with ENDLIST.
BROADCAST_PLAYLIST: Final = "index.m3u8"
# The last BROADCAST_LIVE_WINDOW_SEGMENTS segments of the same stream: what live viewers play. Every
# viewer reloads its playlist about once a segment, so a playlist that grew for the whole Space
# (~1 MB after 3 hours) would cost each of them more bytes than the audio itself.
BROADCAST_LIVE_PLAYLIST: Final = "live.m3u8"
# 12 one-second segments (~1.2 KB, ~240 bytes gzipped, whatever the Space's length): 8 times the
# page's 1.5 s hold-back, 4 times RFC 8216's minimum of three target durations, and above the six
# segments Apple's authoring guide asks of a live playlist. A viewer paused or stalled for longer
# than 12 s jumps to the live edge; every reload costs a viewer ~10 kbit/s raw at one a second.
BROADCAST_LIVE_WINDOW_SEGMENTS: Final = 12
# A video broadcast's low rendition (docs/broadcast.md, "Renditions"): each segment is written twice,
# "<epoch>-<n>.hi.ts" and its twin "<epoch>-<n>.lo.ts" (the same media, smaller), and this live window
# names the twins, with the same sequence numbers and discontinuities as BROADCAST_LIVE_PLAYLIST.
BROADCAST_LOW_LIVE_PLAYLIST: Final = "live-lo.m3u8"
# The multivariant playlist naming both live windows: what a live player loads when it is there (a
# video Space of a composer with the low rendition), written before the first window names it.
BROADCAST_LIVE_VARIANTS: Final = "live-variants.m3u8"
# The same for the recording, written when the Space ends: the whole low playlist, and the
# multivariant playlist naming it beside BROADCAST_PLAYLIST, which the replay plays when it is there.
BROADCAST_LOW_PLAYLIST: Final = "index-lo.m3u8"
BROADCAST_VARIANTS: Final = "index-variants.m3u8"
# A video broadcast's sound alone (docs/broadcast.md, "Renditions"): each segment's third file,
# "<epoch>-<n>.au.ts", holds its AAC packets only (~83 kb/s against ~0.75 Mb/s for the smallest
# picture); its live window and, once the Space ended, its whole playlist, named by the variants as
# an audio-only rendition. What a page that is only heard (a locked phone) plays.
BROADCAST_AUDIO_LIVE_PLAYLIST: Final = "live-audio.m3u8"
BROADCAST_AUDIO_PLAYLIST: Final = "index-audio.m3u8"
BROADCAST_TIMELINE: Final = "timeline.json"
# The Space as viewers without a room connection see it: the room metadata, copied by the composer.
BROADCAST_STATE: Final = "state.json"
# The room's recent aggregated reactions for the same viewers (schema/reactions.schema.json
# ReactionFeed), written by the composer from what it receives on REACTIONS_TOPIC.
BROADCAST_REACTIONS: Final = "reactions.json"
# Seconds of bursts it keeps (contract/reactions.py FEED_SECONDS): an HLS viewer plays ~5-15 s
# behind the room and reads it every few seconds, so each burst is still in it when their playback
# reaches it; the page also takes a burst further ahead of its playback than this as a sign that
# the playback clock is not at the live edge yet.
BROADCAST_REACTIONS_SECONDS: Final = 30

# The agent publishes the stage state (JSON) as this participant attribute, and answers this RPC.
STAGE_ATTRIBUTE: Final = "stage"
STAGE_RPC_METHOD: Final = "get_stage"

# Participant attributes the control plane puts into join tokens.
ROLE_ATTRIBUTE: Final = "role"
# The caller's avatar (an https URL, functions/domain/people.py); absent without one. The display
# name itself is the participant's `name` (the join token's `name` claim), not an attribute.
PICTURE_ATTRIBUTE: Final = "spaces.picture"
# The API's avatar proxy (functions/api/routes/avatars.py): pages load a picture as
# `<avatar base>?url=<picture>`, never from the picture's own host. The base is the API's
# `AVATAR_PATH`, or the CDN's in the cloud (the web config's `avatarUrl`).
AVATAR_PATH: Final = "/avatars"
AVATAR_URL_PARAM: Final = "url"
# A WebRTC listener's seat (the bucket it was taken in, functions/domain/broadcast.py): the join webhook
# carries it back, and the control plane frees the seat as it counts the join. Server-side only.
SEAT_ATTRIBUTE: Final = "spaces.seat"
# When the API issued the join token (UTC, ISO 8601 to the microsecond, functions/domain/grants.py):
# the join webhook carries it back, and a participant a host removed after it is disconnected as
# it connects (a removal between the token and the connect finds nobody). Server-side only.
ISSUED_AT_ATTRIBUTE: Final = "spaces.issued_at"

# The rule a join-token request names when the page coming back by itself (`rejoin_since`) was
# removed by a host since its last grant (functions/domain/stage.py): the page says so.
REMOVED_RULE: Final = "removed"
# Role changes the page's rows can no longer make (functions/domain/stage.py): the person's role is
# not the one the row showed (`from_role`); they are blocked; a host removed them and they have not
# joined again since (the row may be that of a list read before the removal).
ROLE_CHANGED_RULE: Final = "role_changed"
USER_BLOCKED_RULE: Final = "user_blocked"
TARGET_REMOVED_RULE: Final = "target_removed"
# An answer to an invitation to speak that is no longer waiting (functions/domain/stage.py): it was
# withdrawn, it lapsed, or it was never sent. The page says so and stays in the audience.
NOT_INVITED_RULE: Final = "not_invited"
# A person's hand raises and lowers over their limit (429 with Retry-After, functions/domain/stage.py
# HAND_LIMIT): the page says so in its own words.
HAND_RATE_LIMITED_RULE: Final = "hand_rate_limited"
# A person's reactions over their limit (429 with Retry-After, functions/domain/reactions.py LIMIT).
REACTION_RATE_LIMITED_RULE: Final = "reaction_rate_limited"
# The rule a join-token request over its limit names (429 with Retry-After, functions/domain/stage.py
# JOIN_LIMIT): the page waits that long and asks again.
TOKEN_RATE_LIMITED_RULE: Final = "token_rate_limited"

# Room metadata (JSON) written by the control plane: schema/room_metadata.schema.json,
# contract/room_metadata.py.
# Raised hands (schema/hands.schema.json): a data message on this topic, to moderators only.
HANDS_TOPIC: Final = "spaces.hands"

# Environment variables (read by pydantic-settings in functions/core/config.py and the agent).
ENV_MODE: Final = "SPACES_MODE"  # "local" | "cloud"
ENV_LIVEKIT_URL: Final = "LIVEKIT_URL"
ENV_LIVEKIT_API_KEY: Final = "LIVEKIT_API_KEY"
ENV_LIVEKIT_API_SECRET: Final = "LIVEKIT_API_SECRET"
ENV_LIVEKIT_SECRET_ARN: Final = "LIVEKIT_SECRET_ARN"
# The workers' health/status servers (media_agent/worker.py, composer/worker.py); devstack gives each
# a free port.
ENV_AGENT_HTTP_PORT: Final = "SPACES_AGENT_HTTP_PORT"
ENV_COMPOSER_HTTP_PORT: Final = "SPACES_COMPOSER_HTTP_PORT"
ENV_STORE: Final = "SPACES_STORE"  # "sqlite" | "dynamodb"
ENV_TABLE_NAME: Final = "SPACES_TABLE_NAME"
ENV_SQLITE_PATH: Final = "SPACES_SQLITE_PATH"
ENV_DEV_JWT_SECRET: Final = "SPACES_DEV_JWT_SECRET"
ENV_PUBLIC_LIVEKIT_URL: Final = "SPACES_PUBLIC_LIVEKIT_URL"
ENV_DYNAMODB_ENDPOINT: Final = "SPACES_DYNAMODB_ENDPOINT"  # DynamoDB Local / moto only
ENV_CORS_ORIGINS: Final = "SPACES_CORS_ORIGINS"  # comma-separated; unset: the local page only (local mode)
# The broadcast tier (docs/broadcast.md).
ENV_BROADCAST_DIR: Final = "SPACES_BROADCAST_DIR"  # local mode: where the composer writes
ENV_BROADCAST_BUCKET: Final = "SPACES_BROADCAST_BUCKET"  # cloud: the S3 bucket the composer writes
ENV_BROADCAST_PREFIX: Final = "SPACES_BROADCAST_PREFIX"  # cloud: key prefix in that bucket
ENV_BROADCAST_BASE_URL: Final = "SPACES_BROADCAST_BASE_URL"  # public URL of <prefix> (CDN or local)
# Hosts the composer and the API's avatar proxy fetch avatars from (comma-separated; "*": any public
# https host; empty: none, initials only; unset: contract/avatar_fetch.py DEFAULT_HOSTS). CDK context
# `avatar_hosts`.
ENV_AVATAR_HOSTS: Final = "SPACES_AVATAR_HOSTS"
ENV_WEBRTC_LISTENER_LIMIT: Final = "SPACES_WEBRTC_LISTENER_LIMIT"  # listeners beyond it get HLS
ENV_MAX_LIVE_PER_HOST: Final = "SPACES_MAX_LIVE_PER_HOST"  # live Spaces one person hosts at once
# The identity provider's group whose members alone may create Spaces; unset: anyone signed in.
# CDK context `host_group` (the stack creates the Cognito group). docs/control-plane.md.
ENV_HOST_GROUP: Final = "SPACES_HOST_GROUP"
# The claim that lists a caller's groups (Cognito's; API Gateway's JWT authorizer passes a list
# claim on as one string, "[hosts admins]").
GROUPS_CLAIM: Final = "cognito:groups"
# Scheduled (not yet started) Spaces one person hosts at once; unset: 20 in cloud mode, none locally.
ENV_MAX_SCHEDULED_PER_HOST: Final = "SPACES_MAX_SCHEDULED_PER_HOST"
ENV_RECONCILE_BUDGET_SECONDS: Final = "SPACES_RECONCILE_BUDGET_SECONDS"  # one in-request pass
ENV_METADATA_INTERVAL_SECONDS: Final = "SPACES_METADATA_INTERVAL_SECONDS"  # room metadata floor
# Seconds between patrol sweeps: the API process's loop (local; 0: no loop, as the cloud API sets)
# and the cloud's scheduled reconciler (its stack sets 10).
ENV_RECONCILE_INTERVAL_SECONDS: Final = "SPACES_RECONCILE_INTERVAL_SECONDS"
ENV_HOST_GRACE_SECONDS: Final = "SPACES_HOST_GRACE_SECONDS"  # a Space ends when its host is gone longer
ENV_PRESENCE_WINDOW_SECONDS: Final = "SPACES_PRESENCE_WINDOW_SECONDS"  # HLS heartbeat window
ENV_RECORDING_RETENTION_DAYS: Final = "SPACES_RECORDING_RETENTION_DAYS"
BROADCAST_PREFIX: Final = "broadcasts/"
# The page generation the API serves, named on every answer under PAGE_GENERATION_HEADER. Bump it
# with an API change that pages built before it cannot work with (a parameter renamed or removed):
# such a page then offers a reload (web/src/update_notice.ts). Adding something never needs it.
PAGE_GENERATION: Final = 1
PAGE_GENERATION_HEADER: Final = "Spaces-Page-Generation"
# The S3 object tag of a broadcast whose host kept no recording (Space.record false): the composer
# writes every object of it with this tag, and the bucket's lifecycle rule deletes tagged objects a
# day after they were written (infrastructure/constructs/broadcast_delivery.py).
BROADCAST_DISCARD_TAG_KEY: Final = "spaces-recording"
BROADCAST_DISCARD_TAG_VALUE: Final = "discard"
# A worker whose task sets SPACES_LOAD_METRIC prints its dispatcher load once a minute as one JSON line
# {LOAD_LINE_METRIC: <name>, LOAD_LINE_PERCENT: 0..100, LOAD_LINE_JOBS: n} on stdout; a CloudWatch
# Logs metric filter turns it into the metric its ECS service scales on (infrastructure/constructs).
ENV_LOAD_METRIC: Final = "SPACES_LOAD_METRIC"
LOAD_LINE_METRIC: Final = "spaces_load_metric"
LOAD_LINE_PERCENT: Final = "load_percent"
LOAD_LINE_JOBS: Final = "jobs"
COMPOSER_LOAD_METRIC: Final = "ComposerLoad"
STAGE_AGENT_LOAD_METRIC: Final = "StageAgentLoad"
# The Secrets Manager secret named by LIVEKIT_SECRET_ARN is JSON with these two fields.
SECRET_FIELD_API_KEY: Final = "api_key"
SECRET_FIELD_API_SECRET: Final = "api_secret"

# The local development key pair. Refused outside local mode (functions/core/config.py).
DEV_API_KEY: Final = "devkey"
DEV_API_SECRET: Final = "devsecret-local-only-not-for-production-use"
DEV_JWT_SECRET: Final = "dev-jwt-secret-local-only-not-for-production"

# Local ports used by `make dev` (tests pick free ports instead).
DEV_API_PORT: Final = 8000
DEV_LIVEKIT_PORT: Final = 7880
DEV_LIVEKIT_TCP_PORT: Final = 7881

# CloudFormation output keys.
OUTPUT_API_URL: Final = "ApiUrl"
OUTPUT_LIVEKIT_URL: Final = "LiveKitUrl"
OUTPUT_TABLE_NAME: Final = "TableName"
OUTPUT_DASHBOARD: Final = "DashboardName"
OUTPUT_BROADCAST_URL: Final = "BroadcastUrl"
OUTPUT_WEB_CONFIG: Final = "WebConfig"
OUTPUT_WEB_POLICY: Final = "WebContentSecurityPolicy"
OUTPUT_WEB_URL: Final = "WebUrl"

# The DynamoDB single-table shape: the store (functions/store/dynamodb.py) and the CDK state
# construct both read these, so the deployed table is exactly what the store expects.
TABLE_PK: Final = "pk"
TABLE_SK: Final = "sk"
TABLE_GSI1: Final = "gsi1"
TABLE_GSI1_PK: Final = "gsi1pk"
TABLE_GSI1_SK: Final = "gsi1sk"
TABLE_TTL_ATTRIBUTE: Final = "ttl"

# Reactions (docs/reactions.md): the data topic the control plane publishes aggregates on, and the
# only emoji a client may send (the web bar shows these, the API refuses others with a 422).
REACTIONS_TOPIC: Final = "spaces.reactions"
REACTION_EMOJI: Final = ("👏", "😂", "❤️", "🔥", "💯", "🙏", "😮", "👍")
