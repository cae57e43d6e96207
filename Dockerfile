# Multi-stage build: a Rust toolchain builds the binary, a slim Debian runs it as a non-root
# user. Subscriptions, conversations and the outbox live on the /data volume.
#   docker build -t buildbot-telegram .
#   docker run -d -v bbtg:/data -e BBTG_TELEGRAM__BOT_TOKEN=... \
#     -e BBTG_BUILDBOT__URL=https://ci.example.org/ buildbot-telegram
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin buildbot-telegram

FROM debian:bookworm-slim
RUN useradd --system --home /data --shell /usr/sbin/nologin bbtg \
    && mkdir -p /data && chown bbtg /data
COPY --from=build /src/target/release/buildbot-telegram /usr/local/bin/buildbot-telegram
USER bbtg
VOLUME /data
ENV BBTG_STORAGE__PATH=/data/buildbot-telegram.sqlite RUST_LOG=info
# webhook mode listens here (telegram.webhook.listen)
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/buildbot-telegram"]
