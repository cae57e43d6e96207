# Multi-stage build: a Rust toolchain builds the binary, a slim Debian runs it as a non-root
# user. Subscriptions, conversations and the outbox live on the /data volume.
#   docker build --build-arg GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t buildbot-telegram .
#   docker run -d -v bbtg:/data -e BBTG_TELEGRAM__BOT_TOKEN=... \
#     -e BBTG_BUILDBOT__URL=https://ci.example.org/ buildbot-telegram
# .dockerignore keeps target/, the test virtualenv, databases and .git out of the context.
FROM rust:1.95-bookworm AS build
ARG GIT_COMMIT=""
WORKDIR /src
COPY . .
RUN BUILDBOT_TELEGRAM_GIT_COMMIT="$GIT_COMMIT" \
    cargo build --release --locked --bin buildbot-telegram

FROM debian:bookworm-slim
RUN useradd --system --home /data --shell /usr/sbin/nologin bbtg \
    && mkdir -p /data && chown bbtg /data
COPY --from=build /src/target/release/buildbot-telegram /usr/local/bin/buildbot-telegram
USER bbtg
VOLUME /data
# Inside the container the webhook must listen on every interface of the container's own
# network (publish the port only to the reverse proxy that terminates TLS, or set
# telegram.webhook.tls_key); it is used only with telegram.use_webhook = true.
ENV BBTG_STORAGE__URL=/data/buildbot-telegram.sqlite \
    BBTG_TELEGRAM__WEBHOOK__LISTEN=0.0.0.0:8443 \
    RUST_LOG=info
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/buildbot-telegram"]
