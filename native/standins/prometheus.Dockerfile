# Stand-in for prom/prometheus:v$PROMETHEUS_VERSION, shaped like its Dockerfile: busybox base,
# /bin/prometheus and /bin/promtool, /etc/prometheus/prometheus.yml, data in /prometheus (a volume,
# owned by nobody), user nobody, entrypoint /bin/prometheus. The binaries are the ones
# `npm run tools` built from the same release (static, as upstream's). Built by native/docker-engine.sh.
ARG BUSYBOX_IMAGE
FROM ${BUSYBOX_IMAGE}
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
WORKDIR /prometheus
RUN chown -R nobody:nobody /etc/prometheus /prometheus && chmod g+w /prometheus
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
