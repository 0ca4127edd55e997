# The loadtest binary in a small image (see docs/DISTRIBUTED.md and deploy/k8s/).
#   docker build -t loadtest:0.1.0 .
# The builder is pinned to bookworm so the binary's glibc matches the runtime image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY scenarios scenarios
# Cargo.toml names the benches; the manifest does not load without them.
COPY benches benches
RUN cargo build --release --locked --bin loadtest \
    && strip target/release/loadtest

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin loadtest
COPY --from=build /src/target/release/loadtest /usr/local/bin/loadtest
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["loadtest"]
CMD ["--help"]
