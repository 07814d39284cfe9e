#!/usr/bin/env bash
# A small ffmpeg and ffprobe for the api and worker images (both Dockerfiles run this
# in a build stage and copy only the two binaries out). Debian's ffmpeg package brings
# ~700 MB of libraries (codecs, X11, GPU APIs, network protocols) Stemdeck never uses:
# it only decodes local audio files, each with the one demuxer sniff.py named
# (stemdeck.core.probe.ffmpeg_input), to a raw f32le pipe or the null muxer.
#
#   deploy/ffmpeg/build.sh PREFIX   builds from Debian's own ffmpeg source (apt-get
#                                   source, so it gets the distribution's security
#                                   fixes) and installs PREFIX/bin/{ffmpeg,ffprobe}
#   FFMPEG_SOURCE=DIR deploy/ffmpeg/build.sh PREFIX
#                                   builds an ffmpeg source tree already unpacked
#
# Whatever is not enabled below, ffmpeg refuses ("Unknown input format", "Decoder
# not found"), and Stemdeck reports the upload as unreadable: add a demuxer here
# together with its entry in probe.DEMUXERS, and a decoder with a test fixture.
set -euo pipefail

prefix=${1:?usage: build.sh PREFIX}

# What probe.DEMUXERS reads with (m4a -> mov, webm -> matroska).
demuxers=wav,w64,aiff,mov,flac,ogg,caf,matroska,mp3,aac
# What those containers hold in practice; ac3/eac3 come in video files' soundtracks.
decoders=aac,alac,mp1,mp1float,mp2,mp2float,mp3,mp3float,opus,vorbis,flac,ac3,eac3
decoders+=,pcm_s8,pcm_u8,pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_s32be
decoders+=,pcm_f32le,pcm_f32be,pcm_f64le,pcm_f64be,pcm_alaw,pcm_mulaw
decoders+=,adpcm_ima_wav,adpcm_ms,adpcm_ima_qt,gsm_ms
# The demuxers above split streams into packets with these.
parsers=aac,ac3,flac,mpegaudio,opus,vorbis
# Output: the worker's raw float pipe (-f f32le -acodec pcm_f32le pipe:1) and the
# api's decode check (-f null -, whose default audio encoder is pcm_s16le).
muxers=pcm_f32le,null
encoders=pcm_f32le,pcm_s16le
# -ac/-ar and sample-format conversion go through aresample (libswresample).
filters=aresample,aformat,anull,atrim,abuffer,abuffersink,null,format,buffer,buffersink

if [ -z "${FFMPEG_SOURCE:-}" ]; then
  # The python:3.11-slim images list Debian's archive in deb822 form; debootstrap'd
  # systems in a one-line sources.list. Either way, add the matching source entries.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  fi
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/ffmpeg-src.list
  fi
  apt-get update
  # dpkg-dev unpacks the source and applies Debian's patches; nasm builds the x86 SIMD code.
  apt-get install -y --no-install-recommends gcc make nasm dpkg-dev xz-utils
  mkdir -p /tmp/ffmpeg-source
  (cd /tmp/ffmpeg-source && apt-get source ffmpeg)
  FFMPEG_SOURCE=$(find /tmp/ffmpeg-source -mindepth 1 -maxdepth 1 -type d -name 'ffmpeg-*' | head -1)
  [ -n "$FFMPEG_SOURCE" ] || { echo "build.sh: apt-get source ffmpeg unpacked nothing" >&2; exit 1; }
fi

cd "$FFMPEG_SOURCE"
# --disable-autodetect: no system library gets linked in by chance (zlib, gnutls, ...),
# so the binaries need nothing beyond libc and libm at run time.
./configure \
  --prefix="$prefix" \
  --disable-everything --disable-autodetect --disable-network \
  --disable-doc --disable-debug --disable-ffplay --disable-avdevice --disable-swscale \
  --enable-static --disable-shared \
  --enable-ffmpeg --enable-ffprobe \
  --enable-protocol=file,pipe \
  --enable-demuxer="$demuxers" \
  --enable-decoder="$decoders" \
  --enable-parser="$parsers" \
  --enable-muxer="$muxers" \
  --enable-encoder="$encoders" \
  --enable-filter="$filters" \
  --enable-swresample
make -j"$(nproc)" ffmpeg ffprobe
mkdir -p "$prefix/bin"
# The stripped binaries (ffmpeg_g and ffprobe_g keep the symbols).
install -m 0755 ffmpeg ffprobe "$prefix/bin/"
