#!/bin/bash
# kafka-metadata-quorum.sh: as Kafka's script of that name.
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.MetadataQuorumCommand "$@"
