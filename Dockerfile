# syntax=docker/dockerfile:1.7
# transit-stream's image: the browser bundle and the release server (with `ingest`), built
# by the same scripts as on a developer's machine, then copied into a slim runtime image
# that runs as a non-root user. Serves on 0.0.0.0:3000.

FROM node:20.20.2-bookworm-slim AS node

FROM rust:1.95.0-slim-bookworm AS build
# cmake: librdkafka is built from source (feature `kafka`). Node runs the npm step and
# binaryen's wasm-opt.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /src
COPY . .
# The caches keep the registry and target/ between builds; the results are copied out of
# them within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/setup.sh \
 && scripts/build-site.sh \
 && cargo build --locked --release -p server --features kafka \
 && mkdir -p /out \
 && cp -r target/site /out/site \
 && cp target/release/transit-stream /out/transit-stream

FROM debian:12.12-slim
# ca-certificates: the live feed is TLS (mqtts://mqtt.hsl.fi:8883). curl: health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin transit
COPY --from=build /out/transit-stream /usr/local/bin/transit-stream
COPY --from=build /out/site /srv/transit-stream/site
COPY data/replay/ /srv/transit-stream/replay/
USER 10001
ENV TRANSIT_BIND=0.0.0.0:3000 \
    TRANSIT_SITE_ROOT=/srv/transit-stream/site
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:3000/healthz"]
ENTRYPOINT ["transit-stream"]
