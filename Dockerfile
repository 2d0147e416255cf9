# syntax=docker/dockerfile:1
# Portcullis: build with the full toolchain, run with production dependencies only, as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs the "prepare" script, which compiles src/ to dist/.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORTCULLIS_CONFIG=/etc/portcullis/gateway.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.schema.json ./
# The demo config, so the image starts as is; mount your own over it:
#   docker run -v $PWD/gateway.yaml:/etc/portcullis/gateway.yaml:ro ...
COPY gateway.yaml /etc/portcullis/gateway.yaml
USER node
EXPOSE 8080 9901
# Liveness from the admin port named in the mounted config (GET /healthz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "dist/cli.js", "health"]
# node is PID 1 and handles SIGTERM itself: it stops accepting, drains in-flight requests
# (server.shutdown_timeout) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
