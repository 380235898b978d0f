# The service image: docker-compose.yml runs it next to MongoDB and Redis.
FROM node:20-slim

WORKDIR /app

# Dependencies first, so that a source-only change reuses this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY . .
# Build with the dev dependencies (TypeScript), then drop them from the image.
RUN npm run build && npm prune --omit=dev

# Uploads and other local state; the container runs as the unprivileged `node`.
RUN mkdir -p /data && chown node:node /data
VOLUME /data

ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data

USER node
EXPOSE 3000
CMD ["node", "dist/src/server.js"]
