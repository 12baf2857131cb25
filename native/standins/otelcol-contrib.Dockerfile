# Stand-in for otel/opentelemetry-collector-contrib:$OTELCOL_VERSION, shaped like the contrib
# distribution's Dockerfile: FROM scratch (no shell, no tools, no /etc/passwd), the CA bundle,
# /otelcol-contrib, a default /etc/otelcol-contrib/config.yaml, user 10001:10001, entrypoint
# /otelcol-contrib. The binary is the Collector `npm run tools` builds with the Collector Builder
# from the same release: the components of otel-collector/builder-config.yaml, a subset of contrib's.
# Built by native/docker-engine.sh.
ARG BUSYBOX_IMAGE
FROM ${BUSYBOX_IMAGE} AS certs

FROM scratch
USER 10001:10001
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY otelcol-contrib /otelcol-contrib
COPY config.yaml /etc/otelcol-contrib/config.yaml
ENTRYPOINT ["/otelcol-contrib"]
CMD ["--config", "/etc/otelcol-contrib/config.yaml"]
EXPOSE 4317 4318
