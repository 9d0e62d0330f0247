# One image for every Tidemark service; docker-compose.yml picks the service with the command.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY bench ./bench
COPY bin ./bin
RUN npm run build && npm prune --omit=dev
ENV HOST=0.0.0.0
ENTRYPOINT ["node", "bin/tidemark.js"]
