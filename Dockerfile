# berth's image: one image for the manager, the agent and berthctl; docker-compose.yml picks the
# command. Works with the legacy builder (no BuildKit needed).
#
# BASE is any image with Node.js 20 or later:
#   docker build -t berth:latest .                                   public node image, npm ci here
#   docker build --build-arg BASE=berth/node:20 -t berth:latest CTX  offline (what set-up does)
# berth/node:20 is built from Debian's own nodejs package (scripts/build-image.sh node), and CTX
# is a context made by scripts/image-context.sh: the JavaScript compiled by set-up and the
# production node_modules pruned from set-up's install (same Node ABI, so better-sqlite3's
# native module loads as is), because neither a registry image nor node-gyp's headers download
# can be had there.
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
WORKDIR /opt/berth
COPY . .
RUN if [ -f node_modules/.berth-prebuilt ]; then \
      echo "prebuilt context: compiled JavaScript and production dependencies"; \
    else \
      apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/* && \
      npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund; \
    fi \
 && test -f dist/manager/main.js && test -f dist/agent/main.js && test -d node_modules/better-sqlite3

FROM ${BASE}
WORKDIR /opt/berth
# The manager runs as this user; the agent needs root (see docker-compose.yml and the README).
# /var/lib/berth-node: what the manager hands the agents (docker-compose.yml's berth-node-tls),
# made here so the named volume starts owned by the manager's user.
RUN (getent passwd berth >/dev/null || useradd --system --uid 10001 --user-group --home-dir /var/lib/berth --no-create-home --shell /usr/sbin/nologin berth) \
 && install -d -o berth -g berth -m 0700 /var/lib/berth \
 && install -d -o berth -g berth -m 0700 /var/lib/berth-node
COPY --from=build /opt/berth/package.json ./
COPY --from=build /opt/berth/node_modules ./node_modules
COPY --from=build /opt/berth/dist ./dist
COPY --from=build /opt/berth/proto ./proto
COPY --from=build /opt/berth/bin ./bin
RUN ln -s /opt/berth/bin/berthctl.js /usr/local/bin/berthctl
ENV NODE_ENV=production
LABEL org.opencontainers.image.title=berth org.opencontainers.image.source=https://github.com/berth/berth
USER berth
CMD ["node", "dist/manager/main.js", "--help"]
