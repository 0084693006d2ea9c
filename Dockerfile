# syntax=docker/dockerfile:1
# dragnet node image: built in one stage, run in a slim one as a non-root user.
#   docker build -t dragnet .
#   docker run -d --name dragnet -v dragnet-data:/var/lib/dragnet -p 4001:4001 dragnet
# The data volume holds the node key, the API token and the store: back it up, keep it private.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Install scripts stay off (as package.json's allowScripts says): LevelDB ships prebuilt binaries.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY config ./config
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DRAGNET_DATA=/var/lib/dragnet
WORKDIR /opt/dragnet
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/config ./config
COPY contrib ./contrib
RUN chmod 0755 dist/src/cli/main.js \
    && ln -s /opt/dragnet/dist/src/cli/main.js /usr/local/bin/dragnet \
    && groupadd --system --gid 10001 dragnet \
    && useradd --system --uid 10001 --gid dragnet --home-dir /var/lib/dragnet --shell /usr/sbin/nologin dragnet \
    && mkdir -p /var/lib/dragnet \
    && chown dragnet:dragnet /var/lib/dragnet \
    && chmod 0700 /var/lib/dragnet
USER dragnet:dragnet
VOLUME ["/var/lib/dragnet"]
# libp2p (set `listen` to /ip4/0.0.0.0/tcp/4001) and the HTTP API (set `api` to 0.0.0.0:7700
# to publish it: every read then needs a token).
EXPOSE 4001 7700
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["dragnet", "status", "--check"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["dragnet"]
CMD ["start"]
