"""The broadcast cost model (bench/broadcast/cost.py): arithmetic on published prices."""

from __future__ import annotations

import math

import pytest

from bench.broadcast import cost
from bench.broadcast.cost import (
    AUDIO,
    CLOUDFRONT_DTO_US_EU,
    EC2_DTO,
    INSTANCES,
    LOW,
    VIDEO,
    HlsCost,
    Profile,
    choose_segment,
    heard_only,
    hls_cost,
    hls_latency_s,
    hls_requests_per_listener,
    tiered,
    webrtc_cost,
)


def test_tiered_price_inside_the_first_tier_is_linear() -> None:
    assert tiered(1000, CLOUDFRONT_DTO_US_EU) == pytest.approx(1000 * 0.085)


def test_tiered_price_crosses_tiers() -> None:
    # 10 TB at 0.085, 40 TB at 0.080, 10 TB at 0.060
    assert tiered(60_000, CLOUDFRONT_DTO_US_EU) == pytest.approx(
        10_000 * 0.085 + 40_000 * 0.080 + 10_000 * 0.060
    )
    assert tiered(200_000, EC2_DTO) == pytest.approx(
        10_000 * 0.09 + 40_000 * 0.085 + 100_000 * 0.07 + 50_000 * 0.05
    )


def test_tiered_refuses_negative_transfer() -> None:
    with pytest.raises(ValueError):
        tiered(-1, EC2_DTO)


def test_requests_are_segments_plus_playlist_reloads() -> None:
    assert hls_requests_per_listener(1.0, 3600) == 7200
    assert hls_requests_per_listener(6.0, 3600) == 1200
    assert hls_requests_per_listener(2.0, 3600, playlist_per_segment=1.5) == 1800 * 2.5
    with pytest.raises(ValueError):
        hls_requests_per_listener(0, 3600)


def test_hls_cost_of_100k_audio_listeners_for_an_hour_at_1s() -> None:
    plain = Profile("aac", 64, 0.0)
    c = hls_cost(plain, 100_000, 3600, 1.0)
    assert c.gb == pytest.approx(64_000 / 8 * 3600 * 100_000 / 1e9)  # 2,880 GB
    # A segment and a playlist reload a second, state.json every 3 s, the reactions feed every 2 s.
    assert c.requests == pytest.approx(720_000_000 + 3600 * 100_000 * (1 / 3 + 1 / 2))
    assert c.requests_usd == pytest.approx(c.requests / 10_000 * 0.01)
    assert c.total_usd == pytest.approx(c.transfer_usd + c.requests_usd)


def test_the_live_playlist_a_viewer_reloads_is_counted_and_stays_small() -> None:
    c = hls_cost(AUDIO, 100_000, 3600, 1.0)
    # A window of a dozen segments: ~1.2 KB a reload, a small fraction of the audio it points at.
    assert 500 < cost.live_playlist_bytes(1.0) < 2000
    assert c.playlist_gb == pytest.approx(3600 * cost.live_playlist_bytes(1.0) * 100_000 / 1e9)
    assert 0 < c.playlist_gb < 0.2 * c.gb
    assert c.transfer_usd == pytest.approx(
        cost.tiered(c.gb + c.playlist_gb + c.side_gb, cost.CLOUDFRONT_DTO_US_EU)
    )


def test_the_side_polls_are_counted_at_their_compressed_size() -> None:
    sizes = cost.side_document_bytes()
    # Compressed, each is well under a kilobyte or two, and the feed (60 bursts) is the larger one.
    assert 100 < sizes["state.json"] < sizes["reactions.json"] < 4000
    c = hls_cost(AUDIO, 100_000, 3600, 1.0)
    per_listener = 3600 * (sizes["state.json"] / 3 + sizes["reactions.json"] / 2)
    assert c.side_gb == pytest.approx(per_listener * 100_000 / 1e9)


def test_longer_segments_cost_fewer_requests_and_the_same_bytes() -> None:
    one, six = hls_cost(VIDEO, 1000, 3600, 1.0), hls_cost(VIDEO, 1000, 3600, 6.0)
    assert one.gb == six.gb
    assert one.playlist_gb > six.playlist_gb  # six times the reloads
    side = cost.side_requests_per_listener(3600) * 1000  # the same whatever the segment length
    assert one.requests - side == pytest.approx(6 * (six.requests - side))
    assert one.total_usd > six.total_usd


def test_container_overhead_adds_bytes() -> None:
    bare = Profile("x", 64, 0.0)
    fat = Profile("x", 64, 1.0)
    assert hls_cost(fat, 10, 60, 1.0).gb == pytest.approx(2 * hls_cost(bare, 10, 60, 1.0).gb)


def test_latency_model_grows_with_segment_length_and_hold_back() -> None:
    assert hls_latency_s(1.0) < hls_latency_s(2.0) < hls_latency_s(6.0)
    assert hls_latency_s(1.0, holdback=2) < hls_latency_s(1.0, holdback=3)
    assert hls_latency_s(1.0, holdback=2, delivery_s=0.5, playlist_ttl_s=1.0) == pytest.approx(4.0)


def test_choose_segment_picks_the_cheapest_that_meets_the_goal() -> None:
    options = [
        HlsCost(
            segment_s=1, gb=1, playlist_gb=0, requests=1, transfer_usd=10, requests_usd=10, latency_s=3.5
        ),
        HlsCost(segment_s=2, gb=1, playlist_gb=0, requests=1, transfer_usd=10, requests_usd=5, latency_s=6.0),
    ]
    assert choose_segment(options, 4.0).segment_s == 1
    assert choose_segment(options, 7.0).segment_s == 2
    with pytest.raises(ValueError):
        choose_segment(options, 3.0)


def test_webrtc_nodes_are_bound_by_cpu_or_bandwidth() -> None:
    c7g = next(i for i in INSTANCES if i.name == "c7g.4xlarge")
    audio = webrtc_cost(AUDIO, 100_000, 3600, c7g)
    per_node_cpu = math.floor(16 * cost.SFU_TARGET_UTILISATION / cost.SFU_CORE_PER_LISTENER)
    assert audio.cpu_bound_nodes == math.ceil(100_000 / per_node_cpu)
    assert audio.nodes == audio.cpu_bound_nodes  # 64 kbit/s never fills 7.5 Gbit/s first
    video = webrtc_cost(VIDEO, 100_000, 3600, c7g)
    assert video.bandwidth_bound_nodes > video.cpu_bound_nodes
    assert video.nodes == video.bandwidth_bound_nodes
    assert video.nodes_usd == pytest.approx(video.nodes * c7g.usd_per_hour)


def test_report_states_the_segment_choice() -> None:
    text = cost.report()
    assert "goal is **1 s**" in text
    assert cost.PRICES_AS_OF in text


def test_an_audience_that_only_listens_costs_less_on_the_sound_alone_than_at_360p() -> None:
    assert heard_only(0, AUDIO).kbps == pytest.approx(VIDEO.kbps * (1 + VIDEO.overhead))
    assert heard_only(1, AUDIO).kbps == pytest.approx(64 * 1.30)  # ~83 kbit/s, as measured
    assert heard_only(1, LOW).kbps == pytest.approx(737, abs=1)  # 0.75 Mb/s measured
    half = [hls_cost(heard_only(0.5, p), 100_000, 3600, 1).total_usd for p in (LOW, AUDIO)]
    assert half[1] < half[0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        heard_only(1.5, AUDIO)
