# syntax=docker/dockerfile:1
#
# OAuth 2.0 client-credentials token service.
# glibc base on purpose: @node-rs/argon2 and esbuild (used by tsx) ship prebuilt glibc binaries
# as optional npm packages; alpine (musl) is not what the lockfile was tested with.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so the layer is cached until the lockfile changes. tsx is a runtime
# dependency: the service runs its TypeScript sources directly.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# Sources, the committed migrations (read at start from /app/drizzle, i.e. ../../drizzle relative
# to src/db/connect.ts), and tsconfig.json (tsx reads its compiler options, e.g. JSX settings).
COPY tsconfig.json ./
COPY src/ ./src/
COPY drizzle/ ./drizzle/

# Writable state for the unprivileged user: signing keys (KEYS_DIR, default ./keys, mount a volume
# here so keys survive restarts) and the embedded PGlite database used when DATABASE_URL is unset
# (DATA_DIR, default ./data). A fresh named volume copies this ownership on first mount.
RUN mkdir -p /app/keys /app/data \
 && chown node:node /app/keys /app/data

USER node

ENV PORT=8080 \
    HOST=0.0.0.0
EXPOSE 8080

# No /healthz yet: the JWKS document is served from memory once the service is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/.well-known/jwks.json').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# tsx as a Node loader (same as `tsx src/main.ts`, but one process: SIGTERM reaches the
# service's own graceful shutdown directly).
CMD ["node", "--import", "tsx", "src/main.ts"]
