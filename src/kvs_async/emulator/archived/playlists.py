"""HLS playlists and the DASH manifest of a session, as text (URLs relative to the request)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from ..storage import FragmentRecord
from .codecs import parse_tracks, rfc6381
from .sessions import Session, timestamp_of

HLS_CONTENT_TYPE = "application/x-mpegURL"
DASH_CONTENT_TYPE = "application/dash+xml"


def _iso(ts: float) -> str:
    stamp = datetime.fromtimestamp(ts, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _codecs(frag: FragmentRecord) -> tuple[str, tuple[int, int] | None]:
    tracks = parse_tracks(frag.tracks)
    codecs = [c for c in (rfc6381(t) for t in sorted(tracks, key=lambda t: t.number)) if c]
    size = next(((t.width, t.height) for t in tracks if t.width and t.height), None)
    return ",".join(codecs), size


def _bandwidth(frags: list[FragmentRecord]) -> int:
    rates = [f.size * 8 * 1000 // max(f.duration_ms, 1) for f in frags]
    return max(rates) if rates else 1


def _token(session: Session) -> str:
    return quote(session.token, safe="")


def hls_master(session: Session) -> str:
    _, frags = session.window()
    sample = frags[0] if frags else (session.pending[0] if session.pending else None)
    attrs = [f"BANDWIDTH={_bandwidth(frags or ([sample] if sample else []))}"]
    if sample is not None:
        codecs, size = _codecs(sample)
        if codecs:
            attrs.append(f'CODECS="{codecs}"')
        if size:
            attrs.append(f"RESOLUTION={size[0]}x{size[1]}")
    version = 7 if session.container == "FRAGMENTED_MP4" else 3
    return (
        f"#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f"#EXT-X-STREAM-INF:{','.join(attrs)}\n"
        f"getHLSMediaPlaylist.m3u8?SessionToken={_token(session)}\n"
    )


def hls_media(session: Session) -> str:
    first_seq, frags = session.window()
    token = _token(session)
    mp4 = session.container == "FRAGMENTED_MP4"
    target = max((math.ceil(f.duration_ms / 1000) for f in frags), default=1)
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{7 if mp4 else 3}",
        f"#EXT-X-TARGETDURATION:{max(target, 1)}",
        f"#EXT-X-MEDIA-SEQUENCE:{first_seq}",
    ]
    if session.mode != "ON_DEMAND":
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{session.discontinuities_before(first_seq)}")
    else:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    prev: FragmentRecord | None = None
    for frag in frags:
        new_tracks = prev is None or prev.tracks != frag.tracks
        if prev is not None and (session.discontinuous(prev, frag) or new_tracks):
            lines.append("#EXT-X-DISCONTINUITY")
        if mp4 and new_tracks:
            suffix = "" if prev is None else f"&FragmentNumber={frag.number_str}"
            lines.append(f'#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken={token}{suffix}"')
        if session.display_timestamp:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(timestamp_of(frag, session.producer))}")
        lines.append(f"#EXTINF:{frag.duration_ms / 1000:.3f},")
        name = "getMP4MediaFragment.mp4" if mp4 else "getTSFragment.ts"
        lines.append(f"{name}?FragmentNumber={frag.number_str}&SessionToken={token}")
        prev = frag
    if session.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _duration(ms: int) -> str:
    return f"PT{ms / 1000:.3f}S"


def dash_manifest(session: Session, now: float) -> str:
    first_seq, frags = session.window()
    token = _token(session)
    static = session.ended
    total_ms = sum(f.duration_ms for f in frags)
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        'xmlns:kvs="https://kinesisvideo.amazonaws.com/dash" '
        'profiles="urn:mpeg:dash:profile:isoff-live:2011" '
        f'minBufferTime="PT2S" type="{"static" if static else "dynamic"}"',
    ]
    if static:
        head[-1] += f' mediaPresentationDuration="{_duration(total_ms)}">'
    else:
        head[-1] += (
            f' availabilityStartTime="{_iso(session.origin_ms / 1000)}"'
            f' publishTime="{_iso(now)}" minimumUpdatePeriod="PT1S"'
            f' timeShiftBufferDepth="{_duration(max(total_ms, 1000))}">'
        )
    tracks = sorted(parse_tracks(frags[0].tracks), key=lambda t: t.number) if frags else []
    timeline = ["          <SegmentTimeline>"]
    for frag in frags:
        extra = ""
        if session.display_timestamp:
            extra += f' kvs:ts="{timestamp_of(frag, session.producer):.3f}"'
        if session.display_number:
            extra += f' kvs:fn="{frag.number_str}"'
        timeline.append(
            f'            <S t="{session.start_ms(frag)}" d="{frag.duration_ms}"{extra}/>'
        )
    timeline.append("          </SegmentTimeline>")
    # static: the presentation starts at the first fragment; dynamic: times count from
    # availabilityStartTime (the session origin), so they are wall-clock accurate
    offset = f' presentationTimeOffset="{session.start_ms(frags[0])}"' if static and frags else ""
    body = ['  <Period id="0" start="PT0S">']
    for track in tracks[:2]:
        audio = track.type == 2
        query = f"TrackNumber={track.number}&SessionToken={token}"
        init = quoteattr(f"getMP4InitFragment.mp4?{query}")
        media = quoteattr(f"getMP4MediaFragment.mp4?SequenceNumber=$Number$&{query}")
        rep = f'<Representation id="{track.number}" bandwidth="{_bandwidth(frags)}"'
        codec = rfc6381(track)
        if codec:
            rep += f" codecs={quoteattr(codec)}"
        if track.width and track.height:
            rep += f' width="{track.width}" height="{track.height}"'
        if audio and track.sampling_rate:
            rep += f' audioSamplingRate="{int(track.sampling_rate)}"'
        body += [
            f'    <AdaptationSet id="{track.number}" contentType="{"audio" if audio else "video"}" '
            f'mimeType="{"audio" if audio else "video"}/mp4" segmentAlignment="true" '
            'startWithSAP="1">',
            f"      {rep}>",
            f'        <SegmentTemplate timescale="1000" startNumber="{first_seq}"{offset} '
            f"initialization={init} media={media}>",
            *timeline,
            "        </SegmentTemplate>",
            "      </Representation>",
            "    </AdaptationSet>",
        ]
    body += ["  </Period>", "</MPD>"]
    return "\n".join(head + body) + "\n"
