"""Cost model: one hour of a Space with 100k listeners, HLS through CloudFront vs a WebRTC fleet.

Pure functions over published prices (the tables below, with their source and date). No I/O except
in `main`, which prints the comparison and rewrites the `cost` block of docs/bench/broadcast.md.

    python -m bench.broadcast.cost

What is counted:
- HLS: CloudFront data transfer out (every listener downloads every segment once; the container
  overhead of MPEG-TS is measured, see TS_OVERHEAD; plus the live playlist at every reload, its size
  measured by rendering the composer's own live window, uncompressed) and HTTPS requests (one per
  segment plus the playlist reloads, one per segment while live). Origin fetches from S3 to
  CloudFront are free (AWS), and with request collapsing there is about one per segment and edge
  (bench fan-out), so S3 costs are negligible next to this and left out. The composer's own cost
  is one task per Space.
- WebRTC: enough SFU nodes for the listeners, by CPU (the SFU's measured cost per listener) and by
  network bandwidth, on-demand, plus EC2 data transfer out. It assumes a room could span nodes,
  which LiveKit OSS cannot do (that is the reason for the HLS tier at all).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

# --- Published prices ---------------------------------------------------------------------------
# Source: https://aws.amazon.com/cloudfront/pricing/ (on-demand, pay as you go), read 2026-12-01.
# Regional data transfer out to the internet, per GB per month, for "United States, Mexico and
# Canada" and for "Europe, Israel and Türkiye" (the two columns are equal). Tiers: (TB, $/GB).
PRICES_AS_OF = "2026-12-01"
CLOUDFRONT_PRICING_URL = "https://aws.amazon.com/cloudfront/pricing/"
CLOUDFRONT_DTO_US_EU: tuple[tuple[float, float], ...] = (
    (10, 0.085),
    (40, 0.080),
    (100, 0.060),
    (350, 0.040),
    (524, 0.030),
    (4096, 0.025),
    (math.inf, 0.020),
)
# HTTPS requests, per 10,000 (same page).
CLOUDFRONT_HTTPS_PER_10K = {"US": 0.0100, "EU": 0.0120}
# Source: https://aws.amazon.com/ec2/pricing/on-demand/ (Linux, us-east-1), read 2026-12-01.
# Data transfer out from EC2 to the internet, per GB per month (the first 100 GB a month are free,
# ignored here). Tiers: (TB, $/GB).
EC2_PRICING_URL = "https://aws.amazon.com/ec2/pricing/on-demand/"
EC2_DTO: tuple[tuple[float, float], ...] = ((10, 0.09), (40, 0.085), (100, 0.07), (math.inf, 0.05))


@dataclass(frozen=True)
class Instance:
    name: str
    vcpus: int
    usd_per_hour: float
    baseline_gbps: float  # sustained network bandwidth (the "up to" burst is not sustainable)


# On-demand Linux, us-east-1 (EC2_PRICING_URL); baseline bandwidth from the EC2 instance type docs.
INSTANCES = (
    Instance("c7g.4xlarge", vcpus=16, usd_per_hour=0.578, baseline_gbps=7.5),
    Instance("c6i.4xlarge", vcpus=16, usd_per_hour=0.68, baseline_gbps=6.25),
)

# --- Measured here ------------------------------------------------------------------------------
# SFU CPU per WebRTC listener subscribed to two speakers' audio and video (issue 8's measurement):
# 0.45 % of a core (one vCPU of this machine).
SFU_CORE_PER_LISTENER = 0.0045
# Run SFU nodes at most 90 % busy: ~200 listeners per vCPU, the figure issue 8 quotes.
SFU_TARGET_UTILISATION = 0.9
# Bytes written over the elementary streams' nominal bitrate by the composer's own MPEG-TS
# segments (composer.hls with the muxer's max_delay at 0.7 s; docs/broadcast.md "Why MPEG-TS",
# and the kbit/s column of bench/broadcast/composer_cpu.py): 64 kbit/s of AAC becomes ~83 kbit/s,
# 720p video ~5.5 % more than its elementary stream. Without max_delay every AAC frame got its own
# PES packet and audio-only cost 2.3x the audio bitrate (measured on the first version: 196 kbit/s).
TS_OVERHEAD = {"audio": 0.30, "video": 0.055}
# hls.js reloads a live playlist about once per target duration (twice as often while it has not
# changed yet); the fan-out bench measures it (docs/bench/broadcast.md).
PLAYLIST_RELOADS_PER_SEGMENT = 1.0
# The web page's hls.js starts and stays 1.5 s behind the newest segment it knows
# (web/src/broadcast.ts LIVE_HLS_CONFIG.liveSyncDuration, set for 1 s segments): 1.5 segments, the
# ratio a longer segment would keep (hls.js' own default is 3 target durations).
HLS_HOLDBACK_SEGMENTS = 1.5
HLS_JS_DEFAULT_HOLDBACK = 3
# Beside the stream, the page polls two small documents through the CDN (each a request and a
# compressed download; counted since issue 10's scale review): state.json every 3 s
# (web/src/names.ts STATE_POLL_MS) and the reactions feed every 2 s (web/src/reaction_feed.ts
# REACTIONS_POLL_MS).
SIDE_POLLS_PER_S = {"state.json": 1 / 3, "reactions.json": 1 / 2}

GB = 1e9
TB_GB = 1000  # tiers are in TB of 1000 GB


@dataclass(frozen=True)
class Profile:
    name: str
    kbps: float  # elementary streams, audio + video
    overhead: float  # container overhead fraction


AUDIO = Profile("audio-only (AAC 64 kbps)", 64, TS_OVERHEAD["audio"])
VIDEO = Profile("720p video (H.264 2.5 Mbps + AAC 64 kbps)", 2500 + 64, TS_OVERHEAD["video"])
# The low rendition: 600 kbit/s of video and the AAC, +11 % of MPEG-TS (measured 0.75-0.76 Mbit/s,
# docs/broadcast.md "Renditions").
LOW = Profile("360p video (H.264 600 kbps + AAC 64 kbps)", 600 + 64, 0.11)
# Shares of a video Space's audience that only listen (a locked phone, a tab in the background):
# an assumption to read the table by, not a measurement (none of X's is public).
HEARD_ONLY_SHARES = (0.25, 0.5, 0.75)


def heard_only(share: float, hidden: Profile) -> Profile:
    """A video Space's audience of which `share` only listens, on `hidden`, and the rest watches 720p."""
    if not 0 <= share <= 1:
        raise ValueError(f"a share is between 0 and 1, got {share}")
    kbps = (1 - share) * VIDEO.kbps * (1 + VIDEO.overhead) + share * hidden.kbps * (1 + hidden.overhead)
    return Profile(f"720p, {share:.0%} only heard on {hidden.name}", kbps, 0.0)


def tiered(gb: float, tiers: Sequence[tuple[float, float]]) -> float:
    """Dollars for `gb` of transfer in one month on a tiered price list that starts at zero."""
    if gb < 0:
        raise ValueError("negative transfer")
    cost, left = 0.0, gb
    for size_tb, price in tiers:
        take = min(left, size_tb * TB_GB)
        cost += take * price
        left -= take
        if left <= 0:
            break
    return cost


def bytes_per_listener(profile: Profile, seconds: float) -> float:
    return profile.kbps * 1000 / 8 * seconds * (1 + profile.overhead)


def live_playlist_bytes(segment_s: float) -> int:
    """Bytes of one live playlist as the composer writes it: a full window of segments named as the
    composer names them (composer/hls/playlist.py, contract BROADCAST_LIVE_WINDOW_SEGMENTS)."""
    from composer.hls.playlist import MediaPlaylist, Segment
    from contract.names import BROADCAST_LIVE_WINDOW_SEGMENTS

    epoch_ms, start = 1_764_619_200_123, 1_764_619_200.123
    playlist = MediaPlaylist()
    for n in range(10_000, 10_000 + BROADCAST_LIVE_WINDOW_SEGMENTS):  # an hour-old Space's names
        playlist = playlist.append(Segment(f"{epoch_ms}-{n}.ts", segment_s, start + n * segment_s))
    return len(playlist.render_window(BROADCAST_LIVE_WINDOW_SEGMENTS).encode())


def side_document_bytes() -> dict[str, int]:
    """Gzip bytes (CloudFront compresses text) of the documents SIDE_POLLS_PER_S names, as busy as
    they get: state.json of a full stage (host, two co-hosts, ten speakers with 20-character names
    and 100-character avatar URLs) as the control plane pushes it, and a reactions feed of
    FEED_SECONDS with a burst in every window, four emoji each."""
    import gzip
    from dataclasses import replace
    from datetime import UTC, datetime

    from contract.names import REACTION_EMOJI
    from contract.reactions import FEED_SECONDS, ReactionBurst, ReactionFeed
    from functions.domain import lifecycle, pushed
    from functions.domain.model import SpaceState, VideoPolicy

    people = [f"{n:08x}-1b4e-4c8a-9d2f-6a1e3c5b7d90" for n in range(13)]
    space = lifecycle.new_space(
        space_id="6f1c2b3a4d5e6f708192a3b4c5d6e7f8",
        title="A title of a typical length for a Space",
        host=people[0],
        video=VideoPolicy.SPEAKERS,
        now=datetime(2026, 12, 1, tzinfo=UTC),
        scheduled_start=None,
    )
    space = replace(
        space,
        state=SpaceState.LIVE,
        cohosts=tuple(people[1:3]),
        speakers=tuple(people[3:]),
        names={p: f"Display Name {i:02d} Xyz" for i, p in enumerate(people)},
        pictures={
            p: f"https://lh3.googleusercontent.com/a/{'A' * 60}{i:02d}=s96-c" for i, p in enumerate(people)
        },
    )
    # The host is in the room, so the grace period (the default here) leaves the document as it is.
    state = pushed.room_state(space, host_grace=120.0).to_json().encode()
    window = 0.5
    bursts = tuple(
        ReactionBurst(
            space_id=space.id,
            first_window=n,
            last_window=n,
            window_seconds=window,
            counts={emoji: 1000 + 37 * n + k for k, emoji in enumerate(REACTION_EMOJI[:4])},
        )
        for n in range(3_529_238_400, 3_529_238_400 + int(FEED_SECONDS / window))
    )
    feed = ReactionFeed(space_id=space.id, bursts=bursts).to_json().encode()
    return {"state.json": len(gzip.compress(state)), "reactions.json": len(gzip.compress(feed))}


def side_requests_per_listener(seconds: float) -> float:
    return seconds * sum(SIDE_POLLS_PER_S.values())


def side_bytes_per_listener(seconds: float, sizes: dict[str, int]) -> float:
    return seconds * sum(rate * sizes[name] for name, rate in SIDE_POLLS_PER_S.items())


def playlist_bytes_per_listener(
    segment_s: float, seconds: float, playlist_per_segment: float = PLAYLIST_RELOADS_PER_SEGMENT
) -> float:
    return seconds / segment_s * playlist_per_segment * live_playlist_bytes(segment_s)


def hls_requests_per_listener(
    segment_s: float, seconds: float, playlist_per_segment: float = PLAYLIST_RELOADS_PER_SEGMENT
) -> float:
    if segment_s <= 0:
        raise ValueError("segment length must be positive")
    return seconds / segment_s * (1 + playlist_per_segment)


def hls_latency_s(
    segment_s: float,
    *,
    holdback: float = HLS_HOLDBACK_SEGMENTS,
    delivery_s: float = 0.5,
    playlist_ttl_s: float = 1.0,
) -> float:
    """Median glass-to-glass of a live HLS viewer, to first order.

    A frame waits on average half a segment for its segment to close; upload and delivery take
    `delivery_s`; the edge serves a playlist up to its cache lifetime old (half on average); the
    player polls the playlist once per target duration (half a segment on average); then it
    stays `holdback` segments behind the newest segment it knows.
    """
    return holdback * segment_s + segment_s / 2 + delivery_s + playlist_ttl_s / 2 + segment_s / 2


@dataclass(frozen=True)
class HlsCost:
    segment_s: float
    gb: float  # media segments
    playlist_gb: float  # live playlist reloads
    requests: float  # segments, playlists and the side polls
    transfer_usd: float
    requests_usd: float
    latency_s: float
    side_gb: float = 0.0  # state.json and the reactions feed (SIDE_POLLS_PER_S)

    @property
    def total_usd(self) -> float:
        return self.transfer_usd + self.requests_usd


def hls_cost(
    profile: Profile, listeners: int, seconds: float, segment_s: float, region: str = "US"
) -> HlsCost:
    gb = bytes_per_listener(profile, seconds) * listeners / GB
    playlist_gb = playlist_bytes_per_listener(segment_s, seconds) * listeners / GB
    side_gb = side_bytes_per_listener(seconds, side_document_bytes()) * listeners / GB
    requests = (
        hls_requests_per_listener(segment_s, seconds) + side_requests_per_listener(seconds)
    ) * listeners
    return HlsCost(
        segment_s=segment_s,
        gb=gb,
        playlist_gb=playlist_gb,
        side_gb=side_gb,
        requests=requests,
        transfer_usd=tiered(gb + playlist_gb + side_gb, CLOUDFRONT_DTO_US_EU),
        requests_usd=requests / 10_000 * CLOUDFRONT_HTTPS_PER_10K[region],
        latency_s=hls_latency_s(segment_s),
    )


@dataclass(frozen=True)
class WebRtcCost:
    instance: Instance
    nodes: int
    cpu_bound_nodes: int
    bandwidth_bound_nodes: int
    gb: float
    nodes_usd: float
    transfer_usd: float

    @property
    def total_usd(self) -> float:
        return self.nodes_usd + self.transfer_usd


def listeners_per_vcpu() -> float:
    return SFU_TARGET_UTILISATION / SFU_CORE_PER_LISTENER


def webrtc_cost(profile: Profile, listeners: int, seconds: float, instance: Instance) -> WebRtcCost:
    per_node_cpu = math.floor(instance.vcpus * listeners_per_vcpu())
    per_node_net = math.floor(instance.baseline_gbps * 1e9 * SFU_TARGET_UTILISATION / (profile.kbps * 1000))
    cpu_nodes = math.ceil(listeners / per_node_cpu)
    net_nodes = math.ceil(listeners / per_node_net)
    nodes = max(cpu_nodes, net_nodes)
    # WebRTC carries RTP, not MPEG-TS: count the elementary bitrate (SRTP/UDP headers are of the
    # same order as TS overhead for audio and are left out on both sides' favour equally).
    gb = profile.kbps * 1000 / 8 * seconds * listeners / GB
    return WebRtcCost(
        instance=instance,
        nodes=nodes,
        cpu_bound_nodes=cpu_nodes,
        bandwidth_bound_nodes=net_nodes,
        gb=gb,
        nodes_usd=nodes * instance.usd_per_hour * seconds / 3600,
        transfer_usd=tiered(gb, EC2_DTO),
    )


def choose_segment(options: Sequence[HlsCost], latency_goal_s: float) -> HlsCost:
    """The cheapest segment length whose median latency meets the goal."""
    ok = [o for o in options if o.latency_s <= latency_goal_s]
    if not ok:
        raise ValueError(f"no segment length meets a median latency of {latency_goal_s} s")
    return min(ok, key=lambda o: o.total_usd)


SEGMENTS = (1.0, 2.0, 4.0, 6.0)
LATENCY_GOAL_S = 4.0


def _usd(x: float) -> str:
    return f"${x:,.0f}"


def report(listeners: int = 100_000, seconds: float = 3600) -> str:
    us, eu = CLOUDFRONT_HTTPS_PER_10K["US"], CLOUDFRONT_HTTPS_PER_10K["EU"]
    pct_util = f"{SFU_TARGET_UTILISATION * 100:.0f} %"
    lines = [
        f"Command: `python -m bench.broadcast.cost` (pure model; prices as of {PRICES_AS_OF}: "
        f"CloudFront {CLOUDFRONT_PRICING_URL}, EC2 {EC2_PRICING_URL}; US/EU tiers, HTTPS requests at "
        f"the US rate ${us:.4f} per 10k, EU ${eu:.4f}). {listeners:,} listeners for {seconds / 3600:g} h; "
        "tiered prices as if this were the month's only traffic (free tiers ignored).",
        "",
        "| profile | segment | GB out (segments + playlists + state and reactions) | requests "
        "| transfer | requests "
        "| **HLS total** | requests share "
        f"| model median latency (hold-back {HLS_HOLDBACK_SEGMENTS:g} / hls.js default "
        f"{HLS_JS_DEFAULT_HOLDBACK}) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for profile in (AUDIO, VIDEO):
        for seg in SEGMENTS:
            c = hls_cost(profile, listeners, seconds, seg)
            default = hls_latency_s(seg, holdback=HLS_JS_DEFAULT_HOLDBACK)
            lines.append(
                f"| {profile.name} | {seg:g} s | {c.gb:,.0f} + {c.playlist_gb:,.0f} + {c.side_gb:,.0f} "
                f"| {c.requests / 1e6:,.0f} M "
                f"| {_usd(c.transfer_usd)} | {_usd(c.requests_usd)} | **{_usd(c.total_usd)}** "
                f"| {100 * c.requests_usd / c.total_usd:.0f} % | {c.latency_s:.1f} s / {default:.1f} s |"
            )
    lines += [
        "",
        f"WebRTC-only fleet (SFU at {SFU_CORE_PER_LISTENER * 100:.2f} % of a vCPU per listener, nodes "
        f"at most {pct_util} busy: {listeners_per_vcpu():.0f} listeners per vCPU; bandwidth at "
        f"{pct_util} of the instance's baseline):",
        "",
        "| profile | instance | nodes (CPU-bound / bandwidth-bound) | GB out | nodes | transfer "
        "| **WebRTC total** |",
        "|---|---|---|---|---|---|---|",
    ]
    for profile in (AUDIO, VIDEO):
        for inst in INSTANCES:
            w = webrtc_cost(profile, listeners, seconds, inst)
            lines.append(
                f"| {profile.name} | {inst.name} (${inst.usd_per_hour}/h, {inst.vcpus} vCPU, "
                f"{inst.baseline_gbps:g} Gbps) | {w.nodes} ({w.cpu_bound_nodes} / {w.bandwidth_bound_nodes}) "
                f"| {w.gb:,.0f} | {_usd(w.nodes_usd)} | {_usd(w.transfer_usd)} | **{_usd(w.total_usd)}** |"
            )
    lines += [
        "",
        "A video Space whose audience partly only listens, at 1 s segments: a hidden page used to keep "
        "to the 360p rendition, and plays the sound alone since the audio rendition (the share is an "
        "assumption, not a measurement):",
        "",
        "| share only heard | hidden at 360p | hidden on the sound alone | saved |",
        "|---|---|---|---|",
    ]
    for share in HEARD_ONLY_SHARES:
        before = hls_cost(heard_only(share, LOW), listeners, seconds, 1).total_usd
        after = hls_cost(heard_only(share, AUDIO), listeners, seconds, 1).total_usd
        saved = f"{_usd(before - after)} ({1 - after / before:.0%})"
        lines.append(f"| {share:.0%} | {_usd(before)} | {_usd(after)} | {saved} |")
    lines.append("")
    for profile in (AUDIO, VIDEO):
        options = [hls_cost(profile, listeners, seconds, s) for s in SEGMENTS]
        best = choose_segment(options, LATENCY_GOAL_S)
        cheapest = min(options, key=lambda o: o.total_usd)
        lines.append(
            f"- {profile.name}: the cheapest segment length that meets the median ≤ {LATENCY_GOAL_S:g} s "
            f"goal is **{best.segment_s:g} s** ({_usd(best.total_usd)}); the cheapest overall, "
            f"{cheapest.segment_s:g} s, costs {_usd(cheapest.total_usd)} ({best.segment_s:g} s costs "
            f"{best.total_usd / cheapest.total_usd:.2f}×) but its model latency is "
            f"{cheapest.latency_s:.1f} s."
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--listeners", type=int, default=100_000)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    body = report(args.listeners, args.hours * 3600)
    print(body)
    if not args.no_doc:
        from bench.broadcast.report import update_section

        update_section("cost", body)


if __name__ == "__main__":
    main()
