# syntax=docker/dockerfile:1
# Portcullis: build with the full toolchain, run with production dependencies only, as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, in a layer of their own: a change to src/ does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORTCULLIS_CONFIG=/etc/portcullis/gateway.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.schema.json ./
# The demo config; mount your own directory over it:
#   docker run -v $PWD/config:/etc/portcullis:ro -e JWT_SECRET=... portcullis
# With NODE_ENV=production the gateway refuses to start while a provider's secret is the ${VAR:-fallback}
# written in the config (the demo's is public): set JWT_SECRET.
COPY gateway.yaml /etc/portcullis/gateway.yaml
USER node
# 9901, the admin listener, binds 127.0.0.1 unless server.admin_host says otherwise (the demo config reads
# it from ADMIN_HOST): set 0.0.0.0 for a Kubernetes probe or a Prometheus scraper outside the container,
# and publish the port only on a private network. The HEALTHCHECK below runs inside and needs neither.
EXPOSE 8080 9901
# Liveness from the admin port named in the mounted config (GET /healthz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "dist/cli.js", "health"]
# node is PID 1 and handles SIGTERM itself: it stops accepting, drains in-flight requests
# (server.shutdown_timeout, 10s by default) and exits 0. docker stop waits 10s before SIGKILL: give it
# more than shutdown_timeout (docker run --stop-timeout 15; terminationGracePeriodSeconds on Kubernetes).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
