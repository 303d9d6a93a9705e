# syntax=docker/dockerfile:1
#
# OAuth 2.0 client-credentials token service.
# glibc base on purpose: @node-rs/argon2 and esbuild (used by tsx) ship prebuilt glibc binaries
# as optional npm packages; alpine (musl) is not what the lockfile was tested with.

# --- build: every dependency, to bundle the service and to take one file from a dev dependency -------
# `npm run build` bundles src/ into dist/ (esbuild; packages stay external): the service then runs on plain
# node, without tsx's loader thread (~34 MiB of RSS) and its compile-on-start. @scalar/api-reference brings
# hundreds of packages for its Vue component; the /docs page only needs its self-contained browser bundle,
# so the runtime image gets that file and none of its dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src/ ./src/
RUN npm run build

# --- runtime -----------------------------------------------------------------------------------------
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so the layer is cached until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /build/node_modules/@scalar/api-reference/dist/browser/standalone.js \
     ./node_modules/@scalar/api-reference/dist/browser/standalone.js

# The bundled service; the committed migrations (found as the nearest drizzle/ above the running module);
# and, for the CLI (`docker compose exec token-service npm run -s cli -- …` or ./bin/cc-token-service.js),
# the sources and tsconfig.json, which it runs through tsx.
COPY --from=build /build/dist/ ./dist/
COPY drizzle/ ./drizzle/
COPY tsconfig.json ./
COPY src/ ./src/
COPY bin/ ./bin/

# Writable state for the unprivileged user: signing keys (KEYS_DIR, default ./keys, mount a volume
# here so keys survive restarts) and the embedded PGlite database used when DATABASE_URL is unset
# (DATA_DIR, default ./data). A fresh named volume copies this ownership on first mount.
RUN mkdir -p /app/keys /app/data \
 && chown node:node /app/keys /app/data

USER node

ENV PORT=8080 \
    HOST=0.0.0.0
EXPOSE 8080

# /readyz: healthy only while the service can issue tokens (the database answers `select 1` within
# 800 ms, migrations are applied, a signing key is loaded, not shutting down). An unreachable database
# therefore marks the container unhealthy; an orchestrator that restarts unhealthy containers should probe
# /healthz (the process is alive) for that instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# Plain node, one process: SIGTERM reaches the service's own graceful shutdown directly.
CMD ["node", "--enable-source-maps", "dist/main.js"]
