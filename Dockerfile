# One image recipe for the three services, one build target each:
#
#   docker build --target order     -t spike-to-trace/order .
#   docker build --target inventory -t spike-to-trace/inventory .
#   docker build --target pricing   -t spike-to-trace/pricing .
#
# docker compose builds them (see docker-compose.yml). The services are TypeScript run directly by
# Node 24 (type stripping), so there is no compile step: the image holds the sources and the
# production dependencies of the npm workspaces, and starts exactly like the native stack, with the
# same V8 heap settings (native/stack-components.ts says why):
#
#   node --max-semi-space-size=8 --max-old-space-size=96 --import @spike-to-trace/shared/instrument.ts services/<service>/src/main.ts
#
# NODE_VERSION defaults to the pin in .env; compose passes the .env value as a build argument, so
# changing the pin there changes both the native Node and the image. NODE_IMAGE is the base image:
# the official Node image of that version, unless the compose test swaps in its local stand-in
# (native/standins/) on a machine without registry access.
#
# No `# syntax=` line: it would make every build pull a Dockerfile frontend image from Docker Hub,
# and nothing here needs more than the builder's own.

ARG NODE_VERSION=24.21.0
ARG NODE_IMAGE=node:${NODE_VERSION}-bookworm-slim

# ---------------------------------------------------------------------------------------------------
# deps: production dependencies only. The manifests are copied before any source so that this layer
# (the slow npm ci) is reused for as long as package.json / package-lock.json do not change.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY services/shared/package.json services/shared/
COPY services/order/package.json services/order/
COPY services/inventory/package.json services/inventory/
COPY services/pricing/package.json services/pricing/
# --omit=dev skips the root devDependencies (typescript, @types/*, test helpers). The workspace
# packages themselves are linked: node_modules/@spike-to-trace/* point at services/*.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
  && npm cache clean --force

# ---------------------------------------------------------------------------------------------------
# base: what every service needs: the installed tree and the shared workspace (telemetry, HTTP
# helpers). Files stay owned by root and read-only for the runtime user: the services never write
# to their own code.
FROM ${NODE_IMAGE} AS base
WORKDIR /app
# OTEL_EXPORTER_OTLP_ENDPOINT: where the Collector listens inside the compose network (compose sets
# it as well; a plain `docker run` can override it).
ENV NODE_ENV=production \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4317
# Node's compile cache (the compile-cache stage below): the services start from it without Node's
# type stripper in memory, about 20 MiB less each.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
# The whole /app of the deps stage: node_modules and any workspace-local node_modules npm created.
COPY --from=deps /app ./
COPY services/shared ./services/shared
# The non-root user that the official Node images ship (uid 1000).
USER node
# How every service starts; each target below adds its main module as CMD.
ENTRYPOINT ["node", "--max-semi-space-size=8", "--max-old-space-size=96", "--import", "@spike-to-trace/shared/instrument.ts"]

# ---------------------------------------------------------------------------------------------------
# compile-cache: Node's compile cache of the three services, filled by starting each one once and
# stopping it as soon as it listens (services/shared/src/prime-compile-cache.ts), exactly as the
# native stack fills it. It runs as the runtime user because Node keeps the cache per user id;
# the targets copy it in owned by root, so at run time it is only read.
FROM base AS compile-cache
ENV NODE_COMPILE_CACHE=/tmp/node-compile-cache
COPY services ./services
RUN PORT=0 OTEL_SDK_DISABLED=true node --max-semi-space-size=8 --max-old-space-size=96 --import @spike-to-trace/shared/instrument.ts --import @spike-to-trace/shared/prime-compile-cache.ts services/order/src/main.ts
RUN PORT=0 OTEL_SDK_DISABLED=true node --max-semi-space-size=8 --max-old-space-size=96 --import @spike-to-trace/shared/instrument.ts --import @spike-to-trace/shared/prime-compile-cache.ts services/inventory/src/main.ts
RUN PORT=0 OTEL_SDK_DISABLED=true node --max-semi-space-size=8 --max-old-space-size=96 --import @spike-to-trace/shared/instrument.ts --import @spike-to-trace/shared/prime-compile-cache.ts services/pricing/src/main.ts
# Node writes the cache files readable by their owner only; root will own them in the targets.
RUN chmod -R a+rX /tmp/node-compile-cache

# ---------------------------------------------------------------------------------------------------
FROM base AS order
COPY services/order ./services/order
COPY --from=compile-cache --chown=root:root /tmp/node-compile-cache /app/.node-compile-cache
ENV PORT=8080 OTEL_SERVICE_NAME=order INVENTORY_URL=http://inventory:8081 PRICING_URL=http://pricing:8082
EXPOSE 8080
CMD ["services/order/src/main.ts"]

# ---------------------------------------------------------------------------------------------------
FROM base AS inventory
COPY services/inventory ./services/inventory
COPY --from=compile-cache --chown=root:root /tmp/node-compile-cache /app/.node-compile-cache
ENV PORT=8081 OTEL_SERVICE_NAME=inventory
EXPOSE 8081
CMD ["services/inventory/src/main.ts"]

# ---------------------------------------------------------------------------------------------------
FROM base AS pricing
COPY services/pricing ./services/pricing
COPY --from=compile-cache --chown=root:root /tmp/node-compile-cache /app/.node-compile-cache
ENV PORT=8082 OTEL_SERVICE_NAME=pricing
EXPOSE 8082
CMD ["services/pricing/src/main.ts"]
