# syntax=docker/dockerfile:1
# Multi-stage build: Debian 12 with the -dev packages to build, a slim runtime with only the
# shared libraries, running as a non-root user.
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libsimdjson-dev libfmt-dev libssl-dev libspdlog-dev libtomlplusplus-dev \
      libcli11-dev libmimalloc-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY include include
COPY src src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZGATE_BUILD_TESTS=OFF -DZGATE_BUILD_BENCH=OFF \
 && cmake --build build \
 && strip build/zgate build/zgate-mock

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libsimdjson14 libfmt9 libspdlog1.10 libmimalloc2.0 libsqlite3-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/zgate --create-home zgate \
 && mkdir -p /var/lib/zgate/data && chown zgate:zgate /var/lib/zgate/data
COPY --from=build /src/build/zgate /src/build/zgate-mock /usr/local/bin/
COPY config/zgate.example.toml /etc/zgate/zgate.example.toml
USER zgate
WORKDIR /var/lib/zgate
ENV ZGATE_LISTEN=0.0.0.0:8080 \
    ZGATE_DATA_DIR=/var/lib/zgate/data
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/zgate"]
