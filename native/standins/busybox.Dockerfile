# Stand-in base for the busybox-based upstream images (prom/prometheus on quay.io/prometheus/busybox,
# grafana/k6 on Alpine): one static busybox with every applet linked into /bin (sh, wget, ...), the
# root/nobody accounts of a Buildroot skeleton, /tmp, the CA bundle. No package manager, no curl, no
# bash, as upstream. Built by native/docker-engine.sh; the context holds busybox (Debian's
# busybox-static) and ca-certificates.crt (this machine's bundle: registries are reached through its
# own CA).
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc/ssl/certs /root /home /tmp /usr/bin /var \
 && chmod 1777 /tmp && chmod 0700 /root \
 && printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' 'bin:x:2:2:bin:/bin:/bin/false' \
      'sys:x:3:3:sys:/dev:/bin/false' 'nobody:x:65534:65534:nobody:/home:/bin/false' >/etc/passwd \
 && printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'users:x:100:' 'nobody:x:65534:' >/etc/group \
 && printf '%s\n' 'hosts: files dns' >/etc/nsswitch.conf
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
