# Stand-in for grafana/tempo:$TEMPO_VERSION, shaped like its cmd/tempo/Dockerfile: distroless (no
# shell, no tools), /tempo, the CA bundle, /etc/passwd and /etc/group with the tempo user (uid
# 10001), /var/tempo owned by 10001 with mode 0700, user 10001:10001, entrypoint /tempo. The binary
# is the one `npm run tools` built from the same release tag. Built by native/docker-engine.sh.
ARG BUSYBOX_IMAGE
FROM ${BUSYBOX_IMAGE} AS setup
# The tempo account upstream adds with busybox's addgroup/adduser (Debian's static busybox has none).
RUN echo 'tempo:x:10001:10001::/home/tempo:/bin/false' >>/etc/passwd && echo 'tempo:x:10001:tempo' >>/etc/group \
 && mkdir -p /rootfs/etc /rootfs/var/tempo /rootfs/tmp \
 && cp /etc/passwd /etc/group /etc/nsswitch.conf /rootfs/etc/ \
 && chmod 1777 /rootfs/tmp && chmod 0700 /rootfs/var/tempo

FROM scratch
COPY tempo /tempo
COPY --from=setup /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=setup /rootfs/etc/ /etc/
COPY --from=setup /rootfs/tmp /tmp
COPY --from=setup --chown=10001:10001 /rootfs/var/tempo /var/tempo
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 10001:10001
ENTRYPOINT ["/tempo"]
