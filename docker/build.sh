#!/bin/sh
# Builds the seven images from docker/Dockerfile: ./docker/build.sh REGISTRY TAG
# (for example ./docker/build.sh ghcr.io/acme 0.1.0). Run from the repository root.
set -eu
registry=${1:?registry, e.g. ghcr.io/acme}
tag=${2:?tag, e.g. 0.1.0}
for service in gateway auth projects ingest incidents dashboard migrate; do
    docker build --file docker/Dockerfile --target "$service" --build-arg SERVICE="$service" \
        --build-arg VERSION="$tag" \
        --tag "$registry/stackline-$service:$tag" .
done
