# Stand-in for grafana/k6:$K6_VERSION, shaped like its Dockerfile: a busybox userland (upstream's is
# Alpine), user k6 (uid 12345) with home /home/k6 as the working directory, /usr/bin/k6, entrypoint
# k6. The binary is the one `npm run tools` built from the same release. Built by native/docker-engine.sh.
ARG BUSYBOX_IMAGE
FROM ${BUSYBOX_IMAGE}
# What Alpine's `adduser -D -u 12345 k6` writes (Debian's static busybox has no adduser applet).
RUN echo 'k6:x:12345:12345::/home/k6:/bin/sh' >>/etc/passwd && echo 'k6:x:12345:' >>/etc/group \
 && mkdir -p /home/k6 && chown 12345:12345 /home/k6
COPY k6 /usr/bin/k6
USER 12345
WORKDIR /home/k6
ENTRYPOINT ["k6"]
