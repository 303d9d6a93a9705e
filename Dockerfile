# syntax=docker/dockerfile:1
#
# OAuth 2.0 client-credentials token service.
# glibc base on purpose: @node-rs/argon2 and esbuild (used by tsx) ship prebuilt glibc binaries
# as optional npm packages; alpine (musl) is not what the lockfile was tested with.

# --- docs: the one file the /docs page needs from a development dependency ------------------------
# @scalar/api-reference brings hundreds of packages for its Vue component; the page only needs its
# self-contained browser bundle, so the runtime image gets that file and none of its dependencies.
FROM node:20-bookworm-slim AS docs
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# --- runtime -----------------------------------------------------------------------------------------
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so the layer is cached until the lockfile changes. tsx is a runtime
# dependency: the service runs its TypeScript sources directly.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=docs /build/node_modules/@scalar/api-reference/dist/browser/standalone.js \
     ./node_modules/@scalar/api-reference/dist/browser/standalone.js

# Sources, the committed migrations (read at start from /app/drizzle, i.e. ../../drizzle relative
# to src/db/connect.ts), tsconfig.json (tsx reads its compiler options), and the CLI's bin shim
# (`docker compose exec token-service ./bin/cc-token-service.js accounts list`).
COPY tsconfig.json ./
COPY src/ ./src/
COPY drizzle/ ./drizzle/
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

# tsx as a Node loader (same as `tsx src/main.ts`, but one process: SIGTERM reaches the
# service's own graceful shutdown directly).
CMD ["node", "--import", "tsx", "src/main.ts"]
