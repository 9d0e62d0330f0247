# One image for every Tidemark service (docs/operations.md "Docker"): `tidemark service <name>` picks one.
#   docker build -t tidemark:latest .
# Node 22 LTS; the code also runs on Node ≥ 20.19 (package.json "engines").
ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: every dependency, compile, then drop the dev dependencies ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY apps ./apps
COPY libs ./libs
# bench/ is not copied: the runtime image has no benchmarks (run them from a checkout).
RUN npm run build \
 && rm -f dist/.tsbuildinfo \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error

# --- runtime: compiled code, production dependencies, a non-root user ---
FROM ${NODE_IMAGE} AS runtime
# NODE_OPTIONS and the ENTRYPOINT's --single-threaded (which Node refuses in NODE_OPTIONS): the V8 flags the
# services are measured with (apps/cli/src/services.ts SERVICE_NODE_OPTIONS, SERVICE_COMMAND_FLAGS)
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    NODE_OPTIONS=--max-semi-space-size=32
RUN groupadd --gid 10001 tidemark \
 && useradd --uid 10001 --gid tidemark --no-create-home --shell /usr/sbin/nologin tidemark
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/apps ./dist/apps
COPY --from=build /app/dist/libs ./dist/libs
COPY apps/dashboard/public ./apps/dashboard/public
COPY data/samples ./data/samples
COPY bin ./bin
# Numeric, so that Kubernetes' runAsNonRoot can check it (deploy/k8s runs as 10001 too).
USER 10001:10001
# ingestion HTTP and TCP, aggregation, recommendation, alerting, dedup, dashboard
EXPOSE 8080 9000 8081 8082 8083 8084 8090
ENTRYPOINT ["node", "--single-threaded", "bin/tidemark.js"]
CMD ["help"]
