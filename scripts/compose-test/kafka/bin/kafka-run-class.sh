#!/bin/bash
# kafka-run-class.sh CLASS ARGS...: a Kafka class on the jars in
# /opt/kafka/libs, with the variables Kafka's own script reads: the heap
# (KAFKA_HEAP_OPTS, 256 MB by default), KAFKA_JVM_PERFORMANCE_OPTS,
# KAFKA_OPTS and KAFKA_LOG4J_OPTS (tools log warnings to stderr).
set -euo pipefail
base=/opt/kafka
heap=${KAFKA_HEAP_OPTS:--Xmx256M}
perf=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base/config/tools-log4j2.yaml}
# shellcheck disable=SC2086 # option lists are word-split, as in Kafka's script
exec java $heap $perf ${KAFKA_OPTS:-} $log4j -cp "$base/libs/*" "$@"
