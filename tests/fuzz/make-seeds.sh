#!/usr/bin/env bash
# Writes the seed corpus of every fuzz target into OUT/<target>/, from the test fixtures and
# the hand-written inputs in tests/fuzz/corpus/. Each target's input starts with a few
# parameter bytes (see the comment at the top of its .cpp); they are prepended here.
# Usage: tests/fuzz/make-seeds.sh OUT
set -euo pipefail
out="${1:?usage: make-seeds.sh OUT}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
fx="$root/tests/fixtures"
for t in fuzz_sse fuzz_chat_request fuzz_zhipu fuzz_zaiweb fuzz_http1 fuzz_chunked; do mkdir -p "$out/$t"; done

# seed TARGET NAME PREFIX_PRINTF FILE: writes PREFIX bytes + FILE as OUT/TARGET/NAME
seed() { { printf "$3"; cat "$4"; } > "$out/$1/$2"; }

# SSE parser: [split][step][max]: every SSE fixture, in two reads and in 7-byte reads.
for f in "$fx"/zhipu/*.sse "$fx"/zaiweb/transcripts/*.sse; do
  b=$(basename "$f")
  seed fuzz_sse "$b.a" '\x80\x00\x10' "$f"
  seed fuzz_sse "$b.b" '\x00\x06\x3f' "$f"
done

# Chat request parser: the raw request bodies (OpenAI and the zhipu renderings).
for f in "$fx"/requests/*.json; do cp "$f" "$out/fuzz_chat_request/"; done

# zhipu v4: [flags][split][step]; streams (flags 0 / 2 = with usage), bodies (flags 1).
for f in "$fx"/zhipu/*.sse; do
  case "$f" in *.openai.sse|*.openai_usage.sse) continue ;; esac
  b=$(basename "$f")
  seed fuzz_zhipu "$b.a" '\x02\x80\x00' "$f"
  seed fuzz_zhipu "$b.b" '\x00\x00\x05' "$f"
done
for f in "$fx"/zhipu/*.json; do
  case "$f" in *.openai.json) continue ;; esac
  seed fuzz_zhipu "$(basename "$f")" '\x01\x00\x00' "$f"
done

# chat.z.ai: [flags][split][step], flags as set up for each transcript in
# tests/unit/zaiweb_stream_test.cpp (bit 4 tools, bit 2 emulation, bit 3 second trigger,
# bit 5 usage), once in reasoning mode in two reads and once in think_tags mode in 3-byte reads.
for f in "$fx"/zaiweb/transcripts/*.sse; do
  case "$f" in *.openai.sse) continue ;; esac
  b=$(basename "$f" .sse)
  case "$b" in
    T06|T10|T18) fl=$((0x30)) ;;
    T08) fl=$((0x34)) ;;
    T09) fl=$((0x3c)) ;;
    *) fl=$((0x20)) ;;
  esac
  seed fuzz_zaiweb "$b.a" "$(printf '\\x%02x\\x80\\x00' "$fl")" "$f"
  seed fuzz_zaiweb "$b.b" "$(printf '\\x%02x\\x00\\x02' "$((fl | 1))")" "$f"
done

# HTTP/1: [split][step]: the hand-written heads, and the zai-web upstream requests.
for f in "$root"/tests/fuzz/corpus/http1/*.http; do
  b=$(basename "$f")
  seed fuzz_http1 "$b.a" '\x80\x00' "$f"
  seed fuzz_http1 "$b.b" '\x00\x0f' "$f"
done
for f in "$fx"/zaiweb/requests/*.http; do
  # CRLF line ends in the head, as on the wire; the body is the last line.
  { printf '\x40\x00'; sed 's/$/\r/' "$f"; } > "$out/fuzz_http1/zaiweb_$(basename "$f")"
done

# Chunked bodies: [split][step]: SSE fixtures framed one chunk per line, as upstreams send them,
# in two reads and in 5-byte reads, and one with an extension and a trailer.
chunk_lines() {  # FILE -> the file as a chunked body, one chunk per line
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    printf '%x\r\n%s\n\r\n' "$((${#line} + 1))" "$line"
  done <"$1"
  printf '0\r\n\r\n'
}
for f in "$fx"/zhipu/*.sse; do
  b=$(basename "$f" .sse)
  { printf '\x80\x00'; LC_ALL=C chunk_lines "$f"; } > "$out/fuzz_chunked/$b.a"
  { printf '\x00\x04'; LC_ALL=C chunk_lines "$f"; } > "$out/fuzz_chunked/$b.b"
done
printf '\x40\x02%s' $'5;ext="v"\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n' > "$out/fuzz_chunked/ext_trailer"
