# rld, rlctl and rlbench in a Debian 12 image. The build stage installs the build dependencies
# with packaging/deps.sh (as `make build` does) and builds with CMake and Ninja; the runtime
# stage has only the shared libraries rld links (`ldd rld`) and runs as an unprivileged user.
#   docker build -t rl .
#   docker run --rm -p 8000:8000 rl --config /etc/rld/rld.toml --listen 0.0.0.0:8000
# docker-compose.yml runs it behind HAProxy with Redis, as the tests run packaging/haproxy.

FROM debian:bookworm AS build
WORKDIR /src
# The dependency layer only changes with the script.
COPY packaging/deps.sh packaging/deps.sh
RUN packaging/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
# No .git in the build context (.dockerignore): --version reports revision "unknown".
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRL_WERROR=ON -DRL_BUILD_TESTS=OFF \
 && cmake --build build \
 && DESTDIR=/out cmake --install build --prefix /usr

FROM debian:bookworm-slim
# libuv, hiredis, toml++, OpenSSL's libcrypto, libsystemd (sd_notify; a no-op without systemd).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libuv1 libhiredis0.14 libtomlplusplus3 libssl3 libsystemd0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system rld \
 && useradd --system --gid rld --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin rld
COPY --from=build /out/usr/bin/rld /out/usr/bin/rlctl /out/usr/bin/rlbench /usr/bin/
# The demo tiers, users and keys; mount your own over /etc/rld.
COPY config/rate_limits.json /etc/rld/rate_limits.json
COPY config/rld.toml /etc/rld/rld.toml
# config/rld.toml finds its tier file next to it and listens on 127.0.0.1:8000 and
# /tmp/rld.sock: give a container's address with --listen, e.g. --listen 0.0.0.0:8000.
USER rld
EXPOSE 8000
# Liveness (GET /health answers 200) without curl in the image: bash's /dev/tcp. The port is
# RLD_HEALTH_PORT (default 8000), for an rld listening elsewhere (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${RLD_HEALTH_PORT:-8000} && printf 'GET /health HTTP/1.1\\r\\nHost: rld\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ $status == 'HTTP/1.1 200 '* ]]"]
# SIGTERM drains requests in flight (server.drain_timeout_ms) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/rld"]
CMD ["--config", "/etc/rld/rld.toml", "--listen", "0.0.0.0:8000"]
