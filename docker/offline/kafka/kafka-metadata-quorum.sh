#!/usr/bin/env bash
# The official image's bin/kafka-metadata-quorum.sh, for the offline image
# (the harness asks it for the active KRaft controller).
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx128m} -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
  -cp '/opt/kafka/libs/*' org.apache.kafka.tools.MetadataQuorumCommand "$@"
