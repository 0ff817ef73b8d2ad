# syntax=docker/dockerfile:1
# Gatehouse: one image for both apps. The default command runs both (like `npm start`);
# docker-compose.yml runs each app in its own container with its own command.

# ---- build: compile TypeScript and install production dependencies --------------------------
FROM node:22-bookworm-slim AS build
# better-sqlite3 is built from source when no prebuilt binary can be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY apps ./apps
# tsc → dist/ (tsconfig.build.json), then drop the dev dependencies (tsc, tsx, eslint, …).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled JavaScript, production dependencies, migrations and views ------------
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LISTEN_HOST=0.0.0.0 \
    DATA_DIR=/var/lib/gatehouse/data \
    KEYS_DIR=/var/lib/gatehouse/keys
WORKDIR /app
# Code stays owned by root and read-only to the app; only the state directories are writable.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY views ./views
# Owner-only, as the apps make them when they create them: the data holds password and token hashes.
RUN mkdir -p /var/lib/gatehouse/data /var/lib/gatehouse/keys \
 && chown -R node:node /var/lib/gatehouse \
 && chmod 0700 /var/lib/gatehouse/data /var/lib/gatehouse/keys
USER node
EXPOSE 4000 4001
CMD ["node", "dist/apps/start.js"]
