# The rayop operator image: multi-stage, distroless, non-root.
#
#   docker build -t rayop:0.1.0 .
#
# Stage 1 builds the release binary with cargo (the whole workspace is copied
# because Cargo needs every member's manifest; see .dockerignore). Stage 2 is
# distroless "cc" (glibc and libgcc, no shell, no package manager), matching
# the builder's Debian 12, and runs as uid/gid 65532 ("nonroot"), which the
# deploy manifests also require (runAsNonRoot, readOnlyRootFilesystem: rayop
# writes only its journal volume at /var/lib/rayop).
#
# This image cannot be built on the project's machines (no container
# runtime); the binary it builds is the one `cargo build --release` builds.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p rayop --bin rayop \
    && install -D -m 0755 target/release/rayop /out/rayop

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rayop /usr/local/bin/rayop
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rayop"]
CMD ["run"]
