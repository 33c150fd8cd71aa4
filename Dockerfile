FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY core core
COPY producer producer
COPY workers workers
COPY monitor monitor
COPY api api
COPY bin bin
COPY examples examples
COPY bench bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json package.json
COPY data data
USER node
# The monitor's HTTP port (Bull Board, /metrics, APIs): `monitor --port=9464 --host=0.0.0.0`.
EXPOSE 9464
ENTRYPOINT ["node", "dist/bin/lnm-backfill.js"]
CMD ["--help"]
