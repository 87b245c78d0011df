# Multi-stage build: Debian 12 with the -dev packages compiles zgate and zgate-mock; the runtime
# stage (debian:12-slim) installs exactly the Debian packages that own the shared libraries the
# two binaries link (found with ldd + dpkg -S in the build stage, not listed by hand), then checks
# with ldd that nothing is missing: a build without a needed library fails.
# docker/test builds and runs this image (docker, or podman with `--format docker`).
FROM debian:12 AS build
# force-unsafe-io: dpkg skips its fsync per file (as the official Debian images set it up).
RUN apt-get update \
 && apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libsimdjson-dev libfmt-dev libssl-dev libspdlog-dev libtomlplusplus-dev \
      libcli11-dev libmimalloc-dev libsqlite3-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY include include
COPY src src
# zgate-mock replays the chat.z.ai transcripts of the test fixtures (embedded at build time).
COPY tests/fixtures/zaiweb/transcripts tests/fixtures/zaiweb/transcripts
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZGATE_BUILD_TESTS=OFF -DZGATE_BUILD_BENCH=OFF \
 && cmake --build build --target zgate zgate-mock \
 && strip build/zgate build/zgate-mock
# The Debian packages owning every shared library the binaries load, one a line. dpkg knows a
# file by the path its package ships, so with merged /usr a library ldd finds under /lib is also
# looked up under /usr/lib (and the other way round) and by its resolved name.
# libcurl is not linked but opened at run time when alert webhooks are configured: it and its
# libraries are listed too.
RUN set -eu; \
    curl_lib="$(ldconfig -p | awk '$1 == "libcurl.so.4" { print $NF; exit }')"; \
    if [ -z "$curl_lib" ]; then echo "libcurl.so.4 is not installed" >&2; exit 1; fi; \
    { ldd build/zgate build/zgate-mock; ldd "$curl_lib"; echo "$curl_lib"; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u > /tmp/libs; \
    : > /tmp/pkgs; \
    while read -r lib; do \
      real="$(readlink -f "$lib")"; found=""; \
      for p in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do \
        if owner="$(dpkg -S "$p" 2>/dev/null)"; then found="${owner%%:*}"; break; fi; \
      done; \
      if [ -z "$found" ]; then echo "no Debian package owns $lib" >&2; exit 1; fi; \
      echo "$lib -> $found"; echo "$found" >> /tmp/pkgs; \
    done < /tmp/libs; \
    sort -u /tmp/pkgs > /src/build/runtime-packages; \
    echo "runtime packages:"; cat /src/build/runtime-packages

FROM debian:12-slim AS runtime
# DROP_PACKAGE: a package left out on purpose, to prove the library check below fails the
# build (docker/test does this once); empty for a real image.
ARG DROP_PACKAGE=""
COPY --from=build /src/build/runtime-packages /tmp/runtime-packages
# ca-certificates is not linked but TLS to the real API needs it.
RUN set -eu; \
    if [ -n "$DROP_PACKAGE" ]; then sed -i "/^${DROP_PACKAGE}\$/d" /tmp/runtime-packages; fi; \
    pkgs="$(tr '\n' ' ' < /tmp/runtime-packages)"; \
    apt-get update; \
    apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io ca-certificates $pkgs; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /tmp/runtime-packages; \
    useradd --system --uid 10001 --user-group --home-dir /var/lib/zgate --no-create-home --shell /usr/sbin/nologin zgate; \
    mkdir -p /var/lib/zgate/data; \
    chown -R zgate:zgate /var/lib/zgate
COPY --from=build /src/build/zgate /src/build/zgate-mock /usr/local/bin/
COPY config/zgate.example.toml /etc/zgate/zgate.example.toml
# Every shared library resolves (libcurl's too), and both binaries start (print their help).
RUN curl_lib="$(ldconfig -p | awk '$1 == "libcurl.so.4" { print $NF; exit }')" \
 && if [ -z "$curl_lib" ]; then echo "runtime image has no libcurl.so.4 (alert webhooks)" >&2; exit 1; fi \
 && if ldd /usr/local/bin/zgate /usr/local/bin/zgate-mock "$curl_lib" | grep 'not found'; then \
      echo "runtime image is missing a shared library (above)" >&2; exit 1; fi \
 && /usr/local/bin/zgate --help >/dev/null \
 && /usr/local/bin/zgate-mock --help >/dev/null
USER zgate
WORKDIR /var/lib/zgate
ENV ZGATE_LISTEN=0.0.0.0:8080 \
    ZGATE_DATA_DIR=/var/lib/zgate/data
VOLUME ["/var/lib/zgate/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# `zgate health` asks GET /health on ZGATE_LISTEN (0.0.0.0 is asked on 127.0.0.1): exit 0 or 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/usr/local/bin/zgate", "health"]
ENTRYPOINT ["/usr/local/bin/zgate"]
