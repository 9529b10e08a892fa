# syntax=docker/dockerfile:1
#
# CRM perimeter gateway image.
#
#   docker build -t crm-gateway .
#   docker run --rm -p 8080:8080 \
#     -v "$PWD/gateway.yaml:/etc/crm-gateway/gateway.yaml:ro" \
#     -v crm-gateway-decisions:/var/lib/crm-gateway \
#     crm-gateway
#
# The config is NOT in the image: mount it at /etc/crm-gateway/gateway.yaml (see
# docs/configuration.md and gateway.example.yaml). In a container it must say
#   listen:      { host: 0.0.0.0, port: 8080 }        # the default host 127.0.0.1 is unreachable from outside
#   gateway:     { instanceId: <stable name> }         # the default is the host name = the container id
#   policy:      { bundle: /app/dist/bundle.tar.gz }   # absolute: relative paths resolve against /etc/crm-gateway
#   decisionLog: { dir: /var/lib/crm-gateway/decisions }
# A config error exits with status 2 and a message naming the key.
#
# Stages:
#   opa     builds the pinned OPA CLI (the same version as scripts/ensure-opa.sh) with Go 1.26
#   deps    production node_modules only (npm ci --omit=dev)
#   policy  compiles policies/ into dist/bundle.tar.gz (opa build -t wasm with the deterministic
#           capabilities, scripts/build-policies.ts) after running the opa policy tests
#   runtime node:24-slim, non-root, production deps + sources + the bundle; no compiler, no OPA

ARG OPA_VERSION=v1.22.3

# ---- opa: the pinned OPA CLI ---------------------------------------------------------------------
# OPA v1.22.3's go.mod says `go 1.26.0`; GOTOOLCHAIN=local makes a too-old image fail loudly
# instead of downloading another toolchain. Static binary (CGO_ENABLED=0), so it runs on any libc.
FROM golang:1.26 AS opa
ARG OPA_VERSION
RUN mkdir -p /out \
 && GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN=/out \
      go install "github.com/open-policy-agent/opa@${OPA_VERSION}" \
 && /out/opa version

# ---- deps: production node_modules ---------------------------------------------------------------
# --omit=dev leaves out tap, typescript, oidc-provider and the `node` devDependency (a second
# Node binary for developer machines; the image has its own Node 24). --ignore-scripts: no
# production dependency needs an install script, so none runs.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- policy: the Wasm bundle ---------------------------------------------------------------------
# build-policies.ts needs tools/bin/opa and node_modules/@open-policy-agent/opa-wasm/
# capabilities.json (a production dependency, so the deps stage's node_modules suffice).
FROM node:24-slim AS policy
WORKDIR /app
COPY --from=opa /out/opa tools/bin/opa
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY scripts/ scripts/
COPY policies/ policies/
COPY test/policies/ test/policies/
# The policy tests gate the image: a failing Rego test fails the build.
RUN tools/bin/opa test policies test/policies \
 && node scripts/build-policies.ts \
 && test -s dist/bundle.tar.gz

# ---- runtime -------------------------------------------------------------------------------------
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Code and bundle are owned by root and read-only to the service user; only the decision-log
# volume is writable.
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY gateway/ gateway/
COPY adapters/ adapters/
COPY audit/ audit/
COPY --from=policy /app/dist/bundle.tar.gz dist/bundle.tar.gz
RUN mkdir -p /etc/crm-gateway /var/lib/crm-gateway/decisions \
 && chown -R node:node /var/lib/crm-gateway \
 && chmod 0750 /var/lib/crm-gateway
VOLUME ["/var/lib/crm-gateway"]

USER node
EXPOSE 8080

# /healthz answers 200 while the process serves (/readyz also checks issuers and the decision
# log; use that one for load-balancer readiness). Slim images have no curl: Node's fetch it is.
# Assumes listen.port 8080, a listen.host that includes loopback (0.0.0.0 does) and plain HTTP;
# with listen.tls, override HEALTHCHECK (or let the orchestrator probe /healthz over TLS).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node 24 runs TypeScript directly by type stripping: there is no compile step and no dist/ of
# JavaScript; the .ts sources above are what runs. gateway/main.ts handles SIGTERM (graceful
# close, decision log flushed), so node can be PID 1. `--demo` does not work in this image
# (its issuer needs devDependencies).
CMD ["node", "gateway/main.ts", "--config", "/etc/crm-gateway/gateway.yaml"]
