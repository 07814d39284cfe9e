"""What a file is decides how ffmpeg reads it: one demuxer, pinned from the file's own
first bytes, never a guess that could take a text file for a playlist (real ffmpeg)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdeck.core.probe import (
    AudioError,
    AudioInfo,
    PointerFileError,
    ffmpeg_input,
    probe,
    sniff_demuxer,
    verify_decodes,
)
from stemdeck.core.sniff import id3_tag_length, pointer_kind
from stemdeck.worker.audio import decode


def id3_tag(title: str = "Song", flags: int = 0) -> bytes:
    """An ID3v2.3 tag holding one title frame, its size written 7 bits a byte."""
    text = b"\x00" + title.encode("latin-1")
    frame = b"TIT2" + len(text).to_bytes(4, "big") + b"\x00\x00" + text
    size = len(frame)
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00" + bytes([flags]) + synchsafe + frame


def tone_wav(path: Path, seconds: float = 1.0) -> Path:
    frames = int(44_100 * seconds)
    signal = 0.3 * np.sin(2 * np.pi * 440 * np.arange(frames) / 44_100)
    sf.write(path, np.stack([signal, signal], axis=1).astype(np.float32), 44_100)
    return path


def encode(source: Path, target: Path, *codec: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), *codec, str(target)],
        check=True,
    )
    return target


@pytest.fixture
def secret_mp3(tmp_path: Path) -> Path:
    """A file on the server's disk that no upload may make ffmpeg read."""
    return encode(tone_wav(tmp_path / "secret.wav", 3.0), tmp_path / "secret.mp3")


def hls_playlist(segment: Path) -> bytes:
    return (
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\n{segment}\n#EXT-X-ENDLIST\n"
    ).encode()


def test_id3_tag_length_reads_the_synchsafe_size_and_the_footer_flag() -> None:
    tag = id3_tag("A title")

    assert id3_tag_length(tag + b"rest") == len(tag)
    assert id3_tag_length(id3_tag("A title", flags=0x10)) == len(tag) + 10  # footer
    assert id3_tag_length(b"ID3\x03\x00\x00\x00\x00\x02\x80") == 0  # a size byte > 0x7F
    assert id3_tag_length(b"ID3\xff\x00\x00\x00\x00\x00\x00") == 0
    assert id3_tag_length(b"fLaC" + bytes(12)) == 0
    assert id3_tag_length(b"ID3") == 0


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", "an HLS or M3U playlist"),
        (b"\xef\xbb\xbf  #extm3u\r\n", "an HLS or M3U playlist"),
        (b"#EXTINF:10,Song\n/srv/a.mp3\n", "an M3U playlist"),
        (b"ffconcat version 1.0\nfile a.mp3\n", "an ffmpeg concat list"),
        (b"[playlist]\nFile1=/srv/a.mp3\n", "a PLS playlist"),
        (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n", "an SDP stream description"),
        (b'<?xml version="1.0"?><MPD>', "an XML document"),
        (b"<MPD xmlns=", "a DASH manifest"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00", None),
        (b"\xff\xfb\x90\x00", None),
        (b"", None),
    ],
)
def test_playlists_and_stream_descriptions_are_recognised(head: bytes, kind: str | None) -> None:
    found = pointer_kind(head)

    assert (found is None) if kind is None else (found is not None and found.startswith(kind))


@pytest.mark.parametrize(
    ("name", "codec", "demuxer"),
    [
        ("song.wav", (), "wav"),
        ("song.flac", (), "flac"),
        ("song.mp3", (), "mp3"),
        ("song.m4a", ("-c:a", "aac"), "mov"),
        ("song.aac", ("-c:a", "aac", "-f", "adts"), "aac"),
        ("song.ogg", ("-c:a", "libvorbis"), "ogg"),
        ("song.webm", ("-c:a", "libopus"), "matroska"),
        ("song.aiff", (), "aiff"),
    ],
)
def test_each_container_is_pinned_to_its_own_demuxer(
    tmp_path: Path, name: str, codec: tuple[str, ...], demuxer: str
) -> None:
    path = encode(tone_wav(tmp_path / "tone.wav"), tmp_path / name, *codec)

    info = probe(path)
    verify_decodes(path, info)

    assert sniff_demuxer(path) == demuxer == info.demuxer
    audio = decode(path, info)
    assert audio.shape[0] == 2
    assert audio.shape[1] == pytest.approx(44_100, abs=2048)  # ADTS keeps encoder padding


def test_an_id3_tag_is_looked_past_to_the_container_behind_it(tmp_path: Path) -> None:
    """GIVEN a FLAC file behind an ID3 tag (some taggers write one) THEN it is read as the
    FLAC it is, and an MP3 behind two tags as MP3."""
    flac = encode(tone_wav(tmp_path / "tone.wav"), tmp_path / "plain.flac")
    tagged_flac = tmp_path / "tagged.flac"
    tagged_flac.write_bytes(id3_tag() + flac.read_bytes())
    mp3 = encode(tone_wav(tmp_path / "tone2.wav"), tmp_path / "plain.mp3")
    twice_tagged = tmp_path / "twice.mp3"
    twice_tagged.write_bytes(id3_tag("one") + id3_tag("two") + mp3.read_bytes())

    assert sniff_demuxer(tagged_flac) == "flac"
    assert probe(tagged_flac).duration_s == pytest.approx(1.0, abs=0.01)
    assert sniff_demuxer(twice_tagged) == "mp3"


@pytest.mark.parametrize("tags", [1, 2], ids=["one-id3-tag", "two-id3-tags"])
def test_an_hls_playlist_behind_an_id3_tag_is_refused_before_ffmpeg_sees_it(
    tmp_path: Path, secret_mp3: Path, tags: int
) -> None:
    """GIVEN an "MP3" that is an ID3 tag and an HLS playlist naming a file on the server
    WHEN it is probed THEN it is refused as a playlist (ffmpeg, left to guess, reads it as
    HLS and decodes the server's file)."""
    hostile = tmp_path / "song.mp3"
    hostile.write_bytes(id3_tag() * tags + hls_playlist(secret_mp3))

    with pytest.raises(PointerFileError) as refused:
        probe(hostile)

    assert refused.value.code == "playlist_file"
    assert "HLS or M3U playlist" in refused.value.message
    assert "Upload the audio file itself" in refused.value.message


def test_the_decoder_reads_only_with_the_pinned_demuxer(tmp_path: Path, secret_mp3: Path) -> None:
    """GIVEN the same hostile file handed straight to the worker's decoder as an MP3 (a
    source stored before sniffing looked past ID3 tags) THEN ffmpeg reads it as MP3 only
    and finds no audio, instead of decoding the server's file through the playlist."""
    hostile = tmp_path / "source.mp3"
    hostile.write_bytes(id3_tag() + hls_playlist(secret_mp3))
    info = AudioInfo("mp3", "mp3", 3.0, 44_100, 2, decoder="ffmpeg", demuxer="mp3")

    with pytest.raises(AudioError) as refused:
        decode(hostile, info)

    assert refused.value.code in {"corrupt_audio", "no_audio"}


def test_an_unknown_body_behind_an_id3_tag_is_read_as_mp3_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(id3_tag() + b"nothing like audio follows this tag " * 40)

    assert sniff_demuxer(path) == "mp3"
    with pytest.raises(AudioError) as refused:
        probe(path)
    assert refused.value.code == "unsupported_media"


def test_a_file_no_sniffer_knows_is_refused_before_any_decoder(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(b"plain words, no audio at all\n" * 40)

    with pytest.raises(AudioError) as refused:
        probe(path)

    assert refused.value.code == "unsupported_media"


def test_ffmpeg_input_pins_the_demuxer_the_protocols_and_the_file_protocol() -> None:
    assert ffmpeg_input(Path("/srv/jobs/x/source.mp3"), "mp3") == [
        "-protocol_whitelist",
        "file,pipe",
        "-f",
        "mp3",
        "-i",
        "file:/srv/jobs/x/source.mp3",
    ]
