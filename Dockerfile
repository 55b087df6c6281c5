# One image for both programs; docker-compose.yml picks the command.
FROM node:20-bookworm-slim AS build
WORKDIR /opt/berth
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY agent ./agent
COPY manager ./manager
COPY bin ./bin
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /opt/berth
COPY --from=build /opt/berth/node_modules ./node_modules
COPY --from=build /opt/berth/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY bin ./bin
ENV NODE_ENV=production
CMD ["node", "dist/manager/main.js", "--help"]
